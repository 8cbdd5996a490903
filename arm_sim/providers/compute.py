"""Microsoft.Compute: virtual machines (with the identity endpoint they host), extensions, scale sets.

The identity block itself is the shared reconciler's (resources/identity.py); this provider adds what
is Compute's own: long-running writes, `vmId`, power actions and the instance view, and the legacy
managed-identity extension. Other Compute types (disks, images …) are stored as written.
"""

from __future__ import annotations

from typing import Any

from arm_sim.core import ids
from arm_sim.core.errors import bad_request, not_implemented
from arm_sim.core.identity_types import BOTH_WITH_SPACE
from arm_sim.domain.context import Ctx
from arm_sim.providers import (
    compute_extensions,
    compute_images,
    compute_power,
    compute_profiles,
    compute_scale_sets,
    compute_vm,
)
from arm_sim.providers.base import ActionResult, Doc, Provider
from arm_sim.providers.compute_extensions import EXTENSION
from arm_sim.providers.compute_vm import VM, VMSS

_EXPAND_VALUES = "'instanceView', 'userData' and 'resiliencyView'"


class ComputeProvider(Provider):
    namespace = "Microsoft.Compute"
    system_data = False  # Azure's answers have none (recorded: az vm/vmss identity, 2024-11-01)
    identity_both = BOTH_WITH_SPACE
    # PUT/DELETE of these are long-running in Azure (201 + Azure-AsyncOperation, 202)
    async_types = frozenset({"virtualmachines", "virtualmachines/extensions", "virtualmachinescalesets"})
    # GET `{resource}/{view}`: computed from the resource, not a child collection
    views = frozenset({VM + "/instanceview"})

    def validate(self, ctx: Ctx, path: ids.ArmPath, doc: Doc, before: Doc | None) -> None:
        kind = path.resource_type.lower()
        if kind in (VM, VMSS):
            compute_vm.check_name(kind, path.name)
            compute_vm.validate(kind, doc, before)
        if kind == VM:
            compute_profiles.check_vm(ctx, path, doc)
        elif kind == EXTENSION:
            compute_extensions.validate(ctx, path, doc, before)

    def preflight(self, ctx: Ctx, path: ids.ArmPath, doc: Doc, declared: frozenset[str]) -> None:
        if path.resource_type.lower() == VM:
            compute_profiles.check_vm(ctx, path, doc, declared)

    def on_put(self, ctx: Ctx, before: Doc | None, after: Doc) -> None:
        kind = after["type"].lower()
        if kind in (VM, VMSS):
            compute_vm.on_put(ctx, kind, before, after)
        elif kind == EXTENSION:
            compute_extensions.on_put(ctx, after)

    def on_delete(self, ctx: Ctx, doc: Doc) -> None:
        # A VM's extensions go first (the service deletes children first), then the VM; the shared
        # reconciler deletes its system-assigned principal.
        kind = doc["type"].lower()
        if kind in (VM, VMSS):
            compute_vm.on_delete(ctx, kind, doc)
        elif kind == EXTENSION:
            compute_extensions.on_delete(ctx, doc)

    def render(self, ctx: Ctx, doc: Doc, api_version: str) -> Doc:
        kind = doc["type"].lower()
        if kind in (VM, VMSS):
            return compute_vm.render(kind, doc, api_version)
        if kind == EXTENSION:
            return compute_extensions.render(doc)
        return doc

    def action(self, ctx: Ctx, doc: Doc, action: str, body: Any, api_version: str,
               query: dict[str, str] | None = None) -> ActionResult:
        if doc["type"].lower() == VM:
            result = compute_power.act(ctx, doc, action)
            if result is not None:
                return result
        if doc["type"].lower() == VMSS and action.lower() == "manualupgrade":
            return compute_scale_sets.manual_upgrade(ctx, doc, body)
        return super().action(ctx, doc, action, body, api_version)

    def expand(self, ctx: Ctx, doc: Doc, shown: Doc, expand: str, api_version: str) -> Doc:
        """GET with `$expand`: `shown` (the rendered `doc`) with the asked-for read-only parts added."""
        kind = doc["type"].lower()
        wanted = expand.strip().lower()
        if kind == VM:
            props = dict(shown.get("properties") or {})
            if wanted == "instanceview":
                props["instanceView"] = compute_power.instance_view(ctx, doc)
            elif wanted == "userdata":
                if (doc.get("properties") or {}).get("userData") is not None:
                    props["userData"] = doc["properties"]["userData"]
            elif wanted == "resiliencyview":
                raise not_implemented("the VM resiliency view ($expand=resiliencyView)")
            else:
                raise bad_request("InvalidParameter", f"The value '{expand}' of parameter '$expand' is invalid. "
                                  f"Allowed values are {_EXPAND_VALUES}.", target="$expand")
            return dict(shown, properties=props)
        if kind == EXTENSION and wanted == "instanceview":
            props = dict(shown.get("properties") or {})
            props["instanceView"] = compute_extensions.instance_view(doc["name"], doc.get("properties") or {})
            return dict(shown, properties=props)
        return shown

    def provider_call(self, ctx: Ctx, method: str, subscription_id: str, segments: tuple[str, ...], body: Any,
                      api_version: str) -> tuple[int, Any] | ActionResult | None:
        """The Marketplace image catalogue under `locations/{loc}/publishers`."""
        return compute_images.call(ctx, method, subscription_id, segments)

    def view(self, ctx: Ctx, doc: Doc, name: str, api_version: str) -> Doc:
        """GET `{vm}/instanceView`."""
        if doc["type"].lower() == VM and name.lower() == "instanceview":
            return compute_power.instance_view(ctx, doc)
        raise not_implemented(f"GET '{name}' on '{doc['type']}'")
