"""Virtual machines and scale sets: names, read-only properties, the VM's identity endpoint, the shown shape.

A VM keeps its `vmId` (and a scale set its `uniqueId`) for life: generated at creation, kept on every
update, new when the same name is created again. Every VM gets an identity endpoint (its IMDS), registered with
the VM and removed with it in the same transaction. The endpoint is keyed by a secret of its own, not by the
public `vmId`: reading a VM must not open its IMDS.
"""

from __future__ import annotations

import uuid
from typing import Any

from arm_sim.core.errors import bad_request
from arm_sim.domain import identity_endpoints
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx
from arm_sim.providers import compute_defaults
from arm_sim.providers.base import Doc

VM = "microsoft.compute/virtualmachines"
VMSS = "microsoft.compute/virtualmachinescalesets"
SIM_STATE = "_sim"  # the simulator's own per-resource state (resources.documents.SIM_STATE); never rendered

# read-only properties the service sets; a client echoing them back (GET, edit, PUT) cannot change them
_READ_ONLY = {VM: ("vmId", "timeCreated", "instanceView"), VMSS: ("uniqueId", "timeCreated")}
_UNIQUE_ID = {VM: "vmId", VMSS: "uniqueId"}
_TIME_CREATED_SINCE = "2021-11-01"  # the api-version that added `timeCreated`
# the api-version from which a scale set without a security profile is answered with the default one (recorded:
# the same scale set read with 2024-11-01 has none, with 2025-11-01 `{"securityType": "Standard"}`)
_SECURITY_TYPE_SHOWN_SINCE = "2025-11-01"


def check_name(kind: str, name: str) -> None:
    """The resource name: 1-64 characters (the stricter host-name rules apply to osProfile.computerName)."""
    if not 1 <= len(name) <= 64:
        what = "virtual machine" if kind == VM else "virtual machine scale set"
        raise bad_request("InvalidResourceName",
                          f"The resource name '{name}' is invalid. A {what} name is 1 to 64 characters long.",
                          target="name")


def validate(kind: str, doc: Doc, before: Doc | None) -> None:
    old = (before or {}).get("properties") or {}
    # read before touching `doc`: on PATCH, `doc` and `before` may share the same properties dict
    kept = {f: old[f] for f in _READ_ONLY[kind] if f in old and f != "instanceView"}
    props: dict[str, Any] = doc.setdefault("properties", {})
    for field in _READ_ONLY[kind]:
        props.pop(field, None)
    props.update(kept)
    if kind == VMSS and isinstance(doc.get("sku"), dict):
        doc["sku"].setdefault("tier", "Standard")  # what CRP answers when the request names only the size
    if kind == VM:
        os_profile = props.get("osProfile")
        if isinstance(os_profile, dict):
            os_profile.pop("adminPassword", None)  # write-only in Azure; never needed again, so never kept


def on_put(ctx: Ctx, kind: str, before: Doc | None, after: Doc) -> None:
    props = after["properties"]
    if kind == VM:
        compute_defaults.vm(after["id"], after["name"], props)
    else:
        compute_defaults.scale_set(props, props.get("timeCreated") or iso(ctx.now))
    field = _UNIQUE_ID[kind]
    if not props.get(field):
        props[field] = str(uuid.uuid4())
    props.setdefault("timeCreated", iso(ctx.now))
    if kind == VM:
        state = after.setdefault(SIM_STATE, {})
        state.setdefault("powerState", "running")  # a new VM starts; an update keeps its power state
        identity_endpoints.register_vm(ctx, after["id"])


def on_delete(ctx: Ctx, kind: str, doc: Doc) -> None:
    if kind == VM:
        identity_endpoints.unregister(ctx, doc["id"])


def render(kind: str, doc: Doc, api_version: str) -> Doc:
    props = dict(doc.get("properties") or {})
    if api_version < _TIME_CREATED_SINCE:
        props.pop("timeCreated", None)
    props.pop("userData", None)  # shown only with $expand=userData
    profile = props.get("virtualMachineProfile")
    if (kind == VMSS and api_version >= _SECURITY_TYPE_SHOWN_SINCE and isinstance(profile, dict)
            and "securityProfile" not in profile):
        props["virtualMachineProfile"] = {**profile, "securityProfile": {"securityType": "Standard"}}
    # customData is given to the machine, never answered (CRP's rule; the specs do not mark it secure)
    os_profile = props.get("osProfile")
    if isinstance(os_profile, dict) and "customData" in os_profile:
        props["osProfile"] = {k: v for k, v in os_profile.items() if k != "customData"}
    profile = props.get("virtualMachineProfile")
    vm_os = profile.get("osProfile") if isinstance(profile, dict) else None
    if isinstance(profile, dict) and isinstance(vm_os, dict) and "customData" in vm_os:
        props["virtualMachineProfile"] = {**profile, "osProfile": {k: v for k, v in vm_os.items()
                                                                   if k != "customData"}}
    return dict(doc, properties=props)
