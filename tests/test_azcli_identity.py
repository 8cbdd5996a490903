"""The real Azure CLI (2.91.0) and managed identities: `az identity …` and `az vm identity assign/remove`.

az is slow to start (about a second per call), so the module logs in once, creates what it needs over
REST or the SDK, and checks server-side state with `sim.http()` and Graph rather than with more az calls.
The VM is created with azure-mgmt-compute: `az vm create` would need Microsoft.Network (clients.md §5).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.mgmt.compute import ComputeManagementClient

from tests.azcli import AzCli, logged_in, require_az
from tests.simserver import Sim
from tests.vmspec import nic, vm_body

AZ = require_az()

pytestmark = pytest.mark.azcli

GRAPH = "https://graph.microsoft.com/.default"
RG_API = "2024-11-01"
MSI_API = "2024-11-30"
VM_API = "2024-11-01"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def az(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> AzCli:
    return logged_in(sim, tmp_path_factory.mktemp("azcfg-identity"), AZ)


@pytest.fixture(scope="module")
def rg(sim: Sim, arm: httpx.Client) -> Iterator[str]:
    """A resource group made over REST (saves an az call), deleted afterwards."""
    name = unique("azmi-")
    path = f"/subscriptions/{sim.subscription}/resourcegroups/{name}"
    r = arm.put(path, params={"api-version": RG_API}, json={"location": "eastus"})
    assert r.status_code == 201, r.text
    yield name
    arm.delete(path, params={"api-version": RG_API})


def uai_id(sim: Sim, rg: str, name: str) -> str:
    return (f"/subscriptions/{sim.subscription}/resourcegroups/{rg}/providers/Microsoft.ManagedIdentity/"
            f"userAssignedIdentities/{name}")


def graph_sp(graph: httpx.Client, object_id: str) -> dict[str, Any] | None:
    r = graph.get(f"/v1.0/servicePrincipals/{object_id}")
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    return r.json()


def test_identity_create_show_list_delete(az: AzCli, sim: Sim, arm: httpx.Client, graph: httpx.Client,
                                          rg: str) -> None:
    name = unique("azuai-")
    created = az.json("identity", "create", "-g", rg, "-n", name, "--tags", "team=id")
    assert created["id"].lower() == uai_id(sim, rg, name).lower()
    assert created["name"] == name and created["resourceGroup"] == rg
    assert created["type"] == "Microsoft.ManagedIdentity/userAssignedIdentities"
    assert created["location"] == "eastus"  # az reads it from the resource group
    assert created["tenantId"] == sim.tenant and created["tags"] == {"team": "id"}
    principal_id, client_id = created["principalId"], created["clientId"]
    assert uuid.UUID(principal_id)

    sp = graph_sp(graph, principal_id)
    assert sp is not None and sp["appId"] == client_id and sp["servicePrincipalType"] == "ManagedIdentity"
    assert sp["alternativeNames"][0] == "isExplicit=True"

    shown = az.json("identity", "show", "-g", rg, "-n", name)
    assert (shown["principalId"], shown["clientId"], shown["id"]) == (principal_id, client_id, created["id"])

    other = unique("azuai-")
    r = arm.put(uai_id(sim, rg, other), params={"api-version": MSI_API}, json={"location": "eastus"})
    assert r.status_code == 201, r.text
    listed = {i["name"]: i for i in az.json("identity", "list", "-g", rg)}
    assert {name, other} <= set(listed)
    assert listed[name]["principalId"] == principal_id

    assert az.json("identity", "delete", "-g", rg, "-n", name) is None
    assert arm.get(uai_id(sim, rg, name), params={"api-version": MSI_API}).status_code == 404
    assert graph_sp(graph, principal_id) is None
    err = az.fails("identity", "show", "-g", rg, "-n", name)
    assert "ResourceNotFound" in err.stderr or "was not found" in err.stderr, err


def test_vm_identity_assign_and_remove(az: AzCli, sim: Sim, arm: httpx.Client, graph: httpx.Client,
                                       rg: str) -> None:
    compute = ComputeManagementClient(sim.credential(), sim.subscription, **sim.mgmt_kwargs())
    vm_name = unique("azvm-")
    vm = compute.virtual_machines.begin_create_or_update(rg, vm_name, vm_body(
        None, "azvm", nic(arm, f"/subscriptions/{sim.subscription}/resourceGroups/{rg}"))).result()
    assert vm.identity is None
    uais = []
    for _ in range(2):
        name = unique("azuai-")
        r = arm.put(uai_id(sim, rg, name), params={"api-version": MSI_API}, json={"location": "eastus"})
        assert r.status_code == 201, r.text
        uais.append(r.json())
    first, second = (u["id"] for u in uais)

    assigned = az.json("vm", "identity", "assign", "-g", rg, "-n", vm_name, "--identities", "[system]", first,
                       second)
    system = assigned["systemAssignedIdentity"]
    assert graph_sp(graph, system)["alternativeNames"] == ["isExplicit=False", vm.id.replace(
        "/resourceGroups/", "/resourcegroups/")]
    assert {k.lower(): v for k, v in assigned["userAssignedIdentities"].items()} == {
        u["id"].lower(): {"clientId": u["properties"]["clientId"], "principalId": u["properties"]["principalId"]}
        for u in uais}

    got = arm.get(vm.id, params={"api-version": VM_API}).json()["identity"]
    assert got["type"] == "SystemAssigned, UserAssigned" and got["principalId"] == system
    assert {k.lower() for k in got["userAssignedIdentities"]} == {first.lower(), second.lower()}

    # remove one user-assigned identity: the system one and the other user-assigned one stay
    az.run("vm", "identity", "remove", "-g", rg, "-n", vm_name, "--identities", first)
    got = arm.get(vm.id, params={"api-version": VM_API}).json()["identity"]
    assert got["type"] == "SystemAssigned, UserAssigned" and got["principalId"] == system
    assert [k.lower() for k in got["userAssignedIdentities"]] == [second.lower()]

    # remove the system identity: its principal is deleted, the user-assigned one stays
    az.run("vm", "identity", "remove", "-g", rg, "-n", vm_name, "--identities", "[system]")
    got = arm.get(vm.id, params={"api-version": VM_API}).json()["identity"]
    assert got["type"] == "UserAssigned" and "principalId" not in got
    assert [k.lower() for k in got["userAssignedIdentities"]] == [second.lower()]
    assert graph_sp(graph, system) is None
    assert graph_sp(graph, uais[1]["properties"]["principalId"]) is not None
