"""Microsoft.KeyVault's management plane through azure-mgmt-keyvault: vaults, access policies, soft delete,
recover, purge, name rules, `vaults/secrets`, and orphaned access policies after a VM's principal is deleted.

The module runs its own simulator with a wider vault-port pool: a soft-deleted vault keeps its port for the
retention period, and the session simulator's small pool is shared with the data-plane tests.
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.keyvault.secrets import SecretClient
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute.models import VirtualMachineIdentity
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.keyvault.models import (
    AccessPolicyEntry,
    Permissions,
    SecretAttributes,
    SecretCreateOrUpdateParameters,
    SecretPatchParameters,
    SecretPatchProperties,
    SecretProperties,
    Sku,
    VaultAccessPolicyParameters,
    VaultAccessPolicyProperties,
    VaultCheckNameAvailabilityParameters,
    VaultCreateOrUpdateParameters,
    VaultPatchParameters,
    VaultPatchProperties,
    VaultProperties,
)

from tests.simserver import Sim, free_range, fresh_database_url
from tests.vmspec import nic, vm_body

API = "2023-07-01"
DAY = 86400


@pytest.fixture(scope="module")
def kv_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    server = Sim(home=tmp_path_factory.mktemp("kvsim"), database_url=fresh_database_url(),
                 vault_ports=free_range(12)).start()
    yield server
    gc.collect()  # responses the SDK left unread on errors hold sockets open, and the server's shutdown waits
    server.stop()


@pytest.fixture(scope="module")
def credential(kv_sim: Sim) -> Iterator[Any]:
    # clients are closed before the server stops: an open keep-alive connection holds its shutdown up
    with kv_sim.credential() as cred:
        yield cred


@pytest.fixture(scope="module")
def kv(kv_sim: Sim, credential: Any) -> Iterator[KeyVaultManagementClient]:
    with KeyVaultManagementClient(credential, kv_sim.subscription, **kv_sim.mgmt_kwargs()) as client:
        yield client


@pytest.fixture(scope="module")
def compute(kv_sim: Sim, credential: Any) -> Iterator[ComputeManagementClient]:
    with ComputeManagementClient(credential, kv_sim.subscription, **kv_sim.mgmt_kwargs()) as client:
        yield client


@pytest.fixture(scope="module")
def arm(kv_sim: Sim) -> Iterator[httpx.Client]:
    with kv_sim.http() as client:
        yield client


@pytest.fixture
def rg(kv_sim: Sim, arm: httpx.Client, rg_name: str) -> str:
    arm.put(f"/subscriptions/{kv_sim.subscription}/resourcegroups/{rg_name}", params={"api-version": "2024-11-01"},
            json={"location": "eastus"}).raise_for_status()
    return rg_name


def vault_name() -> str:
    return f"kv{uuid.uuid4().hex[:16]}"


def entry(sim: Sim, object_id: str, tenant: str | None = None, **permissions: list[str]) -> AccessPolicyEntry:
    if "keys" in permissions:  # the SDK's attribute for the wire name "keys"
        permissions["keys_property"] = permissions.pop("keys")
    return AccessPolicyEntry(tenant_id=tenant or sim.tenant, object_id=object_id,
                             permissions=Permissions(**permissions))


def params(sim: Sim, policies: list[AccessPolicyEntry] | None, **props: Any) -> VaultCreateOrUpdateParameters:
    return VaultCreateOrUpdateParameters(location="eastus", properties=VaultProperties(
        tenant_id=props.pop("tenant_id", sim.tenant), sku=Sku(family="A", name="standard"),
        access_policies=policies, **props))


def policy_op(kv: KeyVaultManagementClient, rg: str, name: str, op: str, *entries: AccessPolicyEntry) -> Any:
    return kv.vaults.update_access_policy(rg, name, op, VaultAccessPolicyParameters(
        properties=VaultAccessPolicyProperties(access_policies=list(entries))))


def perms(vault: Any) -> dict[str, dict[str, list[str]]]:
    """objectId -> the permissions the vault lists for it (kinds that are set)."""
    return {p.object_id: {k: v for k, v in p.permissions.as_dict().items() if v is not None}
            for p in vault.properties.access_policies}


def vm_principal(sim: Sim, compute: ComputeManagementClient, rg: str, name: str = "vm1") -> str:
    with sim.http() as arm:
        nic_id = nic(arm, f"/subscriptions/{sim.subscription}/resourceGroups/{rg}")
    vm = compute.virtual_machines.begin_create_or_update(rg, name, vm_body(
        VirtualMachineIdentity(type="SystemAssigned"), name, nic_id)).result()
    return vm.identity.principal_id


def error(exc: HttpResponseError) -> tuple[int, str, str]:
    assert exc.error is not None
    return exc.status_code or 0, exc.error.code or "", exc.error.message or ""


# --- the life cycle: create → policies → patch → delete → recover → delete → purge --------------------------

def test_vault_lifecycle(kv_sim: Sim, kv: KeyVaultManagementClient, compute: ComputeManagementClient,
                         rg: str) -> None:
    principal = vm_principal(kv_sim, compute, rg)
    name = vault_name()
    vault = kv.vaults.begin_create_or_update(rg, name, params(kv_sim, [
        entry(kv_sim, principal, secrets=["get", "list"])])).result()
    lo, hi = kv_sim.vault_ports
    port = int(vault.properties.vault_uri.rsplit(":", 1)[1].rstrip("/"))
    assert vault.properties.vault_uri == f"https://localhost:{port}/" and lo <= port <= hi
    assert vault.id == (f"/subscriptions/{kv_sim.subscription}/resourceGroups/{rg}/providers/Microsoft.KeyVault/"
                        f"vaults/{name}")
    p = vault.properties
    assert (p.tenant_id, p.sku.family, p.sku.name) == (kv_sim.tenant, "A", "standard")
    # a flag the request left unset is not answered (recorded: az keyvault create)
    assert (p.enable_soft_delete, p.soft_delete_retention_in_days, p.enable_rbac_authorization) == (True, 90, None)
    assert p.enable_purge_protection is None and p.provisioning_state == "Succeeded"
    assert perms(vault) == {principal: {"secrets": ["get", "list"]}}

    assert kv.vaults.get(rg, name.upper()).properties.vault_uri == p.vault_uri  # names compare case-insensitively
    assert [v.name for v in kv.vaults.list_by_resource_group(rg)] == [name]
    assert name in [v.name for v in kv.vaults.list_by_subscription()]

    # accessPolicies/add merges permission by permission per (tenantId, objectId); new principals are appended
    deployer = str(uuid.uuid4())
    added = policy_op(kv, rg, name, "add", entry(kv_sim, principal, secrets=["Set", "get"], keys=["get"]),
                      entry(kv_sim, deployer, certificates=["all"]))
    assert added.name == "add" and added.type == "Microsoft.KeyVault/vaults/accessPolicies"
    assert added.id.endswith(f"/vaults/{name}/accessPolicies/add")
    got = kv.vaults.get(rg, name)
    assert perms(got) == {principal: {"secrets": ["get", "list", "Set"], "keys": ["get"]},
                          deployer: {"certificates": ["all"]}}
    assert [e.object_id for e in added.properties.access_policies] == [principal, deployer]
    # remove drops the listed permissions, and the entry once nothing is left
    policy_op(kv, rg, name, "remove", entry(kv_sim, principal, secrets=["set"]),
              entry(kv_sim, deployer, certificates=["all"]))
    assert perms(kv.vaults.get(rg, name)) == {principal: {"secrets": ["get", "list"], "keys": ["get"]}}
    # replace sets the permissions of the entries it names, in place, and leaves every other entry as it was
    policy_op(kv, rg, name, "add", entry(kv_sim, deployer, secrets=["list"]))
    policy_op(kv, rg, name, "replace", entry(kv_sim, principal, secrets=["get"]))
    assert perms(kv.vaults.get(rg, name)) == {principal: {"secrets": ["get"]}, deployer: {"secrets": ["list"]}}
    assert [e.object_id for e in kv.vaults.get(rg, name).properties.access_policies] == [principal, deployer]

    # PATCH merges: flags change, access policies and the vault's address stay
    patched = kv.vaults.update(rg, name, VaultPatchParameters(properties=VaultPatchProperties(
        enabled_for_deployment=True)))
    assert patched.properties.enabled_for_deployment is True
    assert patched.properties.vault_uri == p.vault_uri and len(patched.properties.access_policies) == 2

    # an ARM secret (as templates write it) lives in the vault's store and survives delete + recover
    secret = kv.secrets.create_or_update(rg, name, "db-password", SecretCreateOrUpdateParameters(
        properties=SecretProperties(value="hunter2", content_type="text/plain")))
    assert secret.properties.secret_uri == f"{p.vault_uri}secrets/db-password"
    assert secret.properties.value is None

    # delete with soft delete on: gone from the group, listed as deleted, name and port reserved
    kv.vaults.delete(rg, name)
    with pytest.raises(ResourceNotFoundError):
        kv.vaults.get(rg, name)
    deleted = kv.vaults.get_deleted(name, "eastus")
    assert deleted.name == name and deleted.type == "Microsoft.KeyVault/deletedVaults"
    assert deleted.id == (f"/subscriptions/{kv_sim.subscription}/providers/Microsoft.KeyVault/locations/eastus/"
                          f"deletedVaults/{name}")
    dp = deleted.properties
    assert dp.vault_id == vault.id and dp.location == "eastus" and dp.purge_protection_enabled is False
    assert (dp.scheduled_purge_date - dp.deletion_date).days == 90
    assert name in [d.name for d in kv.vaults.list_deleted()]
    with pytest.raises(ResourceNotFoundError):
        kv.vaults.get_deleted(name, "westus")
    with pytest.raises(ResourceExistsError) as taken:
        kv.vaults.begin_create_or_update(rg, name, params(kv_sim, [])).result()
    assert "already exists in deleted state" in error(taken.value)[2]
    check = kv.vaults.check_name_availability(VaultCheckNameAvailabilityParameters(name=name))
    assert (check.name_available, check.reason) == (False, "AlreadyExists")

    # recover (PUT createMode recover, no access policies needed): the old policies, address and secret are back
    recovered = kv.vaults.begin_create_or_update(rg, name, VaultCreateOrUpdateParameters(
        location="eastus", properties=VaultProperties(tenant_id=kv_sim.tenant, sku=Sku(family="A", name="standard"),
                                                      create_mode="recover"))).result()
    assert perms(recovered) == {principal: {"secrets": ["get"]}, deployer: {"secrets": ["list"]}}
    assert recovered.properties.vault_uri == p.vault_uri and recovered.properties.enabled_for_deployment is True
    assert kv.secrets.get(rg, name, "db-password").properties.secret_uri_with_version == \
        secret.properties.secret_uri_with_version
    assert name not in [d.name for d in kv.vaults.list_deleted()]

    # delete again and purge: the name is free at once
    kv.vaults.delete(rg, name)
    kv.vaults.begin_purge_deleted(name, "eastus").result()
    assert name not in [d.name for d in kv.vaults.list_deleted()]
    assert kv.vaults.check_name_availability(VaultCheckNameAvailabilityParameters(name=name)).name_available
    with pytest.raises(ResourceNotFoundError):
        kv.vaults.begin_purge_deleted(name, "eastus").result()


def test_arm_secrets(kv_sim: Sim, kv: KeyVaultManagementClient, credential: Any, rg: str) -> None:
    name = vault_name()
    with kv_sim.http(kv_sim.token("https://graph.microsoft.com/.default")) as graph:
        me = graph.get("/v1.0/servicePrincipals", params={"$filter": f"appId eq '{kv_sim.client_id}'"}).json()
    vault = kv.vaults.begin_create_or_update(rg, name, params(kv_sim, [
        entry(kv_sim, me["value"][0]["id"], secrets=["get", "list"])])).result()
    first = kv.secrets.create_or_update(rg, name, "s1", SecretCreateOrUpdateParameters(
        properties=SecretProperties(value="v1")))
    again = kv.secrets.create_or_update(rg, name, "s1", SecretCreateOrUpdateParameters(
        tags={"env": "test"}, properties=SecretProperties(value="v2", content_type="text/plain")))
    base = f"{vault.properties.vault_uri}secrets/s1/"
    for s in (first, again):
        assert s.properties.secret_uri_with_version.startswith(base)
        assert len(s.properties.secret_uri_with_version.rsplit("/", 1)[1]) == 32
    assert first.properties.secret_uri_with_version != again.properties.secret_uri_with_version
    got = kv.secrets.get(rg, name, "s1")
    assert got.properties.secret_uri_with_version == again.properties.secret_uri_with_version
    assert (got.properties.content_type, got.tags, got.location) == ("text/plain", {"env": "test"}, "eastus")
    assert got.properties.attributes.enabled is True and got.properties.value is None
    assert [s.name for s in kv.secrets.list(rg, name)] == ["s1"]
    with pytest.raises(ResourceNotFoundError):
        kv.secrets.get(rg, name, "missing")
    # the value landed in the vault's own store: the data plane serves it at the address ARM reported
    with SecretClient(vault.properties.vault_uri, credential, verify_challenge_resource=False,
                      connection_verify=kv_sim.ca) as client:
        read = client.get_secret("s1")
    assert (read.value, read.id) == ("v2", again.properties.secret_uri_with_version)
    # Secrets_Update (PATCH): attributes and tags change the current version; a value makes a new one
    tagged = kv.secrets.update(rg, name, "s1", SecretPatchParameters(
        tags={"env": "prod"}, properties=SecretPatchProperties(attributes=SecretAttributes(enabled=False))))
    assert tagged.properties.secret_uri_with_version == again.properties.secret_uri_with_version
    assert (tagged.tags, tagged.properties.attributes.enabled, tagged.properties.content_type) == (
        {"env": "prod"}, False, "text/plain")
    renewed = kv.secrets.update(rg, name, "s1", SecretPatchParameters(properties=SecretPatchProperties(value="v3")))
    assert renewed.properties.secret_uri_with_version != again.properties.secret_uri_with_version
    assert (renewed.tags, renewed.properties.attributes.enabled) == ({"env": "prod"}, False)  # carried over
    with pytest.raises(ResourceNotFoundError):
        kv.secrets.update(rg, name, "missing", SecretPatchParameters(tags={}))
    with SecretClient(vault.properties.vault_uri, credential, verify_challenge_resource=False,
                      connection_verify=kv_sim.ca) as client:
        versions = {p.version: p.enabled for p in client.list_properties_of_secret_versions("s1")}
    assert versions[tagged.properties.secret_uri_with_version.rsplit("/", 1)[1]] is False
    assert len(versions) == 3
    _purge(kv, rg, name)


# --- names --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["kv", "1vault", "vault-", "va--ult", "v" * 25, "vault_1"])
def test_invalid_vault_names(kv_sim: Sim, arm: httpx.Client, kv: KeyVaultManagementClient, rg: str,
                             bad: str) -> None:
    r = arm.put(f"/subscriptions/{kv_sim.subscription}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{bad}",
                params={"api-version": API}, json={"location": "eastus", "properties": {}})
    assert (r.status_code, r.json()["error"]["code"]) == (400, "VaultNameNotValid")
    check = kv.vaults.check_name_availability(VaultCheckNameAvailabilityParameters(name=bad))
    assert (check.name_available, check.reason) == (False, "AccountNameInvalid")
    assert "between 3-24 alphanumeric characters" in check.message


def test_name_rules_and_conflicts(kv_sim: Sim, kv: KeyVaultManagementClient, arm: httpx.Client, rg: str) -> None:
    with pytest.raises(HttpResponseError) as bad:
        kv.vaults.begin_create_or_update(rg, "va--ult", params(kv_sim, [])).result()
    assert error(bad.value)[:2] == (400, "VaultNameNotValid")
    name = vault_name()
    assert kv.vaults.check_name_availability(VaultCheckNameAvailabilityParameters(name=name)).name_available
    kv.vaults.begin_create_or_update(rg, name, params(kv_sim, [])).result()
    check = kv.vaults.check_name_availability(VaultCheckNameAvailabilityParameters(name=name.upper()))
    assert (check.name_available, check.reason) == (False, "AlreadyExists")
    other = f"{rg}-b"
    arm.put(f"/subscriptions/{kv_sim.subscription}/resourcegroups/{other}", params={"api-version": "2024-11-01"},
            json={"location": "eastus"}).raise_for_status()
    with pytest.raises(ResourceExistsError) as taken:  # vault names are global
        kv.vaults.begin_create_or_update(other, name.upper(), params(kv_sim, [])).result()
    assert error(taken.value)[:2] == (409, "VaultAlreadyExists")
    assert kv.vaults.begin_create_or_update(rg, name, params(kv_sim, [])).result().name == name  # update: 200
    # PATCH replaces the access-policy list when it is given, and keeps everything it does not name
    oid = str(uuid.uuid4())
    patched = kv.vaults.update(rg, name, VaultPatchParameters(tags={"team": "a"}, properties=VaultPatchProperties(
        access_policies=[entry(kv_sim, oid, secrets=["get"])])))
    assert perms(patched) == {oid: {"secrets": ["get"]}} and patched.tags == {"team": "a"}
    assert patched.properties.sku.name == "standard" and patched.properties.soft_delete_retention_in_days == 90
    _purge(kv, rg, name)


# --- bad input ----------------------------------------------------------------------------------------------

def test_bad_input(kv_sim: Sim, kv: KeyVaultManagementClient, arm: httpx.Client, rg: str) -> None:
    oid = str(uuid.uuid4())
    name = vault_name()

    def refused(body: VaultCreateOrUpdateParameters) -> tuple[int, str, str]:
        with pytest.raises(HttpResponseError) as exc:
            kv.vaults.begin_create_or_update(rg, name, body).result()
        return error(exc.value)

    assert refused(params(kv_sim, [], tenant_id=str(uuid.uuid4())))[:2] == (400, "BadRequest")
    status, _, msg = refused(params(kv_sim, [entry(kv_sim, oid, tenant=str(uuid.uuid4()), secrets=["get"])]))
    assert status == 400 and msg.startswith("Invalid value found at accessPolicies[0].TenantId")
    status, _, msg = refused(params(kv_sim, [entry(kv_sim, oid, secrets=["get"]), entry(kv_sim, oid.upper(),
                                                                                        keys=["get"])]))
    assert status == 400 and msg == f"Invalid value found at accessPolicies[1].ObjectId: {oid.upper()}"
    assert refused(params(kv_sim, [entry(kv_sim, oid, secrets=["read"])])) == (
        400, "BadRequest", "An invalid value was provided for 'accessPolicies'.")
    assert refused(params(kv_sim, None)) == (400, "BadRequest", "The parameter accessPolicies is not specified.")
    assert refused(params(kv_sim, [], soft_delete_retention_in_days=5))[0] == 400
    assert refused(params(kv_sim, [], soft_delete_retention_in_days=91))[0] == 400
    assert "cannot be set to false" in refused(params(kv_sim, [], enable_purge_protection=False))[2]
    too_many = [{"tenantId": kv_sim.tenant, "objectId": str(uuid.uuid4()), "permissions": {"secrets": ["get"]}}
                for _ in range(1025)]
    vault_id = f"/subscriptions/{kv_sim.subscription}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}"
    r = arm.put(vault_id, params={"api-version": API}, json={"location": "eastus", "properties": {
        "tenantId": kv_sim.tenant, "sku": {"family": "A", "name": "standard"}, "accessPolicies": too_many}})
    assert r.status_code == 400
    r = arm.put(vault_id, params={"api-version": API}, json={"location": "eastus", "properties": {
        "tenantId": kv_sim.tenant, "sku": {"family": "B", "name": "standard"}, "accessPolicies": []}})
    assert r.status_code == 400
    with pytest.raises(ResourceNotFoundError):  # nothing was written by any of the refusals
        kv.vaults.get(rg, name)

    # capitalised and "all" permission names are accepted and echoed as sent; 1024 entries are allowed
    vault = kv.vaults.begin_create_or_update(rg, name, params(kv_sim, [
        entry(kv_sim, oid, secrets=["Get", "LIST"], keys=["all"], storage=["getsas"])],
        soft_delete_retention_in_days=7)).result()
    assert perms(vault) == {oid: {"secrets": ["Get", "LIST"], "keys": ["all"], "storage": ["getsas"]}}
    with pytest.raises(HttpResponseError) as dup:
        policy_op(kv, rg, name, "replace", entry(kv_sim, oid, secrets=["get"]), entry(kv_sim, oid, keys=["get"]))
    assert dup.value.status_code == 400
    with pytest.raises(HttpResponseError) as other_tenant:
        policy_op(kv, rg, name, "add", entry(kv_sim, oid, tenant=str(uuid.uuid4()), secrets=["get"]))
    assert other_tenant.value.status_code == 400
    # the retention period is fixed at creation; soft delete cannot be switched off again
    assert "can't be modified" in refused(params(kv_sim, [], soft_delete_retention_in_days=30))[2]
    assert "irreversible" in refused(params(kv_sim, [], soft_delete_retention_in_days=7, enable_soft_delete=False))[2]
    assert kv.vaults.get(rg, name).properties.soft_delete_retention_in_days == 7
    _purge(kv, rg, name)


def test_purge_protection_is_irreversible(kv_sim: Sim, kv: KeyVaultManagementClient, rg: str) -> None:
    name = vault_name()
    vault = kv.vaults.begin_create_or_update(rg, name, params(kv_sim, [], enable_purge_protection=True,
                                                              soft_delete_retention_in_days=7)).result()
    assert vault.properties.enable_purge_protection is True
    with pytest.raises(HttpResponseError) as off:
        kv.vaults.update(rg, name, VaultPatchParameters(properties=VaultPatchProperties(
            enable_purge_protection=False)))
    assert error(off.value)[0] == 400 and "irreversible" in error(off.value)[2]
    # a full PUT that leaves the flag out keeps it on
    assert kv.vaults.begin_create_or_update(rg, name, params(kv_sim, [], soft_delete_retention_in_days=7)).result(
    ).properties.enable_purge_protection is True
    kv.vaults.delete(rg, name)
    assert kv.vaults.get_deleted(name, "eastus").properties.purge_protection_enabled is True
    with pytest.raises(HttpResponseError) as purge:
        kv.vaults.begin_purge_deleted(name, "eastus").result()
    assert purge.value.status_code == 409
    assert name in [d.name for d in kv.vaults.list_deleted()]  # still there; the retention period purges it


def test_soft_delete_disabled_purges_at_once(kv_sim: Sim, kv: KeyVaultManagementClient, rg: str) -> None:
    name = vault_name()
    kv.vaults.begin_create_or_update(rg, name, params(kv_sim, [], enable_soft_delete=False)).result()
    kv.vaults.delete(rg, name)
    assert name not in [d.name for d in kv.vaults.list_deleted()]
    assert kv.vaults.check_name_availability(VaultCheckNameAvailabilityParameters(name=name)).name_available


# --- orphans ------------------------------------------------------------------------------------------------

def test_orphaned_access_policy_stays_and_is_audited(kv_sim: Sim, kv: KeyVaultManagementClient,
                                                      compute: ComputeManagementClient, arm: httpx.Client,
                                                      rg: str) -> None:
    principal = vm_principal(kv_sim, compute, rg, "vm-orphan")
    name = vault_name()
    vault = kv.vaults.begin_create_or_update(rg, name, params(kv_sim, [
        entry(kv_sim, principal, secrets=["get"])])).result()
    assert not [o for o in arm.get("/_sim/audit").json()["orphanedAccessPolicies"] if o["objectId"] == principal]
    compute.virtual_machines.begin_delete(rg, "vm-orphan").result()
    assert perms(kv.vaults.get(rg, name)) == {principal: {"secrets": ["get"]}}  # nothing cleans the entry up
    found = [o for o in arm.get("/_sim/audit").json()["orphanedAccessPolicies"] if o["objectId"] == principal]
    assert len(found) == 1
    assert found[0]["vault"] == vault.id and found[0]["tenantId"] == kv_sim.tenant
    assert found[0]["vaultState"] == "active" and found[0]["principalDeletedAt"]
    events = arm.get("/_sim/events", params={"kind": "servicePrincipal.deleted"}).json()["value"]
    assert any(e["subject"] == principal for e in events)
    _purge(kv, rg, name)


# --- the retention period and the port pool, on a simulator of the test's own ---------------------------------

def test_retention_purges_on_the_simulated_clock_and_ports_never_limit_vaults(tmp_path: Path) -> None:
    """Ports of ARM_SIM_VAULT_PORTS are lent to active vaults while one is free; a vault past them is reached by
    its name on the main listener; soft delete gives the port back at once and the clock purges the name."""
    sim = Sim(home=tmp_path / "sim", database_url=fresh_database_url(), vault_ports=free_range(2)).start()
    try:
        with sim.http() as arm:
            arm.put(f"/subscriptions/{sim.subscription}/resourcegroups/rg1", params={"api-version": "2024-11-01"},
                    json={"location": "eastus"}).raise_for_status()
            base = f"/subscriptions/{sim.subscription}/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/"
            body = {"location": "eastus", "properties": {"tenantId": sim.tenant, "accessPolicies": [],
                                                         "sku": {"family": "A", "name": "premium"},
                                                         "softDeleteRetentionInDays": 7}}
            uris = [arm.put(base + n, params={"api-version": API}, json=body).json()["properties"]["vaultUri"]
                    for n in ("kv-one", "kv-two")]
            assert sorted(uris) == [f"https://localhost:{p}/" for p in range(sim.vault_ports[0],
                                                                             sim.vault_ports[1] + 1)]
            full = arm.put(base + "kv-three", params={"api-version": API}, json=body)
            port = sim.url.rsplit(":", 1)[1]
            assert full.status_code == 200 and full.json()["properties"]["vaultUri"] == (
                f"https://kv-three.vault.localhost:{port}/")
            assert arm.delete(base + "kv-one", params={"api-version": API}).status_code == 200
            four = arm.put(base + "kv-four", params={"api-version": API}, json=body)
            assert four.status_code == 200 and four.json()["properties"]["vaultUri"] == uris[0]  # the port given back
            assert arm.put(base + "kv-one", params={"api-version": API}, json=body).status_code == 409  # reserved
            arm.post("/_sim/clock/advance", json={"duration": "6d"}).raise_for_status()
        deleted = f"/subscriptions/{sim.subscription}/providers/Microsoft.KeyVault/deletedVaults"
        with sim.http() as arm:  # a new token: the old one expired with the clock
            assert [d["name"] for d in arm.get(deleted, params={"api-version": API}).json()["value"]] == ["kv-one"]
            arm.post("/_sim/clock/advance", json={"duration": "2d"}).raise_for_status()
        with sim.http() as arm:
            assert arm.get(deleted, params={"api-version": API}).json()["value"] == []  # purged by the clock
            again = arm.put(base + "kv-one", params={"api-version": API}, json=body)
            assert again.status_code == 200 and again.json()["properties"]["vaultUri"].startswith(
                "https://kv-one.vault.localhost:")  # both ports are lent: by name
            purged = arm.get("/_sim/events", params={"kind": "vault.purged"}).json()["value"]
            assert [e["details"]["reason"] for e in purged] == ["retention expired"]
    finally:
        sim.stop()


def _purge(kv: KeyVaultManagementClient, rg: str, name: str) -> None:
    """Delete and purge a vault so its port goes back to the pool."""
    kv.vaults.delete(rg, name)
    kv.vaults.begin_purge_deleted(name, "eastus").result()


def test_a_vault_may_trust_another_tenant(kv_sim: Sim, kv: KeyVaultManagementClient, rg: str) -> None:
    """As in Azure (a vault keeps its tenantId when its subscription moves; `az keyvault create` once bound vaults to
    the caller's default tenant), a vault may name another tenant than its subscription's. Its access-policy
    entries must name that tenant, and its data plane answers only that tenant's tokens."""
    with kv_sim.http() as c:
        other = c.post("/_sim/tenants", json={"displayName": "vault-tenant"}).json()["tenantId"]
    name = vault_name()
    with pytest.raises(HttpResponseError) as e:  # an entry of the subscription's tenant, not the vault's
        kv.vaults.begin_create_or_update(rg, name, params(kv_sim, [entry(kv_sim, str(uuid.uuid4()), secrets=["get"])],
                                                          tenant_id=other)).result()
    assert error(e.value)[:2] == (400, "BadRequest") and "TenantId" in error(e.value)[2]
    vault = kv.vaults.begin_create_or_update(rg, name, params(
        kv_sim, [entry(kv_sim, str(uuid.uuid4()), other, secrets=["get"])], tenant_id=other)).result()
    assert vault.properties.tenant_id == other
    r = httpx.get(f"{vault.properties.vault_uri}secrets", params={"api-version": "7.4"}, verify=kv_sim.ca,
                  headers={"Authorization": f"Bearer {kv_sim.token('https://vault.azure.net/.default')}"})
    assert r.status_code == 401, r.text
    assert r.json()["error"]["message"].startswith(f"AKV10032: Invalid issuer. Expected one of "
                                                   f"https://sts.windows.net/{other}/, found ")


def test_access_policy_operations_in_a_template(kv_sim: Sim, kv: KeyVaultManagementClient, rg: str) -> None:
    """A template's `vaults/accessPolicies` named add, replace and remove: the same rules as the REST operation
    (one write path), each touching only the entries it names."""
    name, a, b = vault_name(), str(uuid.uuid4()), str(uuid.uuid4())
    kv.vaults.begin_create_or_update(rg, name, params(kv_sim, [
        entry(kv_sim, a, secrets=["get", "list"], keys=["get"]), entry(kv_sim, b, secrets=["list"])])).result()

    def op(operation: str, object_id: str, **permissions: list[str]) -> None:
        template = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                    "contentVersion": "1.0.0.0", "resources": [{
                        "type": "Microsoft.KeyVault/vaults/accessPolicies", "apiVersion": API,
                        "name": f"{name}/{operation}", "properties": {"accessPolicies": [{
                            "tenantId": kv_sim.tenant, "objectId": object_id, "permissions": permissions}]}}]}
        rm.deployments.begin_create_or_update(rg, f"ap-{operation}-{uuid.uuid4().hex[:6]}", {
            "properties": {"mode": "Incremental", "template": template}}).result()

    rm = kv_sim.resource_client()
    op("add", a, secrets=["set"], certificates=["get"])
    assert perms(kv.vaults.get(rg, name)) == {a: {"secrets": ["get", "list", "set"], "keys": ["get"],
                                                  "certificates": ["get"]}, b: {"secrets": ["list"]}}
    op("replace", a, secrets=["get"])
    assert perms(kv.vaults.get(rg, name)) == {a: {"secrets": ["get"]}, b: {"secrets": ["list"]}}
    op("remove", b, secrets=["list"])
    assert perms(kv.vaults.get(rg, name)) == {a: {"secrets": ["get"]}}
    _purge(kv, rg, name)


def test_create_and_recover_answer_200_and_network_acls_as_azure_shows_them(kv_sim: Sim, arm: httpx.Client,
                                                                             rg: str) -> None:
    """A vault's creation and its recovery (createMode recover) answer 200, as Azure does in the az CLI's
    recordings; the default ACL (AzureServices, Allow, no rules) is not shown; any other ACL shows both rule
    lists, empty ones too; subnet ids come back lower-case; publicNetworkAccess "" counts as unset."""
    name = vault_name()
    url = f"/subscriptions/{kv_sim.subscription}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}"
    props = {"tenantId": kv_sim.tenant, "sku": {"family": "A", "name": "standard"}, "accessPolicies": [],
             "publicNetworkAccess": "", "networkAcls": {"bypass": "AzureServices", "defaultAction": "Allow"}}
    r = arm.put(url, params={"api-version": API}, json={"location": "eastus", "properties": props})
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["publicNetworkAccess"] == "Enabled" and "networkAcls" not in r.json()["properties"]

    deny = {**props, "networkAcls": {"bypass": "AzureServices", "defaultAction": "Deny"}}
    r = arm.put(url, params={"api-version": API}, json={"location": "eastus", "properties": deny})
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["networkAcls"] == {"bypass": "AzureServices", "defaultAction": "Deny",
                                                     "ipRules": [], "virtualNetworkRules": []}
    subnet = (f"/subscriptions/{kv_sim.subscription}/resourceGroups/{rg}/providers/Microsoft.Network/"
              "virtualNetworks/vnet1/subnets/default")
    rules = {**props, "networkAcls": {"defaultAction": "Allow", "ipRules": [{"value": "1.2.3.4/32"}],
                                      "virtualNetworkRules": [{"id": subnet}]}}
    r = arm.patch(url, params={"api-version": API}, json={"properties": {"networkAcls": rules["networkAcls"],
                                                                           "publicNetworkAccess": ""}})
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["networkAcls"] == {"bypass": "AzureServices", "defaultAction": "Allow",
                                                     "ipRules": [{"value": "1.2.3.4/32"}],
                                                     "virtualNetworkRules": [{"id": subnet.lower()}]}
    assert r.json()["properties"]["publicNetworkAccess"] == "Enabled"
    assert arm.get(url, params={"api-version": API}).json()["properties"]["networkAcls"]["ipRules"] == [
        {"value": "1.2.3.4/32"}]

    assert arm.delete(url, params={"api-version": API}).status_code == 200
    r = arm.put(url, params={"api-version": API},
                json={"location": "eastus", "properties": {**props, "createMode": "recover"}})
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["networkAcls"]["virtualNetworkRules"] == [{"id": subnet.lower()}]
