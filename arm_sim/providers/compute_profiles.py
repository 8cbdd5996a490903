"""What Compute's resource provider requires of a VM before it accepts it: a size offered in the VM's location,
a storage profile to boot from, an OS profile when it boots from an image, and a network profile whose
network interfaces exist in the same region. Errors in CRP's own shape (`InvalidParameter` with a target)."""

from __future__ import annotations

import functools
import re
from typing import Any

from arm_sim.core import ids
from arm_sim.core.errors import DomainError, bad_request
from arm_sim.db.models import Resource
from arm_sim.domain.context import Ctx
from arm_sim.providers import provider_data
from arm_sim.providers.base import Doc

NIC = "microsoft.network/networkinterfaces"
# `Standard_D2s_v6`: tier, family letters, then the size's own digits, features and version
_SIZE = re.compile(r"^(standard|basic)_([a-z]+)[0-9]+[a-z0-9_-]*$")


def _family(size: str) -> tuple[str, str] | None:
    match = _SIZE.match(size.lower())  # CRP compares sizes without regard to case
    return (match.group(1), match.group(2)) if match else None


def _offered(size: str, location: str) -> tuple[bool, frozenset[str] | None]:
    """Whether `size` is offered in `location`, and the sizes known there. Azure's list (providers/data) is a
    snapshot: a well-formed name of a family it knows (a newer version, `_v6`) is not refused for lack of data."""
    known = provider_data.vm_sizes(location)
    if known is None or size.lower() in _lowered(known):
        return True, known
    family = _family(size)
    return family is not None and family in _families(known), known


@functools.cache  # one list per region, asked on every VM write
def _lowered(known: frozenset[str]) -> frozenset[str]:
    return frozenset(s.lower() for s in known)


@functools.cache
def _families(known: frozenset[str]) -> frozenset[tuple[str, str] | None]:
    return frozenset(_family(s) for s in known)


def _missing(name: str) -> DomainError:
    return bad_request("InvalidParameter", f"Required parameter '{name}' is missing (null).", target=name)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def check_size(props: dict[str, Any], location: str | None) -> None:
    size = _dict(props.get("hardwareProfile")).get("vmSize")
    if not size:
        raise _missing("vmSize")
    ok, known = _offered(str(size), location or "")
    if not ok:
        raise bad_request("InvalidParameter", f"The value {size} provided for the VM size is not valid. The valid "
                                              f"sizes in the current region are: {','.join(sorted(known or ()))}.",
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


def check_network(ctx: Ctx, vm_id: str, props: dict[str, Any], location: str | None,
                  declared: frozenset[str] = frozenset()) -> None:
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
        if ids.key(nic_id) in declared:  # made by the same template before the VM
            continue
        row = ctx.session.get(Resource, ids.key(nic_id))
        if row is None or row.type_key != NIC or (location and row.location and row.location != location):
            raise bad_request("InvalidResourceReference",
                              f"Resource {nic_id} referenced by resource {vm_id} was not found. Please make sure "
                              "that the referenced resource exists, and that both resources are in the same "
                              "region.")


def check_vm(ctx: Ctx, path: ids.ArmPath, doc: Doc, declared: frozenset[str] = frozenset()) -> None:
    props = _dict(doc.get("properties"))
    location = doc.get("location")
    check_size(props, location)
    check_storage_and_os(props)
    check_network(ctx, path.id, props, location, declared)
