"""The Key Vault secrets data plane through real clients: azure-keyvault-secrets' SecretClient as the deployer and
as code inside a VM (IMDS) and a site (App Service endpoint), raw HTTP for the protocol (challenge, AKV errors,
paging), access policies and RBAC-mode vaults.

The module runs its own simulator with a wider vault port pool (one port per vault) and synchronous ARM writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity import ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.keyvault.models import (
    AccessPolicyEntry,
    Permissions,
    Sku,
    VaultCreateOrUpdateParameters,
    VaultProperties,
)
from azure.mgmt.msi import ManagedServiceIdentityClient

from tests.simserver import Sim, free_range, fresh_database_url
from tests.test_imds import identities
from tests.vmspec import nic, vm_body
from tests.webspec import plan

KV_SCOPE = "https://vault.azure.net/.default"
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
AKV_HELP = "For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287"


# --- shared with test_keyvault_keys and test_seed_scenario ------------------------------------------------------

def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def start_kv_sim(tmp_path_factory: pytest.TempPathFactory) -> Sim:
    """A simulator with a data-plane port for each of a module's vaults."""
    return Sim(home=tmp_path_factory.mktemp("kvsim"), database_url=fresh_database_url(),
               vault_ports=free_range(16), extra_env={"ARM_SIM_LRO": "sync"}).start()


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


class Env:
    """A simulator plus the deployer's management clients and a resource group."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self.credential = sim.credential()
        self.kvm = KeyVaultManagementClient(self.credential, sim.subscription, **sim.mgmt_kwargs())
        self.compute = ComputeManagementClient(self.credential, sim.subscription, **sim.mgmt_kwargs())
        self.rg = unique("rg-kv-")
        with sim.resource_client(self.credential) as resources:
            resources.resource_groups.create_or_update(self.rg, {"location": "eastus"})
        self.deployer_oid = claims_of(sim.token())["oid"]

    def close(self) -> None:
        self.kvm.close()
        self.compute.close()
        self.credential.close()

    def policy(self, object_id: str, secrets: tuple[str, ...] = (), keys: tuple[str, ...] = ()) -> AccessPolicyEntry:
        return AccessPolicyEntry(tenant_id=self.sim.tenant, object_id=object_id,
                                 permissions=Permissions(secrets=list(secrets), keys_property=list(keys)))

    def vault(self, policies: list[AccessPolicyEntry] | None = None, **props: Any) -> Any:
        """A new vault through azure-mgmt-keyvault; by default the deployer may do everything with secrets/keys."""
        if policies is None:
            policies = [self.policy(self.deployer_oid, ("all",), ("all",))]
        params = VaultCreateOrUpdateParameters(location="eastus", properties=VaultProperties(
            tenant_id=self.sim.tenant, sku=Sku(family="A", name="standard"), access_policies=policies, **props))
        vault = self.kvm.vaults.begin_create_or_update(self.rg, unique("kv"), params).result()
        assert vault.properties.vault_uri.endswith("/")
        return vault

    def vm(self, name: str, identity: Any) -> Any:
        with self.sim.http() as arm:
            nic_id = nic(arm, f"/subscriptions/{self.sim.subscription}/resourceGroups/{self.rg}")
        return self.compute.virtual_machines.begin_create_or_update(self.rg, name, vm_body(identity, name,
                                                                                           nic_id)).result()

    def endpoint(self, resource_id: str) -> dict[str, Any]:
        with self.sim.http() as arm:
            r = arm.get("/_sim/imds-endpoint", params={"resourceId": resource_id})
        assert r.status_code == 200, r.text
        return r.json()

    def assign(self, scope: str, role: str, principal: str) -> None:
        body = {"properties": {"principalId": principal, "principalType": "ServicePrincipal", "roleDefinitionId":
                               f"/subscriptions/{self.sim.subscription}/providers/Microsoft.Authorization/"
                               f"roleDefinitions/{role}"}}
        with self.sim.http() as arm:
            r = arm.put(f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
                        params={"api-version": "2022-04-01"}, json=body)
        assert r.status_code == 201, r.text

    def events(self, **filters: str) -> list[dict[str, Any]]:
        with self.sim.http() as arm:
            r = arm.get("/_sim/events", params=filters)
        assert r.status_code == 200, r.text
        return r.json()["value"]

    def secrets(self, vault_uri: str, credential: Any = None) -> SecretClient:
        return SecretClient(vault_uri, credential or self.credential, verify_challenge_resource=False,
                            connection_verify=self.sim.ca)


def run_inside(monkeypatch: pytest.MonkeyPatch) -> Any:
    """`enter(endpoint)`: code from here on runs in that VM (IMDS) or site (endpoint with `header`)."""
    for name in ("AZURE_POD_IDENTITY_AUTHORITY_HOST", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT",
                 "MSI_SECRET", "IMDS_ENDPOINT", "IDENTITY_SERVER_THUMBPRINT"):
        monkeypatch.delenv(name, raising=False)

    def enter(ep: dict[str, Any]) -> None:
        if ep["kind"] == "vm":
            monkeypatch.delenv("IDENTITY_ENDPOINT", raising=False)
            monkeypatch.delenv("IDENTITY_HEADER", raising=False)
            monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", ep["endpoint"])
        else:
            monkeypatch.delenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", raising=False)
            monkeypatch.setenv("IDENTITY_ENDPOINT", ep["endpoint"])
            monkeypatch.setenv("IDENTITY_HEADER", ep["header"])

    return enter


def refused(call: Callable[[], Any], status: int = 403) -> dict[str, Any]:
    """Run a client call that must fail with `status`; return Key Vault's error body.

    The exception is not kept: a live error response holds its connection open, which stalls the server's
    shutdown at the end of the module.
    """
    try:
        call()
    except HttpResponseError as e:
        assert e.status_code == status, e
        return dict(e.response.json()["error"])
    raise AssertionError(f"the call succeeded; expected HTTP {status}")


def access_denied(claims: dict[str, Any], family: str, permission: str, vault: Any) -> dict[str, Any]:
    """Key Vault's access-policy refusal, exactly."""
    caller = f"appid={claims['appid']};oid={claims['oid']};iss={claims['iss']}"
    return {"code": "Forbidden", "innererror": {"code": "AccessDenied"},
            "message": f"The user, group or application '{caller}' does not have {family} {permission} permission on "
                       f"key vault '{vault.name};location={vault.location}'. {AKV_HELP}"}


def mi_claims(credential: Any) -> dict[str, Any]:
    return claims_of(credential.get_token(KV_SCOPE).token)


# --- fixtures -------------------------------------------------------------------------------------------------

def kv_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """A module's simulator with its vaults' helpers (the `env` fixture here and in the modules that reuse it)."""
    sim = start_kv_sim(tmp_path_factory)
    e = Env(sim)
    yield e
    e.close()
    sim.stop()


env = pytest.fixture(scope="module", name="env")(kv_env)  # (other modules import it by this name)


@pytest.fixture(scope="module")
def vault(env: Env) -> Any:
    return env.vault()


@pytest.fixture
def inside(monkeypatch: pytest.MonkeyPatch) -> Any:
    return run_inside(monkeypatch)


# --- tests ----------------------------------------------------------------------------------------------------

def test_secret_lifecycle_with_secret_client(env: Env, vault: Any) -> None:
    uri = vault.properties.vault_uri
    with env.secrets(uri) as sc:
        first = sc.set_secret("app-password", "v1", content_type="text/plain", tags={"team": "id"})
        assert first.id == f"{uri}secrets/app-password/{first.properties.version}" and "//secrets" not in first.id
        assert len(first.properties.version) == 32 and int(first.properties.version, 16) >= 0
        assert first.properties.content_type == "text/plain" and first.properties.tags == {"team": "id"}
        assert first.properties.recovery_level == "Recoverable+Purgeable"
        assert first.properties.recoverable_days == 90 and first.properties.vault_url == uri.rstrip("/")
        second = sc.set_secret("app-password", "v2")
        assert sc.get_secret("app-password").value == "v2"  # latest: GET /secrets/{name}/ (empty version)
        assert sc.get_secret("app-password", first.properties.version).value == "v1"
        versions = {p.version for p in sc.list_properties_of_secret_versions("app-password")}
        assert versions == {first.properties.version, second.properties.version}

        for i in range(4):
            sc.set_secret(f"paged-{i}", "x")
        listed = list(sc.list_properties_of_secrets(max_page_size=2))  # follows nextLink with $skiptoken
        assert [p.name for p in listed] == ["app-password", "paged-0", "paged-1", "paged-2", "paged-3"]
        assert all(p.version is None for p in listed)

        # disable one version: reading it is refused, its properties are still listed
        sc.update_secret_properties("app-password", second.properties.version, enabled=False, content_type="pw")
        err = refused(lambda: sc.get_secret("app-password"))
        assert err == {"code": "Forbidden", "message": "Operation get is not allowed on a disabled secret.",
                              "innererror": {"code": "SecretDisabled"}}
        sc.update_secret_properties("app-password", second.properties.version, enabled=True)

        err = refused(lambda: sc.get_secret("never-set"), 404)
        assert err == {
            "code": "SecretNotFound",
            "message": "A secret with (name/id) never-set was not found in this key vault. If you recently deleted "
                       "this secret you may be able to recover it using the correct recovery command. For help "
                       "resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"}

        # soft delete: the name is reserved until recovered or purged
        deleted = sc.begin_delete_secret("app-password").result()
        assert deleted.recovery_id == f"{uri}deletedsecrets/app-password"
        assert (deleted.scheduled_purge_date - deleted.deleted_date).days == 90
        assert [d.name for d in sc.list_deleted_secrets()] == ["app-password"]
        assert sc.get_deleted_secret("app-password").properties.version == second.properties.version
        err = refused(lambda: sc.set_secret("app-password", "v3"), 409)
        assert err == {
            "code": "Conflict", "innererror": {"code": "ObjectIsDeletedButRecoverable"},
            "message": "Secret app-password is currently in a deleted but recoverable state, and its name cannot be "
                       "reused; in this state, the secret can only be recovered or purged."}
        sc.begin_recover_deleted_secret("app-password").result()
        assert sc.get_secret("app-password").value == "v2"

        # backup, purge, restore: every version comes back
        blob = sc.backup_secret("app-password")
        sc.begin_delete_secret("app-password").result()
        sc.purge_deleted_secret("app-password")
        refused(lambda: sc.get_deleted_secret("app-password"), 404)
        restored = sc.restore_secret_backup(blob)
        assert restored.name == "app-password" and restored.version == second.properties.version
        assert sc.get_secret("app-password", first.properties.version).value == "v1"
        refused(lambda: sc.restore_secret_backup(blob), 409)  # the name exists again
        err = refused(lambda: sc.restore_secret_backup(b"\x00" * 64), 400)
        assert err["message"] == "Backup blob contains invalid or corrupt version."


def test_protocol_challenge_errors_and_paging(env: Env, vault: Any) -> None:
    uri = vault.properties.vault_uri
    kv_token = env.sim.token(KV_SCOPE)
    plain = httpx.Client(verify=env.sim.ca, timeout=30)
    with plain:
        # no bearer token: 401 with the challenge azure-keyvault parses the tenant from
        r = plain.put(f"{uri}secrets/s1", params={"api-version": "7.4"}, json={"value": "x"})
        assert r.status_code == 401
        assert r.json() == {"error": {"code": "Unauthorized", "message": "Request is missing a Bearer or PoP token."}}
        assert r.headers["www-authenticate"] == (f'Bearer authorization="{env.sim.url}/{env.sim.tenant}", '
                                                 'resource="https://vault.azure.net"')
        # an ARM token: AKV10022
        r = plain.get(f"{uri}secrets", params={"api-version": "7.4"},
                      headers={"Authorization": f"Bearer {env.sim.token()}"})
        assert r.status_code == 401 and "www-authenticate" in r.headers
        assert r.json()["error"] == {"code": "Unauthorized", "message": "AKV10022: Invalid audience. Expected "
                                     "https://vault.azure.net, found: https://management.azure.com."}
        # a token from another tenant: AKV10032
        with env.sim.http() as arm:
            other = arm.post("/_sim/tenants", json={}).json()["tenantId"]
            app = arm.post("/_sim/applications", json={"displayName": "foreign", "tenantId": other}).json()
        foreign = httpx.post(f"{env.sim.url}/{other}/oauth2/v2.0/token", verify=env.sim.ca, data={
            "grant_type": "client_credentials", "client_id": app["appId"], "client_secret": app["clientSecret"],
            "scope": KV_SCOPE}).json()["access_token"]
        r = plain.get(f"{uri}secrets", params={"api-version": "7.4"}, headers={"Authorization": f"Bearer {foreign}"})
        assert r.status_code == 401 and r.json()["error"]["message"] == (
            f"AKV10032: Invalid issuer. Expected one of https://sts.windows.net/{env.sim.tenant}/, found "
            f"https://sts.windows.net/{other}/.")

        auth = {"Authorization": f"Bearer {kv_token}"}
        r = plain.get(f"{uri}secrets", headers=auth)
        assert r.status_code == 400 and r.json()["error"]["code"] == "BadParameter"
        r = plain.put(f"{uri}secrets/bad_name", params={"api-version": "7.4"}, json={"value": "x"}, headers=auth)
        assert r.status_code == 400 and r.json() == {"error": {
            "code": "BadParameter", "message": "The request URI contains an invalid name: bad_name"}}
        # the JS SDK percent-encodes the query key
        r = plain.put(f"{uri}secrets/proto?api%2Dversion=7.4", json={"value": "x", "attributes": {"exp": 4102444800}},
                      headers=auth)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"value", "id", "attributes"} and body["attributes"]["exp"] == 4102444800
        assert all(isinstance(body["attributes"][k], int) for k in ("created", "updated", "exp"))
        assert body["attributes"]["recoveryLevel"] == "Recoverable+Purgeable"
        version = body["id"].rsplit("/", 1)[1]
        for path in (f"secrets/proto/{version}", "secrets/proto/", "secrets/proto"):
            r = plain.get(f"{uri}{path}", params={"api-version": "2025-07-01"}, headers=auth)
            assert r.status_code == 200 and r.json()["id"] == body["id"], path
        # a second name, so that a page of one has a next page whatever else ran in this vault first
        assert plain.put(f"{uri}secrets/proto-2", params={"api-version": "7.4"}, json={"value": "y"},
                         headers=auth).status_code == 200
        r = plain.get(f"{uri}secrets", params={"api-version": "7.4", "maxresults": "1"}, headers=auth)
        page = r.json()
        assert len(page["value"]) == 1 and "value" not in page["value"][0]
        assert page["nextLink"].startswith(f"{uri}secrets?api-version=7.4&$skiptoken=")
        slash = env.sim.token("https://vault.azure.net//.default")  # the audience with a trailing slash
        assert claims_of(slash)["aud"] == "https://vault.azure.net/"
        r = plain.get(f"{uri}secrets", params={"api-version": "7.4"}, headers={"Authorization": f"Bearer {slash}"})
        assert r.status_code == 200, r.text
        r = plain.get(f"{uri}secrets", params={"api-version": "7.4", "maxresults": "26"}, headers=auth)
        assert r.status_code == 400 and r.json()["error"]["code"] == "BadParameter"
        r = plain.get(f"{uri}storage", params={"api-version": "7.4"}, headers=auth)
        assert r.status_code == 501 and r.json()["error"]["code"] == "NotImplementedInSimulator"
        lo, hi = env.sim.vault_ports
        free = [p for p in range(lo, hi + 1) if f":{p}/" not in uri][-1]
        r = plain.get(f"https://localhost:{free}/secrets", params={"api-version": "7.4"}, headers=auth)
        assert r.status_code == 404 and r.json()["error"]["code"] == "VaultNotFound"
    refused = [e["details"] for e in env.events(kind="token.rejected") if e["subject"] == "keyvault"]
    assert {"missing", "wrong audience", "tenant"} <= {d["reason"] for d in refused}


def test_recovery_levels_and_purge_protection(env: Env) -> None:
    protected = env.vault(enable_purge_protection=True, soft_delete_retention_in_days=7)
    with env.secrets(protected.properties.vault_uri) as sc:
        s = sc.set_secret("guarded", "x")
        assert s.properties.recovery_level == "CustomizedRecoverable" and s.properties.recoverable_days == 7
        deleted = sc.begin_delete_secret("guarded").result()
        assert (deleted.scheduled_purge_date - deleted.deleted_date).days == 7
        err = refused(lambda: sc.purge_deleted_secret("guarded"))
        assert err["message"] == (
            'Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault service '
            f"will automatically purge it after the retention period has passed. Vault: {protected.name};"
            "location=eastus")
    # without soft delete: Purgeable, and a delete is final (the name is free at once)
    plain = env.vault(enable_soft_delete=False)
    with env.secrets(plain.properties.vault_uri) as sc:
        s = sc.set_secret("gone", "x")
        assert s.properties.recovery_level == "Purgeable" and s.properties.recoverable_days is None
        deleted = sc.begin_delete_secret("gone").result()
        assert deleted.recovery_id is None and deleted.scheduled_purge_date is None
        assert refused(lambda: list(sc.list_deleted_secrets()), 400)["code"] == "BadParameter"
        assert sc.set_secret("gone", "again").value == "again"


def test_access_policies_decide(env: Env) -> None:
    limited = env.vault([env.policy(env.deployer_oid, ("Get", "SET"))])  # names compare case-insensitively
    uri = limited.properties.vault_uri
    claims = claims_of(env.sim.token(KV_SCOPE))
    with env.secrets(uri) as sc:
        sc.set_secret("one", "1")
        assert sc.get_secret("one").value == "1"
        err = refused(lambda: list(sc.list_properties_of_secrets()))
        assert err == access_denied(claims, "secrets", "list", limited)
        err = refused(lambda: sc.begin_delete_secret("one"))
        assert err == access_denied(claims, "secrets", "delete", limited)
        assert refused(lambda: sc.get_secret("absent"), 404)["code"] == "SecretNotFound"  # allowed, then not found
    events = [x for x in env.events() if x["details"].get("vault", "").lower() == limited.id.lower()]
    denied = [x for x in events if x["kind"] == "access.denied"]
    assert {x["details"]["permission"] for x in denied} == {"secrets/list", "secrets/delete"}
    assert denied[0]["details"]["mode"] == "accessPolicy" and denied[0]["actor"] == env.deployer_oid
    assert denied[0]["details"]["reason"] == "access policy entry holds secrets ['Get', 'SET'], not list"
    allowed = {(x["subject"].rsplit("/", 1)[1], x["details"]["permission"]): x["details"]["reason"]
               for x in events if x["kind"] == "access.allowed"}
    assert set(allowed) == {("one", "secrets/set"), ("one", "secrets/get"), ("absent", "secrets/get")}
    assert allowed[("one", "secrets/get")] == f"access policy for objectId {env.deployer_oid} grants secrets get"


def test_vm_site_and_user_assigned_identities(env: Env, inside: Any) -> None:
    with ManagedServiceIdentityClient(env.credential, env.sim.subscription, **env.sim.mgmt_kwargs()) as msi:
        uai = msi.user_assigned_identities.create_or_update(env.rg, unique("uai-"), {"location": "eastus"})
    vm = env.vm(unique("vm-"), identities("SystemAssigned, UserAssigned", uai.id))
    with env.sim.http() as arm:
        group = f"/subscriptions/{env.sim.subscription}/resourceGroups/{env.rg}"
        site = arm.put(f"{group}/providers/Microsoft.Web/sites/{unique('app-')}", params={"api-version": "2024-04-01"},
                       json={"location": "eastus", "kind": "app", "identity": {"type": "SystemAssigned"},
                             "properties": {"serverFarmId": plan(arm, group, "eastus")}}).json()
    shared = env.vault([env.policy(env.deployer_oid, ("all",)),
                        env.policy(vm.identity.principal_id, ("get", "list")),
                        env.policy(uai.principal_id, ("get",)),
                        env.policy(site["identity"]["principalId"], ("get",))])
    uri = shared.properties.vault_uri
    with env.secrets(uri) as sc:
        sc.set_secret("db", "from-the-deployer")

    inside(env.endpoint(vm.id))
    with ManagedIdentityCredential() as cred, env.secrets(uri, cred) as sc:  # the VM's system identity
        assert sc.get_secret("db").value == "from-the-deployer"
        assert [p.name for p in sc.list_properties_of_secrets()] == ["db"]
        err = refused(lambda: sc.set_secret("db", "from-the-vm"))
        assert err == access_denied(mi_claims(cred), "secrets", "set", shared)
    # the user-assigned identity, chosen by client id, is judged on its own principal: get, but not list
    with ManagedIdentityCredential(client_id=uai.client_id) as cred, env.secrets(uri, cred) as sc:
        assert mi_claims(cred)["oid"] == uai.principal_id
        assert sc.get_secret("db").value == "from-the-deployer"
        err = refused(lambda: list(sc.list_properties_of_secrets()))
        assert err == access_denied(mi_claims(cred), "secrets", "list", shared)

    inside(env.endpoint(site["id"]))  # App Service: IDENTITY_ENDPOINT + IDENTITY_HEADER
    with ManagedIdentityCredential() as cred, env.secrets(uri, cred) as sc:
        assert mi_claims(cred)["oid"] == site["identity"]["principalId"]
        assert sc.get_secret("db").value == "from-the-deployer"
        err = refused(lambda: sc.begin_delete_secret("db"))
        assert err == access_denied(mi_claims(cred), "secrets", "delete", shared)


def test_rbac_mode_ignores_access_policies(env: Env, inside: Any) -> None:
    vm = env.vm(unique("vm-"), identities("SystemAssigned"))
    # the deployer's access policy and its subscription Owner role grant nothing on an RBAC-mode vault
    rbac_vault = env.vault(enable_rbac_authorization=True)
    uri = rbac_vault.properties.vault_uri
    deployer = claims_of(env.sim.token(KV_SCOPE))
    with env.secrets(uri) as sc:
        err = refused(lambda: sc.set_secret("cfg", "x"))
        assert err["innererror"] == {"code": "ForbiddenByRbac"}
        assert err["message"] == (
            "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role "
            "definitions were changed recently, please observe propagation time.\r\n"
            f"Caller: appid={deployer['appid']};oid={deployer['oid']};iss={deployer['iss']}\r\n"
            "Action: 'Microsoft.KeyVault/vaults/secrets/setSecret/action'\r\n"
            f"Resource: '{rbac_vault.id.lower()}/secrets/cfg'\r\n"
            "Assignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\n"
            f"Vault: {rbac_vault.name};location=eastus\r\n")
    env.assign(rbac_vault.id, SECRETS_OFFICER, env.deployer_oid)
    env.assign(rbac_vault.id, SECRETS_USER, vm.identity.principal_id)
    with env.secrets(uri) as sc:
        sc.set_secret("cfg", "rbac-value")

    inside(env.endpoint(vm.id))
    with ManagedIdentityCredential() as cred, env.secrets(uri, cred) as sc:
        assert sc.get_secret("cfg").value == "rbac-value"
        err = refused(lambda: sc.set_secret("cfg", "from-the-vm"))
        assert err["innererror"] == {"code": "ForbiddenByRbac"}
        assert "Action: 'Microsoft.KeyVault/vaults/secrets/setSecret/action'" in err["message"]
    allowed = [x for x in env.events(kind="access.allowed", principal=vm.identity.principal_id)
               if x["details"]["mode"] == "rbac"]
    assert allowed and "Key Vault Secrets User" in allowed[0]["details"]["reason"]


def test_simulated_clock_expires_tokens_and_purges(fresh_sim: Sim) -> None:
    """Token expiry and soft-delete retention both run on the simulated clock (a server of the test's own)."""
    e = Env(fresh_sim)
    try:
        uri = e.vault(soft_delete_retention_in_days=7).properties.vault_uri
        with e.secrets(uri) as sc:
            assert sc.set_secret("short-lived", "x").properties.recovery_level == "CustomizedRecoverable+Purgeable"
            sc.begin_delete_secret("short-lived").result()
        auth = {"Authorization": f"Bearer {fresh_sim.token(KV_SCOPE)}"}
        with httpx.Client(verify=fresh_sim.ca, timeout=30) as plain:
            assert plain.get(f"{uri}deletedsecrets", params={"api-version": "7.4"}, headers=auth).status_code == 200
            with fresh_sim.http() as arm:
                assert arm.post("/_sim/clock/advance", json={"duration": "8d"}).status_code == 200
            r = plain.get(f"{uri}deletedsecrets", params={"api-version": "7.4"}, headers=auth)
        assert r.status_code == 401 and "www-authenticate" in r.headers
        assert r.json()["error"] == {"code": "Unauthorized",
                                     "message": "[TokenExpired] Error validating token: 'S2S12086'."}
        # a fresh credential (MSAL caches per credential): past the retention, the name is free again
        with fresh_sim.credential() as cred, e.secrets(uri, cred) as sc:
            assert [d.name for d in sc.list_deleted_secrets()] == []
            assert sc.set_secret("short-lived", "again").value == "again"
    finally:
        e.close()
