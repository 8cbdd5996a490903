"""`Microsoft.Resources/deploymentScripts`: never executed; they succeed at once with the outputs the user
registered for the script's name (`arm_sim.domain.fixtures`, default `{}`).

Like Azure, a script "runs" when it is created and again only when its definition changes (a new
`forceUpdateTag`, new content or arguments …); re-deploying it unchanged keeps its outputs and status. Its
identity block is the shared reconciler's, as for every type. Only this type of Microsoft.Resources is handled
here: resource groups and deployments belong to others.
"""

from __future__ import annotations

import re
from typing import Any

from arm_sim.core import ids
from arm_sim.core.errors import bad_request
from arm_sim.db.models import Resource
from arm_sim.domain import fixtures
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx
from arm_sim.providers.base import Doc
from arm_sim.providers.computed import TypedProvider, kind_of, props, sim_state

SCRIPT = "microsoft.resources/deploymentscripts"
LOGS = SCRIPT + "/logs"
KINDS = {"azurepowershell": "AzurePowerShell", "azurecli": "AzureCLI"}
_COMPUTED = ("provisioningState", "status", "outputs")
_DEFAULTS = {"cleanupPreference": "Always", "timeout": "P1D"}
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$", re.IGNORECASE)


def _seconds(duration: Any) -> float | None:
    """ISO 8601 `PnDTnHnMnS` (retentionInterval, timeout); None when absent or not of that form."""
    m = _DURATION.match(duration) if isinstance(duration, str) else None
    if m is None or duration.upper() in ("P", "PT"):
        return None
    d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    return float(((d * 24 + h) * 60 + mi) * 60 + s)


def _definition(doc: Doc | None) -> dict[str, Any]:
    """What the user defined, defaults filled in (a change of any of it re-runs the script)."""
    p = dict(_DEFAULTS, **(((doc or {}).get("properties")) or {}))
    for field in _COMPUTED:
        p.pop(field, None)
    return {"kind": (doc or {}).get("kind"), "properties": p}


class DeploymentScriptsProvider(TypedProvider):
    namespace = "Microsoft.Resources"
    types = frozenset({SCRIPT})
    views = frozenset({LOGS})

    def validate(self, ctx: Ctx, path: ids.ArmPath, doc: Doc, before: Doc | None) -> None:
        if path.resource_type.lower() != SCRIPT:
            return
        kind = doc.get("kind")
        if not isinstance(kind, str) or kind.lower() not in KINDS:
            raise bad_request("InvalidRequestContent",
                              f"The deployment script kind '{kind}' is not supported: use 'AzurePowerShell' or "
                              "'AzureCLI'.", target="kind")
        doc["kind"] = KINDS[kind.lower()]
        if not doc.get("location"):  # Microsoft.Resources is location-less for the service; scripts are tracked
            raise bad_request("LocationRequired", "The location property is required for this definition.")
        retention = props(doc).get("retentionInterval")
        if retention is not None and _seconds(retention) is None:
            raise bad_request("InvalidRequestContent",
                              f"The retentionInterval '{retention}' is not an ISO 8601 duration such as 'P1D' or "
                              "'PT26H'.", target="properties.retentionInterval")

    def on_put(self, ctx: Ctx, before: Doc | None, after: Doc) -> None:
        if kind_of(after) != SCRIPT:
            return
        p, state = props(after), sim_state(after)
        for field, value in _DEFAULTS.items():
            p.setdefault(field, value)
        old = (before or {}).get("properties") or {}
        if before is not None and _definition(before) == _definition(after) and "status" in old:
            p.update(status=old["status"], outputs=old.get("outputs", {}))  # unchanged: the script does not re-run
            return
        state["runs"] = int(state.get("runs", 0)) + 1
        status: dict[str, Any] = {"startTime": iso(ctx.now), "endTime": iso(ctx.now)}
        retention = _seconds(p.get("retentionInterval"))
        if retention is not None:
            status["expirationTime"] = iso(ctx.now + retention)
        p.update(status=status, outputs=fixtures.script_outputs(ctx, after["name"]))

    # --- `{script}/logs` and `{script}/logs/default`: nothing ran, so the log is empty ---------------------------
    def view(self, ctx: Ctx, doc: Doc, view: str, api_version: str) -> Doc:
        if kind_of(doc) == SCRIPT and view.lower() == "logs":
            return {"value": [self._log(doc["id"])]}
        return super().view(ctx, doc, view, api_version)

    def virtual_get(self, ctx: Ctx, path: ids.ArmPath) -> Doc | None:
        if path.resource_type.lower() != LOGS or path.is_collection or path.name.lower() != "default":
            return None
        if ctx.session.get(Resource, ids.key(path.parent_id)) is None:
            return None
        return self._log(path.parent_id)

    @staticmethod
    def _log(script_id: str) -> Doc:
        return {"id": f"{script_id}/logs/default", "name": "default",
                "type": "Microsoft.Resources/deploymentScripts/logs", "properties": {"log": ""}}
