"""A VM's power state (start, powerOff, deallocate, restart) and the instance view that shows it.

The power state is simulator state (`_sim.powerState`): Azure keeps it out of the VM model and shows
it only in the instance view, so an action changes neither the model nor its etag.
"""

from __future__ import annotations

from typing import Any

from arm_sim.core.errors import DomainError
from arm_sim.domain import events
from arm_sim.domain.context import Ctx
from arm_sim.providers.base import ActionResult, Doc
from arm_sim.providers.compute_extensions import instance_views
from arm_sim.providers.compute_vm import SIM_STATE

# action (lower-case, as ARM matches path segments) -> (Azure's spelling, resulting power state)
ACTIONS = {"start": ("start", "running"), "poweroff": ("powerOff", "stopped"),
           "deallocate": ("deallocate", "deallocated"), "restart": ("restart", "running")}
_DISPLAY = {"running": "VM running", "stopped": "VM stopped", "deallocated": "VM deallocated"}


def power_state(doc: Doc) -> str:
    return str((doc.get(SIM_STATE) or {}).get("powerState") or "running")


def act(ctx: Ctx, doc: Doc, action: str) -> ActionResult | None:
    """Run a power action; None when `action` is not one (the caller refuses it)."""
    if action.lower() not in ACTIONS:
        return None
    name, target = ACTIONS[action.lower()]
    current = power_state(doc)
    if name == "restart" and current != "running":
        raise DomainError(409, "OperationNotAllowed",
                          "The operation requires the VM to be running (or set to run).")
    doc[SIM_STATE] = dict(doc.get(SIM_STATE) or {}, powerState=target)  # ResourceService.action saves it
    events.record(ctx, "virtualMachine.powerStateChanged", doc["id"], action=name, fromState=current,
                  toState=target)
    return ActionResult(status=200, body=None, long_running=True)


def _object(value: Any) -> dict[str, Any]:
    """Client-written properties may hold anything; read only what has Azure's shape."""
    return value if isinstance(value, dict) else {}


def _disk(disk: Any, when: str | None) -> dict[str, Any] | None:
    if not isinstance(disk, dict) or not disk.get("name"):
        return None
    status: dict[str, Any] = {"code": "ProvisioningState/succeeded", "level": "Info",
                              "displayStatus": "Provisioning succeeded"}
    if when:
        status["time"] = when
    return {"name": disk["name"], "statuses": [status]}


def instance_view(ctx: Ctx, doc: Doc) -> dict[str, Any]:
    """`VirtualMachineInstanceView`: what `$expand=instanceView` and GET `{vm}/instanceView` show."""
    props = doc.get("properties") or {}
    when = (doc.get("systemData") or {}).get("lastModifiedAt")
    view: dict[str, Any] = {}
    computer = _object(props.get("osProfile")).get("computerName")
    if isinstance(computer, str) and computer:
        view["computerName"] = computer
    storage = _object(props.get("storageProfile"))
    listed = storage.get("dataDisks")
    data_disks = listed if isinstance(listed, list) else []
    disks = [_disk(d, when) for d in [storage.get("osDisk"), *data_disks]]
    if any(disks):
        view["disks"] = [d for d in disks if d]
    extensions = instance_views(ctx, doc["id"])
    if extensions:
        view["extensions"] = extensions
    provisioning: dict[str, Any] = {"code": "ProvisioningState/succeeded", "level": "Info",
                                    "displayStatus": "Provisioning succeeded"}
    if when:
        provisioning["time"] = when
    state = power_state(doc)
    view["statuses"] = [provisioning, {"code": f"PowerState/{state}", "level": "Info",
                                       "displayStatus": _DISPLAY.get(state, f"VM {state}")}]
    return view
