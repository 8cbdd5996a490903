"""What ARM advertises: locations and the provider namespaces with their resource types."""

from __future__ import annotations

from typing import Any

from arm_sim.core.errors import DomainError
from arm_sim.core.ids import ProviderPart

# (name, displayName, geography group)
LOCATIONS: tuple[tuple[str, str, str], ...] = (
    ("eastus", "East US", "US"), ("eastus2", "East US 2", "US"), ("westus", "West US", "US"),
    ("westus2", "West US 2", "US"), ("westus3", "West US 3", "US"), ("centralus", "Central US", "US"),
    ("northcentralus", "North Central US", "US"), ("southcentralus", "South Central US", "US"),
    ("westcentralus", "West Central US", "US"), ("canadacentral", "Canada Central", "Canada"),
    ("brazilsouth", "Brazil South", "South America"), ("northeurope", "North Europe", "Europe"),
    ("westeurope", "West Europe", "Europe"), ("uksouth", "UK South", "UK"), ("ukwest", "UK West", "UK"),
    ("francecentral", "France Central", "France"), ("germanywestcentral", "Germany West Central", "Germany"),
    ("swedencentral", "Sweden Central", "Sweden"), ("switzerlandnorth", "Switzerland North", "Switzerland"),
    ("norwayeast", "Norway East", "Norway"), ("polandcentral", "Poland Central", "Poland"),
    ("italynorth", "Italy North", "Italy"), ("eastasia", "East Asia", "Asia Pacific"),
    ("southeastasia", "Southeast Asia", "Asia Pacific"), ("japaneast", "Japan East", "Japan"),
    ("japanwest", "Japan West", "Japan"), ("koreacentral", "Korea Central", "Korea"),
    ("australiaeast", "Australia East", "Australia"), ("australiasoutheast", "Australia Southeast", "Australia"),
    ("centralindia", "Central India", "India"), ("southindia", "South India", "India"),
    ("uaenorth", "UAE North", "UAE"), ("southafricanorth", "South Africa North", "Africa"),
    ("qatarcentral", "Qatar Central", "Middle East"), ("israelcentral", "Israel Central", "Israel"),
    ("mexicocentral", "Mexico Central", "Mexico"), ("spaincentral", "Spain Central", "Spain"),
)
LOCATION_NAMES = frozenset(name for name, _, _ in LOCATIONS)
_BY_DISPLAY = {display.lower().replace(" ", ""): name for name, display, _ in LOCATIONS}

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
    compact = location.lower().replace(" ", "")
    return _BY_DISPLAY.get(compact, compact)


def location_doc(subscription_id: str, name: str, display: str, group: str) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{subscription_id}/locations/{name}", "name": name, "type": "Region",
        "displayName": display, "regionalDisplayName": f"({group}) {display}",
        "metadata": {"regionType": "Physical", "regionCategory": "Recommended", "geographyGroup": group},
    }


def provider_doc(subscription_id: str | None, namespace: str, registered: bool) -> dict[str, Any]:
    types = NAMESPACES.get(namespace, {})
    prefix = f"/subscriptions/{subscription_id}" if subscription_id else ""
    return {
        "id": f"{prefix}/providers/{namespace}",
        "namespace": namespace,
        "registrationState": "Registered" if registered else "NotRegistered",
        "registrationPolicy": "RegistrationRequired",
        "resourceTypes": [
            {"resourceType": t, "locations": [d for _, d, _ in LOCATIONS], "apiVersions": list(v),
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
