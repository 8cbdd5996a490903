"""Template identity wiring that is then really enforced, through azure-mgmt-resource 24 and the data-plane
clients: a VM's system identity in a vault access policy (`reference(…, 'Full').identity.principalId`; the VM
then reads the secret through IMDS), a user-assigned identity shared by a copy loop with guid()-named role
assignments (the identity can then read exactly what it was granted), Key Vault parameter references, and
idempotency of all of it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.identity import ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient

from tests.simserver import Sim, free_range, fresh_database_url
from tests.test_deployments_api import API, READER, body, deployment_path, group, resource, rid, template
from tests.test_keyvault_secrets import claims_of, run_inside

ARM_SCOPE = "https://management.azure.com/.default"
UAI = "Microsoft.ManagedIdentity/userAssignedIdentities"
VAULT_API = {"api-version": "2023-07-01"}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    """A simulator of the module's own: each vault holds a data-plane port."""
    server = Sim(home=tmp_path_factory.mktemp("depsim"), database_url=fresh_database_url(),
                 vault_ports=free_range(8)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def rm(sim: Sim) -> Iterator[Any]:
    with sim.resource_client() as client:
        yield client


@pytest.fixture
def inside(monkeypatch: pytest.MonkeyPatch) -> Any:
    return run_inside(monkeypatch)


def _endpoint(sim: Sim, resource_id: str) -> dict[str, Any]:
    with sim.http() as c:
        r = c.get("/_sim/imds-endpoint", params={"resourceId": resource_id})
    assert r.status_code == 200, r.text
    return r.json()


def test_vm_identity_in_a_vault_access_policy_then_reads_through_imds(sim: Sim, rm: Any, rg_name: str,
                                                                      inside: Any) -> None:
    group(sim, rg_name)
    vault_name = f"kv{uuid.uuid4().hex[:10]}"
    params = {"vmName": "app-vm", "vaultName": vault_name, "deployerObjectId": claims_of(sim.token())["oid"],
              "adminPassword": "N0t-a-real-password!", "dbPassword": "s3cret-db-password"}
    t = template("vm_keyvault")
    result = rm.deployments.begin_create_or_update(rg_name, "vmkv", body(t, **params)).result()
    out = result.properties.outputs
    vm = resource(sim, rid(sim, rg_name, "Microsoft.Compute/virtualMachines", "app-vm"), "2024-07-01")
    principal = vm["identity"]["principalId"]
    assert out["principalId"]["value"] == principal and out["vmId"]["value"] == vm["properties"]["vmId"]
    vault = resource(sim, rid(sim, rg_name, "Microsoft.KeyVault/vaults", vault_name), "2023-07-01")
    assert principal in [p["objectId"] for p in vault["properties"]["accessPolicies"]]
    assert out["vaultUri"]["value"] == vault["properties"]["vaultUri"]
    assert result.properties.parameters["dbPassword"] == {"type": "SecureString"}  # secure values are not echoed
    ops = [o.properties.target_resource.resource_type for o in rm.deployment_operations.list(rg_name, "vmkv")]
    assert ops.index("Microsoft.Compute/virtualMachines") < ops.index("Microsoft.KeyVault/vaults")

    inside(_endpoint(sim, vm["id"]))  # code from here on runs "in" the VM: its identity comes from IMDS
    with ManagedIdentityCredential() as cred, SecretClient(out["vaultUri"]["value"], cred,
                                                           verify_challenge_resource=False,
                                                           connection_verify=sim.ca) as secrets:
        assert secrets.get_secret("db-password").value == "s3cret-db-password"
        assert claims_of(cred.get_token("https://vault.azure.net/.default").token)["oid"] == principal

    # idempotent: the same template again (every resource PUT again, as ARM does) keeps the VM's principal and
    # changes nothing but etags; the secret, given the same value, gets no new version
    secret_id = f"{vault['id']}/secrets/db-password"
    secret = resource(sim, secret_id, "2023-07-01")
    again = rm.deployments.begin_create_or_update(rg_name, "vmkv-2", body(t, **params)).result()
    assert again.properties.outputs["principalId"]["value"] == principal
    unwritten = lambda d: {k: v for k, v in (d or {}).items() if k not in ("etag", "systemData")}  # noqa: E731
    for before, api in ((vm, "2024-07-01"), (vault, "2023-07-01")):
        assert unwritten(resource(sim, before["id"], api)) == unwritten(before)
    assert resource(sim, secret_id, "2023-07-01") == secret
    changes = rm.deployments.begin_what_if(rg_name, "vmkv-3", body(t, **params)).result().changes
    # the network, the interface, the VM, the vault and the secret
    assert {c.change_type for c in changes} == {"NoChange"} and len(changes) == 5


def test_shared_user_assigned_identity_and_guid_named_role_assignments_are_enforced(
        sim: Sim, rm: Any, rg_name: str, inside: Any) -> None:
    group(sim, rg_name)
    t = template("uai_roles")
    out = rm.deployments.begin_create_or_update(rg_name, "roles", body(t, prefix="shr")).result().properties.outputs
    principal, client_id = out["principalId"]["value"], out["clientId"]["value"]
    uai_id = rid(sim, rg_name, UAI, "shr-shared")
    for account, grant in zip(out["accounts"]["value"], out["grants"]["value"], strict=True):
        st = resource(sim, account)
        assert st["identity"]["userAssignedIdentities"][uai_id]["principalId"] == principal
        assignment = resource(sim, f"{account}/providers/Microsoft.Authorization/roleAssignments/{grant}",
                              "2022-04-01")
        assert assignment["properties"]["principalId"] == principal
        assert assignment["properties"]["roleDefinitionId"].endswith(READER)
    legacy = [o.properties.target_resource.id for o in rm.deployment_operations.list(rg_name, "roles")
              if o.properties.target_resource.id.lower().startswith(f"{uai_id}/providers/".lower())]
    assert len(legacy) == 1 and resource(sim, legacy[0], "2022-04-01") is not None

    # the identity, from inside the VM that carries it, reads what it was granted and nothing else
    vm_id = rid(sim, rg_name, "Microsoft.Compute/virtualMachines", "shr-vm")
    inside(_endpoint(sim, vm_id))
    with ManagedIdentityCredential(client_id=client_id) as cred:
        token = cred.get_token(ARM_SCOPE).token
    assert claims_of(token)["oid"] == principal
    with httpx.Client(base_url=sim.url, verify=sim.ca, headers={"Authorization": f"Bearer {token}"}) as arm:
        for account in out["accounts"]["value"]:
            assert arm.get(account, params={"api-version": "2023-05-01"}).status_code == 200
        assert arm.get(uai_id, params={"api-version": "2023-01-31"}).status_code == 200  # the legacy-form grant
        denied = arm.get(rid(sim, rg_name, "Microsoft.Storage/storageAccounts", "shrprivate"),
                         params={"api-version": "2023-05-01"})
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "AuthorizationFailed"

    # deploying again: the guid() names make the same assignments, so nothing conflicts and nothing changes
    again = rm.deployments.begin_create_or_update(rg_name, "roles-2", body(t, prefix="shr")).result()
    assert again.properties.outputs == out
    assert {o.properties.status_code for o in rm.deployment_operations.list(rg_name, "roles-2")} == {"OK"}


def test_key_vault_parameter_references(sim: Sim, rg_name: str) -> None:
    group(sim, rg_name)
    tenant = sim.tenant
    names = {True: f"kv{uuid.uuid4().hex[:10]}", False: f"kv{uuid.uuid4().hex[:10]}"}
    with sim.http() as c:
        for enabled, name in names.items():
            vault = rid(sim, rg_name, "Microsoft.KeyVault/vaults", name)
            r = c.put(vault, params=VAULT_API, json={"location": "eastus", "properties": {
                "tenantId": tenant, "sku": {"family": "A", "name": "standard"}, "accessPolicies": [],
                "enabledForTemplateDeployment": enabled}})
            assert r.status_code in (200, 201), r.text
            r = c.put(f"{vault}/secrets/admin", params=VAULT_API, json={"properties": {"value": "from-the-vault"}})
            assert r.status_code in (200, 201), r.text
        t = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
             "contentVersion": "1.0.0.0", "parameters": {"pw": {"type": "securestring"}},
             "resources": [{"type": UAI, "apiVersion": "2023-01-31", "name": "kvref", "location": "eastus",
                            "tags": {"pw": "[parameters('pw')]"}}]}

        def deploy(vault_name: str, secret: str = "admin") -> httpx.Response:
            ref = {"keyVault": {"id": rid(sim, rg_name, "Microsoft.KeyVault/vaults", vault_name)},
                   "secretName": secret}
            return c.put(deployment_path(sim, rg_name, "kvref"), params=API, json={
                "properties": {"mode": "Incremental", "template": t, "parameters": {"pw": {"reference": ref}}}})

        assert deploy(names[True]).status_code == 201
        assert resource(sim, rid(sim, rg_name, UAI, "kvref"), "2023-01-31")["tags"]["pw"] == "from-the-vault"
        shown = c.get(deployment_path(sim, rg_name, "kvref"), params=API).json()["properties"]["parameters"]["pw"]
        assert shown["type"] == "SecureString" and "value" not in shown and "reference" in shown
        for refused in (deploy(names[False]), deploy(names[True], "missing")):
            assert refused.status_code == 400
            assert refused.json()["error"]["code"] == "KeyVaultParameterReferenceSecretRetrieveFailed"
        assert "not enabled for template deployment" in deploy(names[False]).json()["error"]["message"]
