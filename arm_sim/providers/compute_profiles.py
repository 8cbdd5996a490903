"""What Compute's resource provider requires of a VM before it accepts it: a size offered in the VM's location,
a storage profile to boot from, an OS profile when it boots from an image, and a network profile whose
network interfaces exist in the same region. Errors in CRP's own shape (`InvalidParameter` with a target)."""

from __future__ import annotations

from typing import Any

from arm_sim.core import ids
from arm_sim.core.errors import DomainError, bad_request
from arm_sim.db.models import Resource
from arm_sim.domain.context import Ctx
from arm_sim.providers.base import Doc

NIC = "microsoft.network/networkinterfaces"


def _offered_sizes(location: str) -> frozenset[str] | None:
    return None  # Azure's published size list per region arrives with the provider catalogue data


def _missing(name: str) -> DomainError:
    return bad_request("InvalidParameter", f"Required parameter '{name}' is missing (null).", target=name)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def check_size(props: dict[str, Any], location: str | None) -> None:
    size = _dict(props.get("hardwareProfile")).get("vmSize")
    if not size:
        raise _missing("vmSize")
    offered = _offered_sizes(location or "")
    if offered is not None and str(size) not in offered:
        raise bad_request("InvalidParameter", f"The value {size} provided for the VM size is not valid. The valid "
                                              f"sizes in the current region are: {','.join(sorted(offered))}.",
                          target="vmSize")


def check_storage_and_os(props: dict[str, Any]) -> None:
    storage = props.get("storageProfile")
    if not isinstance(storage, dict):
        raise _missing("storageProfile")
    os_disk = _dict(storage.get("osDisk"))
    attached = str(os_disk.get("createOption", "")).lower() == "attach"
    if not storage.get("imageReference") and not attached:
        raise _missing("imageReference")
    if not attached and not isinstance(props.get("osProfile"), dict):
        raise _missing("osProfile")


def check_network(ctx: Ctx, vm_id: str, props: dict[str, Any], location: str | None) -> None:
    network = props.get("networkProfile")
    if not isinstance(network, dict):
        raise _missing("networkProfile")
    nics = network.get("networkInterfaces") or []
    if not nics and not network.get("networkInterfaceConfigurations"):  # the latter: NICs CRP creates itself
        raise _missing("networkInterfaces")
    for nic in nics if isinstance(nics, list) else []:
        nic_id = _dict(nic).get("id")
        if not isinstance(nic_id, str) or not nic_id:
            raise _missing("networkInterfaces.id")
        row = ctx.session.get(Resource, ids.key(nic_id))
        if row is None or row.type_key != NIC or (location and row.location and row.location != location):
            raise bad_request("InvalidResourceReference",
                              f"Resource {nic_id} referenced by resource {vm_id} was not found. Please make sure "
                              "that the referenced resource exists, and that both resources are in the same "
                              "region.")


def check_vm(ctx: Ctx, path: ids.ArmPath, doc: Doc) -> None:
    props = _dict(doc.get("properties"))
    location = doc.get("location")
    check_size(props, location)
    check_storage_and_os(props)
    check_network(ctx, path.id, props, location)
