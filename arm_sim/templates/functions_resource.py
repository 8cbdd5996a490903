"""Resource functions: resourceId, subscriptionResourceId, tenantResourceId, managementGroupResourceId,
extensionResourceId (reference/arm-templates.md §2.10), reference, references, every list* function, providers,
pickZones and the zone mappings; resourceInfo answers that arm-sim does not implement it.

Ids are built from the context's scope; reference/list* hand the runtime lookup to the context.
"""

from __future__ import annotations

from typing import Any

from arm_sim.templates.calls import Call, spec
from arm_sim.templates.errors import not_expected, not_implemented

_TEMPLATE_HELP = "Please see https://aka.ms/arm-template/#resources for usage details."
_UDF_LIMIT = "User-defined functions can only use their own parameters."

# Public regions with availability zones (the simulator maps logical zone n to physical '{region}-az{n}').
_ZONE_REGIONS = frozenset(
    {
        "australiaeast",
        "austriaeast",
        "brazilsouth",
        "canadacentral",
        "centralindia",
        "centralus",
        "chilecentral",
        "eastasia",
        "eastus",
        "eastus2",
        "francecentral",
        "germanywestcentral",
        "indonesiacentral",
        "israelcentral",
        "italynorth",
        "japaneast",
        "japanwest",
        "koreacentral",
        "malaysiawest",
        "mexicocentral",
        "newzealandnorth",
        "northeurope",
        "norwayeast",
        "polandcentral",
        "qatarcentral",
        "southafricanorth",
        "southcentralus",
        "southeastasia",
        "spaincentral",
        "swedencentral",
        "switzerlandnorth",
        "uaenorth",
        "uksouth",
        "westeurope",
        "westus2",
        "westus3",
        "usgovvirginia",
    }
)


def _strings(call: Call, args: list[Any]) -> list[str]:
    return [call.str_arg(args, i) for i in range(len(args))]


def _split_type_and_names(call: Call, args: list[str], max_leading: int) -> tuple[list[str], str]:
    """Find the `Namespace/type…` argument; return the arguments before it and the `providers/…` id suffix."""
    index = next((i for i, a in enumerate(args) if "/" in a), None)
    if index is None or index > max_leading:
        raise call.fail(
            "function requires exactly one multi-segmented argument which must be resource type including resource "
            f"provider namespace. Current function arguments '{', '.join(args)}'. {_TEMPLATE_HELP}"
        )
    resource_type, names = args[index], args[index + 1 :]
    namespace, *types = resource_type.strip("/").split("/")
    if not namespace or not types or any(not t for t in types):
        raise call.fail(f"the resource type '{resource_type}' is not valid. {_TEMPLATE_HELP}")
    if len(names) != len(types):
        raise call.fail(
            f"the type '{resource_type}' requires '{len(types)}' resource name argument(s). {_TEMPLATE_HELP}"
        )
    interleaved = "/".join(f"{t}/{n}" for t, n in zip(types, names, strict=True))
    return args[:index], f"providers/{namespace}/{interleaved}"


def _need(call: Call, value: str | None, what: str) -> str:
    if not value:
        raise call.fail(f"the {what} is not known at this deployment scope; pass it as an argument. {_TEMPLATE_HELP}")
    return value


def _resource_id(call: Call, args: list[Any]) -> str:
    leading, suffix = _split_type_and_names(call, _strings(call, args), 2)
    ctx = call.ctx
    if len(leading) == 2:
        return f"/subscriptions/{leading[0]}/resourceGroups/{leading[1]}/{suffix}"
    if len(leading) == 1:
        subscription = _need(call, ctx.current_subscription_id, "subscription")
        return f"/subscriptions/{subscription}/resourceGroups/{leading[0]}/{suffix}"
    if ctx.deployment_scope == "resourceGroup":
        subscription = _need(call, ctx.current_subscription_id, "subscription")
        group = _need(call, ctx.current_resource_group, "resource group")
        return f"/subscriptions/{subscription}/resourceGroups/{group}/{suffix}"
    if ctx.deployment_scope == "subscription":
        return f"/subscriptions/{_need(call, ctx.current_subscription_id, 'subscription')}/{suffix}"
    return f"/{suffix}"  # management group and tenant scope


def _subscription_resource_id(call: Call, args: list[Any]) -> str:
    leading, suffix = _split_type_and_names(call, _strings(call, args), 1)
    subscription = leading[0] if leading else _need(call, call.ctx.current_subscription_id, "subscription")
    return f"/subscriptions/{subscription}/{suffix}"


def _tenant_resource_id(call: Call, args: list[Any]) -> str:
    _, suffix = _split_type_and_names(call, _strings(call, args), 0)
    return f"/{suffix}"


def _management_group_resource_id(call: Call, args: list[Any]) -> str:
    leading, suffix = _split_type_and_names(call, _strings(call, args), 1)
    group = leading[0] if leading else _need(call, call.ctx.current_management_group, "management group")
    return f"/providers/Microsoft.Management/managementGroups/{group}/{suffix}"


def _extension_resource_id(call: Call, args: list[Any]) -> str:
    values = _strings(call, args)
    _, suffix = _split_type_and_names(call, values[1:], 0)
    return f"{values[0].rstrip('/')}/{suffix}"


def _no_runtime_in_udf(call: Call) -> None:
    if call.ev.udf_params is not None:
        raise not_expected(call.name, _UDF_LIMIT)


def _reference(call: Call, args: list[Any]) -> Any:
    _no_runtime_in_udf(call)
    target = call.str_arg(args, 0)
    api_version = call.str_arg(args, 1) if len(args) > 1 and args[1] is not None else None
    full = False
    if len(args) == 3:
        mode = call.str_arg(args, 2)
        if mode.lower() != "full":
            raise call.fail(f"the third parameter must be 'Full', not '{mode}'.")
        full = True
    return call.ctx.reference(target, api_version, full)


def _references(call: Call, args: list[Any]) -> list[Any]:
    _no_runtime_in_udf(call)
    target = call.str_arg(args, 0)
    mode = call.str_arg(args, 1) if len(args) == 2 else "Properties"
    if mode.lower() not in ("full", "properties"):
        raise call.fail(f"the second parameter must be 'Full' or 'Properties', not '{mode}'.")
    return call.ctx.references(target, mode.lower() == "full")


def _list(call: Call, args: list[Any]) -> Any:
    """Any `list*` function: a POST to `{id}/{functionName}` answered by the context."""
    _no_runtime_in_udf(call)
    body = args[2] if len(args) == 3 else None
    return call.ctx.list_call(call.name, call.str_arg(args, 0), call.str_arg(args, 1), body)


LIST_SPEC = spec("list", _list, 2, 3)


def _providers(call: Call, args: list[Any]) -> Any:
    return call.ctx.providers(call.str_arg(args, 0), call.str_arg(args, 1) if len(args) == 2 else None)


def _resource_info(call: Call, args: list[Any]) -> Any:
    # Bicep emits resourceInfo('symbolicName').id/.name/.type/.apiVersion in languageVersion 2.0 templates, but
    # ARM does not document the function or its full result: say so rather than guess the shape.
    raise not_implemented("the template function 'resourceInfo' (languageVersion 2.0, undocumented)")


def _region(location: str) -> str:
    return location.replace(" ", "").lower()


def _pick_zones(call: Call, args: list[Any]) -> list[str]:
    _strings(call, args[:3])
    count = call.int_arg(args, 3) if len(args) > 3 else 1
    offset = call.int_arg(args, 4) if len(args) > 4 else 0
    if _region(args[2]) not in _ZONE_REGIONS:
        return []
    if count < 1 or offset < 0 or count + offset > 3:
        raise call.fail(f"the region has 3 zones; '{count}' zone(s) from offset '{offset}' can't be picked.")
    return [str(zone) for zone in range(offset + 1, offset + count + 1)]


def _physical(call: Call, location: str, zone: Any) -> str:
    if not isinstance(zone, str) or zone not in ("1", "2", "3"):
        raise call.fail(f"the logical zone '{zone}' is not one of '1', '2', '3'.")
    return f"{_region(location)}-az{zone}"


def _logical(call: Call, location: str, zone: Any) -> str:
    prefix = f"{_region(location)}-az"
    if not isinstance(zone, str) or not zone.lower().startswith(prefix) or zone[len(prefix) :] not in ("1", "2", "3"):
        raise call.fail(f"the physical zone '{zone}' is not a zone of '{location}'.")
    return zone[len(prefix) :]


FUNCTIONS = (
    spec("resourceId", _resource_id, 2, None),
    spec("subscriptionResourceId", _subscription_resource_id, 2, None),
    spec("tenantResourceId", _tenant_resource_id, 2, None),
    spec("managementGroupResourceId", _management_group_resource_id, 2, None),
    spec("extensionResourceId", _extension_resource_id, 3, None),
    spec("reference", _reference, 1, 3),
    spec("references", _references, 1, 2),
    spec("providers", _providers, 1, 2),
    spec("resourceInfo", _resource_info, 1),
    spec("pickZones", _pick_zones, 3, 5),
    spec("toPhysicalZone", lambda c, a: _physical(c, c.str_arg(a, 1), a[2]), 3),
    spec("toPhysicalZones", lambda c, a: [_physical(c, c.str_arg(a, 1), z) for z in c.array_arg(a, 2)], 3),
    spec("toLogicalZone", lambda c, a: _logical(c, c.str_arg(a, 1), a[2]), 3),
    spec("toLogicalZones", lambda c, a: [_logical(c, c.str_arg(a, 1), z) for z in c.array_arg(a, 2)], 3),
)
