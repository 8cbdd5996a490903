"""VM extensions, and the legacy managed-identity extension's token endpoint port.

With `ManagedIdentityExtensionForLinux`/`…ForWindows` (publisher `Microsoft.ManagedIdentity`) installed,
a VM also serves the extension's endpoint (`/vms/{vmKey}/extension/oauth2/token`); its `settings.port`
is recorded on the VM's identity endpoint, and cleared when the extension goes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from arm_sim.core import ids
from arm_sim.core.errors import bad_request
from arm_sim.db.models import Resource
from arm_sim.domain import identity_endpoints
from arm_sim.domain.context import Ctx
from arm_sim.providers.base import Doc
from arm_sim.providers.compute_vm import VM

EXTENSION = VM + "/extensions"
IDENTITY_PUBLISHER = "microsoft.managedidentity"
IDENTITY_TYPES = ("managedidentityextensionforlinux", "managedidentityextensionforwindows")
DEFAULT_PORT = 50342  # the extension's documented default
SIMULATED_RUN = "Enable succeeded (simulated by arm-sim: no guest agent ran the extension, so it has no output)."


def is_identity_extension(props: dict[str, Any]) -> bool:
    return (str(props.get("publisher", "")).lower() == IDENTITY_PUBLISHER
            and str(props.get("type", "")).lower() in IDENTITY_TYPES)


def port_of(props: dict[str, Any]) -> int:
    settings = props.get("settings")
    raw = settings.get("port", DEFAULT_PORT) if isinstance(settings, dict) else DEFAULT_PORT
    try:
        port = int(raw)  # templates often pass numbers as strings
    except (TypeError, ValueError):
        port = 0
    if isinstance(raw, bool) or not 1 <= port <= 65535:
        raise bad_request("InvalidParameter",
                          f"The value '{raw}' of the extension setting 'port' is invalid. It must be an integer "
                          "between 1 and 65535.", target="settings.port")
    return port


def validate(ctx: Ctx, path: ids.ArmPath, doc: Doc, before: Doc | None) -> None:
    props: dict[str, Any] = doc.setdefault("properties", {})
    for field in ("publisher", "type"):
        if not isinstance(props.get(field), str) or not props[field]:
            raise bad_request("InvalidParameter", f"Required parameter '{field}' is missing (null).",
                              target=field)
    for field in ("settings", "protectedSettings"):
        if props.get(field) is not None and not isinstance(props[field], dict | str):
            raise bad_request("InvalidParameter", f"The extension property '{field}' must be an object.",
                              target=field)
    if is_identity_extension(props):
        port_of(props)
    props.pop("instanceView", None)  # read-only
    if not doc.get("location"):  # Azure shows the VM's location on its extensions
        vm = ctx.session.get(Resource, ids.key(path.parent_id))
        if vm is not None and vm.location:
            doc["location"] = vm.location


def rows(ctx: Ctx, vm_id: str) -> list[Resource]:
    """The VM's extensions, oldest first."""
    return list(ctx.session.scalars(select(Resource).where(
        Resource.parent_key == ids.key(vm_id), Resource.type_key == EXTENSION).order_by(Resource.created_at)))


def sync_port(ctx: Ctx, vm_id: str, leaving: str | None = None) -> None:
    """Record the port of the VM's managed-identity extension, or None when it has none (any more)."""
    port = None
    for row in rows(ctx, vm_id):
        if row.key != leaving and is_identity_extension(row.properties or {}):
            port = port_of(row.properties)
            break
    identity_endpoints.set_extension_port(ctx, vm_id, port)


def vm_of(extension_id: str) -> str:
    path = ids.parse(extension_id)
    return path.parent_id


def on_put(ctx: Ctx, after: Doc) -> None:
    sync_port(ctx, vm_of(after["id"]))


def on_delete(ctx: Ctx, doc: Doc) -> None:
    sync_port(ctx, vm_of(doc["id"]), leaving=ids.key(doc["id"]))


def render(doc: Doc) -> Doc:
    props = {k: v for k, v in (doc.get("properties") or {}).items() if k != "protectedSettings"}  # secret
    # Once the extension has run, Azure shows its status in the model too; templates read it through
    # `reference(extension).instanceView.statuses[0]`
    if props.get("provisioningState") == "Succeeded":
        props["instanceView"] = instance_view(doc["name"], props)
    return dict(doc, properties=props)


def instance_view(name: str, props: dict[str, Any]) -> dict[str, Any]:
    """`VirtualMachineExtensionInstanceView`: no guest agent runs here, so the status says the run was simulated
    (and carries no script output: nothing ran)."""
    view: dict[str, Any] = {"name": name, "type": f"{props.get('publisher')}.{props.get('type')}"}
    if props.get("typeHandlerVersion"):
        view["typeHandlerVersion"] = props["typeHandlerVersion"]
    view["statuses"] = [{"code": "ProvisioningState/succeeded", "level": "Info",
                         "displayStatus": "Provisioning succeeded", "message": SIMULATED_RUN}]
    return view


def instance_views(ctx: Ctx, vm_id: str) -> list[dict[str, Any]]:
    """The `extensions` entries of the VM's instance view."""
    return [instance_view(row.name, row.properties or {}) for row in rows(ctx, vm_id)]
