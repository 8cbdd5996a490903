"""Fixtures the user registers for things arm-sim never runs: a deployment script's outputs, by script name.

Stored in `sim_settings` so every arm-sim process sharing the database sees them. The key is the script name
(case-insensitive, as ARM names are); names too long for the key column are keyed by a hash.
"""

from __future__ import annotations

import hashlib
from typing import Any

from arm_sim.core.errors import bad_request
from arm_sim.db.models import SimSetting
from arm_sim.domain import events
from arm_sim.domain.context import Ctx

SCRIPT_OUTPUTS = "deploymentScripts.outputs."
_KEY_LENGTH = 64  # sim_settings.key is a String(64)


def _key(name: str) -> str:
    key = SCRIPT_OUTPUTS + name.lower()
    if len(key) <= _KEY_LENGTH:
        return key
    return SCRIPT_OUTPUTS + "sha256:" + hashlib.sha256(name.lower().encode()).hexdigest()[:_KEY_LENGTH - 33]


def set_script_outputs(ctx: Ctx, name: str, outputs: Any) -> dict[str, Any]:
    """Register what the deployment script `name` "outputs" (a JSON object, like $AZ_SCRIPTS_OUTPUT_PATH)."""
    if not isinstance(name, str) or not name:
        raise bad_request("InvalidRequestContent", "Give the deployment script's name.")
    if not isinstance(outputs, dict):
        raise bad_request("DeploymentScriptInvalidOutputs",
                          "The deployment script outputs must be a JSON object, e.g. {\"result\": \"ok\"}.")
    row = ctx.session.get(SimSetting, _key(name))
    value = {"name": name, "outputs": outputs}
    if row is None:
        ctx.session.add(SimSetting(key=_key(name), value=value))
    else:
        row.value = value
    events.record(ctx, "fixture.scriptOutputs", f"/_sim/deploymentScripts/{name}/outputs", name=name,
                  outputNames=sorted(outputs))
    return dict(outputs)


def script_outputs(ctx: Ctx, name: str) -> dict[str, Any]:
    """What the script `name` outputs: the registered fixture, or `{}`."""
    row = ctx.session.get(SimSetting, _key(name))
    if row is None or not isinstance(row.value, dict):
        return {}
    outputs = row.value.get("outputs")
    return dict(outputs) if isinstance(outputs, dict) else {}


def clear_script_outputs(ctx: Ctx, name: str) -> bool:
    row = ctx.session.get(SimSetting, _key(name))
    if row is None:
        return False
    ctx.session.delete(row)
    ctx.session.flush()
    events.record(ctx, "fixture.scriptOutputsCleared", f"/_sim/deploymentScripts/{name}/outputs", name=name)
    return True
