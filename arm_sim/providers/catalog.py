"""What ARM advertises: locations and the provider namespaces with their resource types."""

from __future__ import annotations

from typing import Any

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
