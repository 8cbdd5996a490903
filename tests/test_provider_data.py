"""The generated provider catalogue (arm_sim/providers/data/, made by scripts/gen_provider_catalog.py) loads and
answers look-ups the way ARM does: case-insensitively, with locations normalized."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from arm_sim.providers import provider_data as pd

MODELLED = ("Microsoft.Resources", "Microsoft.ManagedIdentity", "Microsoft.Compute", "Microsoft.KeyVault",
            "Microsoft.Authorization", "Microsoft.Web", "Microsoft.Storage", "Microsoft.Network",
            "Microsoft.ContainerService", "Microsoft.App", "Microsoft.Sql", "Microsoft.ContainerRegistry",
            "Microsoft.Insights", "Microsoft.OperationalInsights", "Microsoft.ContainerInstance")


def test_data_ships_with_the_package_and_names_its_sources() -> None:
    file = resources.files("arm_sim.providers").joinpath("data", "providers.json")
    data = json.loads(file.read_text(encoding="utf-8"))
    assert set(data) == {"source", "locations", "namespaces"}
    for name in ("providers", "specs", "locations"):
        assert data["source"][name]["origin"] and len(data["source"][name]["sha256"]) == 64
    assert pd.source()["generator"] == "scripts/gen_provider_catalog.py"


def test_every_modelled_namespace_is_present() -> None:
    spelled = {ns.lower() for ns in pd.namespaces()}
    assert all(ns.lower() in spelled for ns in MODELLED)
    assert len(pd.namespaces()) > 200  # all of Azure's, not a subset
    assert pd.namespace("microsoft.compute") == "Microsoft.Compute"
    assert pd.namespace("Contoso.Nothing") is None


@pytest.mark.parametrize(("namespace", "type_path", "api_version"), [
    ("Microsoft.Compute", "virtualMachines", "2024-07-01"),
    ("Microsoft.Compute", "virtualMachines/extensions", "2024-07-01"),
    ("Microsoft.KeyVault", "vaults", "2023-07-01"),
    ("Microsoft.KeyVault", "vaults/secrets", "2023-07-01"),
    ("Microsoft.Storage", "storageAccounts", "2023-01-01"),
    ("Microsoft.Storage", "storageAccounts/blobServices/containers", "2023-01-01"),
    ("Microsoft.ManagedIdentity", "userAssignedIdentities", "2023-01-31"),
    ("Microsoft.Authorization", "roleAssignments", "2022-04-01"),
    ("Microsoft.Resources", "deployments", "2022-09-01"),
    ("Microsoft.Resources", "resourceGroups", "2025-04-01"),
    ("Microsoft.Web", "sites", "2022-09-01"),
])
def test_known_types_and_the_api_versions_clients_use(namespace: str, type_path: str, api_version: str) -> None:
    info = pd.resource_type(namespace, type_path)
    assert info is not None
    assert info.supports_api_version(api_version)
    assert info.api_versions == tuple(sorted(info.api_versions, key=lambda v: v[:10], reverse=True))  # newest first


def test_lookups_are_case_insensitive() -> None:
    a = pd.resource_type("Microsoft.Compute", "virtualMachines")
    b = pd.resource_type("MICROSOFT.COMPUTE", "virtualmachines")
    assert a is not None and a == b
    assert a.supports_api_version("2024-07-01") and a.supports_api_version("2024-07-01".upper())
    insights = pd.resource_type("Microsoft.Insights", "diagnosticSettings")
    assert insights is not None and insights.namespace.lower() == "microsoft.insights"


def test_unknown_types_and_versions_are_refused() -> None:
    assert pd.resource_type("Microsoft.Storage", "roleAssignments") is None
    assert pd.resource_type("Microsoft.Compute", "virtualMachinez") is None
    assert pd.resource_type("Contoso.Nothing", "things") is None
    vm = pd.resource_type("Microsoft.Compute", "virtualMachines")
    assert vm is not None and not vm.supports_api_version("2099-01-01")
    assert any(t.type_path == "userAssignedIdentities" for t in pd.types_of("microsoft.managedidentity"))


def test_locations_are_normalized_and_global_types_have_none() -> None:
    vm = pd.resource_type("Microsoft.Compute", "virtualMachines")
    assert vm is not None and "eastus" in vm.locations and "westeurope" in vm.locations
    assert vm.offered_in("East US") and vm.offered_in("eastus") and not vm.offered_in("Atlantis")
    assert all(loc == loc.lower() and " " not in loc for loc in vm.locations)
    deployments = pd.resource_type("Microsoft.Resources", "deployments")
    assert deployments is not None and deployments.locations == () and deployments.offered_in("anywhere")
    assert pd.normalize_location("West US 2") == "westus2"
    assert pd.normalize_location("United Kingdom") == "uk"


def test_subscription_locations() -> None:
    locs = pd.locations()
    names = [loc.name for loc in locs]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert {"Physical", "Logical"} == {loc.region_type for loc in locs}
    eastus = pd.location("East US")
    assert eastus is not None and eastus.name == "eastus" and eastus.geography_group == "US"
    assert eastus.regional_display_name == "(US) East US" and eastus.paired_region == ("westus",)
    assert pd.location("nowhere") is None
    physical = {loc.name for loc in locs if loc.region_type == "Physical"}
    assert pd.unlisted_regions() <= physical


def test_vm_sizes_absent_or_per_location() -> None:
    sizes = pd.vm_sizes("eastus")
    assert sizes is None or all(name.startswith(("Standard_", "Basic_")) for name in sizes)
    assert pd.vm_sizes("Atlantis") is None


# ------------------------------------------------------------------------------------------------------ VM sizes

SIZES_IN_USE = ("Standard_B1s", "Standard_B2s", "Standard_DS1_v2", "Standard_D2s_v3", "Standard_D2s_v5")


def test_vm_size_data_ships_and_names_its_source() -> None:
    file = resources.files("arm_sim.providers").joinpath("data", "vm_sizes.json")
    data = json.loads(file.read_text(encoding="utf-8"))
    assert data["source"]["generator"] == "scripts/gen_vm_sizes.py"
    assert data["source"]["global"]["origin"] and len(data["source"]["global"]["sha256"]) == 64
    assert data["source"]["global"]["count"] == len(data["global"]["sizes"])


@pytest.mark.parametrize("location", ["eastus", "westus", "westeurope", "West Europe", "EAST US"])
def test_sizes_the_tests_and_examples_use_are_offered(location: str) -> None:
    sizes = pd.vm_sizes(location)
    assert isinstance(sizes, frozenset) and len(sizes) > 500
    assert all(size in sizes for size in SIZES_IN_USE)
    assert "Standard_Nope" not in sizes


def test_vm_sizes_is_none_where_the_data_has_no_list() -> None:
    assert pd.vm_sizes("global") is None
    assert pd.vm_sizes("Contoso Nowhere") is None
    assert pd.vm_sizes("eastus") == pd.vm_sizes("East US")
