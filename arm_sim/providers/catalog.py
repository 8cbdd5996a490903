"""What ARM advertises: locations and the provider namespaces with their resource types."""

from __future__ import annotations

from typing import Any

from arm_sim.core.errors import DomainError
from arm_sim.core.ids import ProviderPart
from arm_sim.providers import provider_data

# Azure's regions, from its published locations list (providers/data, generated): Physical ones hold resource groups
LOCATIONS: tuple[provider_data.LocationInfo, ...] = tuple(provider_data.locations())
LOCATION_NAMES = frozenset(loc.name for loc in LOCATIONS if loc.region_type == "Physical")

# namespace -> {resourceType: api-versions}; generic types outside this list are still accepted.
NAMESPACES: dict[str, dict[str, tuple[str, ...]]] = {
    "Microsoft.Resources": {
        "resourceGroups": ("2025-04-01", "2024-11-01", "2022-12-01", "2021-04-01"),
        "deployments": ("2025-04-01", "2024-11-01", "2022-09-01"),
        "deploymentScripts": ("2023-08-01", "2020-10-01"),
        "subscriptions": ("2022-12-01", "2021-01-01"),
        "tenants": ("2022-12-01",),
    },
    "Microsoft.ManagedIdentity": {
        "userAssignedIdentities": ("2025-05-31-preview", "2024-11-30", "2023-01-31", "2018-11-30"),
        "userAssignedIdentities/federatedIdentityCredentials": ("2024-11-30", "2023-01-31"),
        "identities": ("2024-11-30", "2023-01-31", "2018-11-30"),
    },
    "Microsoft.Compute": {
        "virtualMachines": ("2026-04-01", "2024-11-01", "2024-07-01", "2023-09-01"),
        "virtualMachines/extensions": ("2026-04-01", "2024-11-01", "2024-07-01"),
        "virtualMachineScaleSets": ("2026-04-01", "2024-11-01", "2024-07-01"),
        "disks": ("2024-03-02", "2023-10-02"),
    },
    "Microsoft.KeyVault": {
        "vaults": ("2026-05-15", "2026-02-01", "2024-11-01", "2023-07-01"),
        "vaults/secrets": ("2026-05-15", "2024-11-01", "2023-07-01"),
        "vaults/accessPolicies": ("2026-05-15", "2024-11-01", "2023-07-01"),
        "deletedVaults": ("2026-05-15", "2024-11-01", "2023-07-01"),
    },
    "Microsoft.Authorization": {
        "roleAssignments": ("2022-04-01", "2020-10-01-preview"),
        "roleDefinitions": ("2022-04-01", "2018-01-01-preview"),
    },
    "Microsoft.Web": {"sites": ("2024-04-01", "2023-12-01", "2022-09-01"), "serverfarms": ("2024-04-01",)},
    "Microsoft.Storage": {"storageAccounts": ("2024-01-01", "2023-05-01", "2023-01-01")},
    "Microsoft.Network": {
        "virtualNetworks": ("2024-05-01", "2023-11-01"), "networkInterfaces": ("2024-05-01", "2023-11-01"),
        "publicIPAddresses": ("2024-05-01", "2023-11-01"), "networkSecurityGroups": ("2024-05-01",),
    },
}


def normalize_location(location: str) -> str:
    """ARM accepts `East US` or `eastus` and answers `eastus`."""
    return provider_data.normalize_location(location)


def location_doc(subscription_id: str, loc: provider_data.LocationInfo) -> dict[str, Any]:
    """One entry of `GET /subscriptions/{id}/locations`, as ARM shapes it."""
    metadata: dict[str, Any] = {"regionType": loc.region_type, "regionCategory": loc.region_category}
    if loc.region_type == "Physical":
        metadata.update(geography=loc.geography, geographyGroup=loc.geography_group, longitude=loc.longitude,
                        latitude=loc.latitude, physicalLocation=loc.physical_location,
                        pairedRegion=[{"name": p, "id": f"/subscriptions/{subscription_id}/locations/{p}"}
                                      for p in loc.paired_region])
    elif loc.geography_group:
        metadata["geographyGroup"] = loc.geography_group
    return {"id": f"/subscriptions/{subscription_id}/locations/{loc.name}", "name": loc.name, "type": "Region",
            "displayName": loc.display_name, "regionalDisplayName": loc.regional_display_name, "metadata": metadata}


def _type_locations(namespace: str, type_path: str) -> list[str]:
    """The display names of the regions a type is offered in (Azure's catalogue), or every physical region."""
    info = provider_data.resource_type(namespace, type_path)
    names = info.locations if info is not None and info.locations else sorted(LOCATION_NAMES)
    shown = {loc.name: loc.display_name for loc in LOCATIONS}
    return [shown.get(name, name) for name in names]


def provider_doc(subscription_id: str | None, namespace: str, registered: bool) -> dict[str, Any]:
    types = NAMESPACES.get(namespace, {})
    prefix = f"/subscriptions/{subscription_id}" if subscription_id else ""
    return {
        "id": f"{prefix}/providers/{namespace}",
        "namespace": namespace,
        "registrationState": "Registered" if registered else "NotRegistered",
        "registrationPolicy": "RegistrationRequired",
        "resourceTypes": [
            {"resourceType": t, "locations": _type_locations(namespace, t), "apiVersions": list(v),
             "capabilities": "SupportsTags, SupportsLocation"}
            for t, v in types.items()
        ],
    }


# Extension types (lower-case) and the namespace that owns them. ARM routes `{resource id}/providers/{owner}/{type}`
# to the owner; the same name as a type of any other namespace (`storageAccounts/sa/roleAssignments/x`, or
# `Microsoft.Storage/roleAssignments/x`) is no type of that namespace.
EXTENSION_TYPES: dict[str, str] = {
    "roleassignments": "Microsoft.Authorization", "roledefinitions": "Microsoft.Authorization",
    "denyassignments": "Microsoft.Authorization", "locks": "Microsoft.Authorization",
    "policyassignments": "Microsoft.Authorization", "policyexemptions": "Microsoft.Authorization",
    "policydefinitions": "Microsoft.Authorization", "policysetdefinitions": "Microsoft.Authorization",
    "diagnosticsettings": "Microsoft.Insights",
}

# Types whose children arm-sim models completely (lower-case type key -> child types, lower-case): any other child
# is refused as ARM refuses a type its provider has not registered. Every other type accepts any child and stores
# it generically.
CLOSED_CHILDREN: dict[str, frozenset[str]] = {
    "microsoft.keyvault/vaults": frozenset({"secrets", "keys", "accesspolicies", "privateendpointconnections",
                                            "privatelinkresources"}),
    "microsoft.keyvault/vaults/keys": frozenset({"versions"}),
    "microsoft.managedidentity/userassignedidentities": frozenset({"federatedidentitycredentials"}),
}


def unknown_type(namespace: str, types: tuple[str, ...], api_version: str | None) -> DomainError:
    version = f" for api version '{api_version}'" if api_version else ""
    return DomainError(404, "InvalidResourceType", f"The resource type '{'/'.join(types)}' could not be found in "
                                                   f"the namespace '{namespace}'{version}.")


def check_types(part: ProviderPart, *, action: bool, api_version: str | None) -> None:
    """Refuse a type chain its namespace cannot have. `action`: the run ends on a POST action's name, not a
    type."""
    types = part.types[:-1] if action else part.types
    ns = part.namespace.lower()
    for depth, name in enumerate(types):
        owner = EXTENSION_TYPES.get(name.lower())
        parent = "/".join((ns, *(t.lower() for t in types[:depth])))
        allowed = CLOSED_CHILDREN.get(parent) if depth else None
        if (owner is not None and owner.lower() != ns) or (allowed is not None and name.lower() not in allowed):
            raise unknown_type(part.namespace, types[:depth + 1], api_version)
