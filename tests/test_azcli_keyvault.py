"""The real Azure CLI (2.91.0) and Key Vault's management plane: `az keyvault create / set-policy / show /
delete / recover / purge` (clients.md §5 shows what az sends, Graph look-ups included).

az is slow to start, so the module logs in once, keeps to about a dozen az calls and checks server-side state
over REST. The VM whose principal gets the policy is created with azure-mgmt-compute (`az vm create` needs
Microsoft.Network). The module runs its own simulator so its vaults never compete for the session
simulator's small vault-port pool.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute.models import VirtualMachineIdentity

from tests.azcli import AzCli, az_executable
from tests.simserver import Sim, free_range, fresh_database_url
from tests.vmspec import nic, vm_body

AZ = az_executable()
if AZ is None:
    pytest.skip("Azure CLI not found: set ARM_SIM_AZ, install it in /work/main/.venv-az or put az on PATH",
                allow_module_level=True)

pytestmark = pytest.mark.azcli

API = "2023-07-01"


@pytest.fixture(scope="module")
def kv_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    server = Sim(home=tmp_path_factory.mktemp("kvsim-az"), database_url=fresh_database_url(),
                 vault_ports=free_range(4)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def az(kv_sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> AzCli:
    cli = AzCli(kv_sim, tmp_path_factory.mktemp("azcfg-keyvault"), executable=AZ or "az")
    cli.configure()
    cli.login()
    return cli


@pytest.fixture(scope="module")
def arm(kv_sim: Sim) -> Iterator[httpx.Client]:
    with kv_sim.http() as client:
        yield client


def test_keyvault_commands(az: AzCli, kv_sim: Sim, arm: httpx.Client) -> None:
    rg, name = f"azkvrg-{uuid.uuid4().hex[:8]}", f"azkv{uuid.uuid4().hex[:12]}"
    sub = kv_sim.subscription
    arm.put(f"/subscriptions/{sub}/resourcegroups/{rg}", params={"api-version": "2024-11-01"},
            json={"location": "eastus"}).raise_for_status()
    # closed at once: an open keep-alive connection would hold up the server's shutdown
    with kv_sim.credential() as cred, ComputeManagementClient(cred, sub, **kv_sim.mgmt_kwargs()) as compute:
        vm = compute.virtual_machines.begin_create_or_update(rg, "vm1", vm_body(
            VirtualMachineIdentity(type="SystemAssigned"), "vm1",
            nic(arm, f"/subscriptions/{sub}/resourcegroups/{rg}"))).result()
    principal = vm.identity.principal_id
    deployer = _deployer_object_id(kv_sim)

    # create: az looks the caller up in Graph and grants it every permission
    created = az.json("keyvault", "create", "-g", rg, "-n", name, "-l", "eastus",
                      "--enable-rbac-authorization", "false")
    props = created["properties"]
    assert created["name"] == name and created["location"] == "eastus"
    assert props["vaultUri"].startswith("https://localhost:") and props["tenantId"] == kv_sim.tenant
    assert props["enableRbacAuthorization"] is False and props["enableSoftDelete"] is True
    assert props["softDeleteRetentionInDays"] == 90 and props["sku"]["name"] == "standard"
    [owner] = props["accessPolicies"]
    assert owner["objectId"] == deployer and owner["permissions"]["secrets"] == ["all"]
    uri = props["vaultUri"]

    # set-policy: GET + a full PUT carrying the existing policies and the new one
    az.json("keyvault", "set-policy", "-g", rg, "-n", name, "--object-id", principal,
            "--secret-permissions", "get", "list")
    shown = az.json("keyvault", "show", "-g", rg, "-n", name)
    policies = {p["objectId"]: p["permissions"] for p in shown["properties"]["accessPolicies"]}
    assert set(policies) == {deployer, principal}
    assert sorted(policies[principal]["secrets"]) == ["get", "list"]
    assert shown["properties"]["vaultUri"] == uri

    # delete → deleted vault; create again is refused with the deleted-state conflict
    az.run("keyvault", "delete", "-g", rg, "-n", name)
    deleted = arm.get(f"/subscriptions/{sub}/providers/Microsoft.KeyVault/deletedVaults",
                      params={"api-version": API}).json()["value"]
    assert [d["name"] for d in deleted] == [name]
    refused = az.fails("keyvault", "create", "-g", rg, "-n", name, "-l", "eastus",
                       "--enable-rbac-authorization", "false")
    assert "already exists in deleted state" in refused.stderr

    # recover: same address, the access policies are back (the VM principal's included)
    az.run("keyvault", "recover", "-n", name)
    back = arm.get(f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}",
                   params={"api-version": API}).json()
    assert back["properties"]["vaultUri"] == uri
    assert {p["objectId"] for p in back["properties"]["accessPolicies"]} == {deployer, principal}

    # delete + purge: the name is free again
    az.run("keyvault", "delete", "-g", rg, "-n", name)
    az.run("keyvault", "purge", "-n", name)
    assert arm.get(f"/subscriptions/{sub}/providers/Microsoft.KeyVault/deletedVaults",
                   params={"api-version": API}).json()["value"] == []
    check = arm.post(f"/subscriptions/{sub}/providers/Microsoft.KeyVault/checkNameAvailability",
                     params={"api-version": API}, json={"name": name, "type": "Microsoft.KeyVault/vaults"}).json()
    assert check == {"nameAvailable": True}
    assert len(az.calls) <= 15


def _deployer_object_id(sim: Sim) -> str:
    """The bootstrap principal's object id, from Graph (what az itself looks up for `keyvault create`)."""
    with sim.http(sim.token("https://graph.microsoft.com/.default")) as graph:
        found = graph.get("/v1.0/servicePrincipals", params={
            "$filter": f"appId eq '{sim.client_id}'"}).json()["value"]
    return found[0]["id"]
