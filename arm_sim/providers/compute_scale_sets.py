"""A scale set's instance actions: `manualupgrade` (az vmss update-instances), which brings the named instances up
to the scale set's current model. arm-sim keeps no instances of their own: a Uniform scale set of capacity N has
the instances "0" … "N-1" (Azure numbers a new Uniform scale set's instances that way), and an upgrade of them is
recorded as an event and answered as Azure answers it, a long-running operation with no body.
"""

from __future__ import annotations

from typing import Any

from arm_sim.core.errors import bad_request
from arm_sim.domain import events
from arm_sim.domain.context import Ctx
from arm_sim.providers.base import ActionResult, Doc


def _instance_ids(doc: Doc) -> list[str]:
    sku = doc.get("sku")
    capacity = sku.get("capacity") if isinstance(sku, dict) else None
    return [str(i) for i in range(capacity)] if isinstance(capacity, int) and capacity > 0 else []


def manual_upgrade(ctx: Ctx, doc: Doc, body: Any) -> ActionResult:
    """POST {scale set}/manualupgrade {"instanceIds": [...]} (VirtualMachineScaleSetVMInstanceRequiredIDs)."""
    ids = body.get("instanceIds") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise bad_request("InvalidParameter", "Required parameter 'instanceIds' is missing (null).",
                          target="instanceIds")
    known = _instance_ids(doc)
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise bad_request("InvalidParameter", f"The instance id(s) {', '.join(unknown)} of the virtual machine scale "
                          f"set '{doc['name']}' are not valid.", target="instanceIds")
    events.record(ctx, "virtualMachineScaleSet.instancesUpgraded", doc["id"], instanceIds=ids)
    return ActionResult(status=200, body=None, long_running=True)
