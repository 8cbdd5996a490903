"""Authorization that holds (issue 12, point 6): principals x scopes x operations, each cell asserting Azure's answer.

The matrix has 9 principals x 37 operations = 333 cells (`len(CELLS)`, checked by `test_matrix_size`).

Principals (service principals with a client secret, through azure-identity's ClientSecretCredential): one with no
role; Reader, Contributor, User Access Administrator, Owner, a custom role (storage accounts without write/delete,
plus secrets data actions but purge) and Key Vault Secrets Officer, each assigned at resource group rg1; Reader at
the subscription (inheritance); and a principal of another tenant holding Owner at rg1 (principalType given),
whose tokens the subscription and its vaults must refuse whatever it was assigned.

Scopes and operations: the subscription (read, create a group, delete a group, write a role assignment, write a
role definition), rg1 and rg2 (read, update, create a storage account in it, delete one, role assignment and
role definition write), a storage account in rg1 (read, update, delete a blob container of it, listKeys), an
extension resource on that account (a role assignment: read, create, delete), a VM in rg1 (read, an IMDS token
by its public vmId), management locks on that VM (extension resources too: read, create, delete; on the VM, which
no cell deletes, so that no lock stands in the way of another cell) and the secrets data plane (get, set, list,
purge) of a vault in access-policy mode and of one with enableRbacAuthorization.

The expected answers are not typed in: `tests/authz_oracle.py` evaluates Azure's rules on the role definitions
fetched from the server through azure-mgmt-authorization (and the access-policy vault's policies fetched through
azure-mgmt-keyvault). Every call goes through the Azure SDK (azure-mgmt-resource, -authorization, -compute,
azure-keyvault-secrets), except the raw IMDS GET. azure-mgmt-storage is not a test dependency: storage accounts
and containers go through azure-mgmt-resource's generic resources, listKeys through a generated client's
`send_request` (the same ARM pipeline).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline import PipelineResponse
from azure.core.rest import HttpRequest
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2022_04_01.models import (
    Permission,
    RoleAssignmentCreateParameters,
    RoleDefinition,
)
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.resource import ResourceManagementClient, SubscriptionClient
from azure.mgmt.resource.locks import ManagementLockClient
from azure.mgmt.resource.locks.models import ManagementLockObject
from azure.mgmt.resource.resources.models import GenericResource, ResourceGroup, Sku

from tests.authz_oracle import Block, Grant, Role, at_above_or_below, permitted, policy_permits
from tests.simserver import Sim, fresh_database_url
from tests.vmspec import nic, properties

RG_API, ST_API, VM_API, KV_API, AUTH_API = "2025-04-01", "2023-01-01", "2024-07-01", "2023-07-01", "2022-04-01"
LOCK_API = "2020-05-01"
KV_SCOPE = "https://vault.azure.net/.default"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
UAA = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
CUSTOM = "custom"  # its GUID is made per run

# who holds which role where: (scope name, role); the oracle reads the roles' definitions from the server
PLAN: dict[str, tuple[tuple[str, str], ...]] = {
    "none": (),
    "reader": (("rg1", READER),),
    "contributor": (("rg1", CONTRIBUTOR),),
    "uaa": (("rg1", UAA),),
    "owner": (("rg1", OWNER),),
    "custom": (("rg1", CUSTOM),),
    "subReader": (("sub", READER),),
    "kvOfficer": (("rg1", SECRETS_OFFICER),),
    "foreign": (("rg1", OWNER),),  # a principal of another tenant
}
PRINCIPALS = tuple(PLAN)
CUSTOM_PERMISSIONS = {
    "actions": ["Microsoft.Storage/storageAccounts/*", "Microsoft.Resources/subscriptions/resourceGroups/read"],
    "notActions": ["Microsoft.Storage/storageAccounts/write", "Microsoft.Storage/storageAccounts/delete"],
    "dataActions": ["Microsoft.KeyVault/vaults/secrets/*"],
    "notDataActions": ["Microsoft.KeyVault/vaults/secrets/purge/action"],
}

GROUP_OPS = ("read", "write", "create", "delete", "roleAssignmentWrite", "roleDefinitionWrite")
SECRET_OPS = ("get", "set", "list", "purge")
OPERATIONS: tuple[tuple[str, str], ...] = (
    *(("sub", op) for op in ("read", "write", "delete", "roleAssignmentWrite", "roleDefinitionWrite")),
    *(("rg1", op) for op in GROUP_OPS),
    *(("rg2", op) for op in GROUP_OPS),
    *(("storage", op) for op in ("read", "write", "delete", "listKeys")),
    *(("roleAssignment", op) for op in ("read", "write", "delete")),
    ("vm", "read"), ("vm", "imdsToken"),
    *(("lock", op) for op in ("read", "write", "delete")),
    *(("kvPolicy", op) for op in SECRET_OPS),
    *(("kvRbac", op) for op in SECRET_OPS),
)
CELLS = [(p, target, op) for p in PRINCIPALS for target, op in OPERATIONS]

# Azure's data actions (Key Vault RBAC) and access-policy permissions of the secret operations
# (https://learn.microsoft.com/azure/key-vault/general/rbac-guide, "Azure built-in roles for Key Vault data plane
# operations"; https://learn.microsoft.com/rest/api/keyvault/secrets: each operation's required permission).
DATA_ACTIONS = {"get": "Microsoft.KeyVault/vaults/secrets/getSecret/action",
                "set": "Microsoft.KeyVault/vaults/secrets/setSecret/action",
                "list": "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
                "purge": "Microsoft.KeyVault/vaults/secrets/purge/action"}
POLICY_PERMISSIONS = {"get": "get", "set": "set", "list": "list", "purge": "purge"}


@dataclass(frozen=True)
class Outcome:
    status: int
    code: str | None = None
    inner: str | None = None
    message: str = ""


@dataclass(frozen=True)
class Expected:
    statuses: frozenset[int]
    code: str | None = None
    inner: str | None = None
    action: str = ""  # the action (or data action, or access-policy permission) named in Azure's refusal

    def holds(self, got: Outcome) -> bool:
        return got.status in self.statuses and got.code == self.code and got.inner == self.inner


@dataclass
class Principal:
    name: str
    app: dict[str, Any]
    tenant: str
    credential: ClientSecretCredential
    clients: dict[str, Any] = field(default_factory=dict)

    @property
    def oid(self) -> str:
        return str(self.app["servicePrincipalObjectId"])


class _HomeTenantTokenOnly:
    """A credential that presents its own tenant's token whatever tenant a Key Vault challenge names: what a
    principal of another tenant sends (azure-identity would otherwise refuse, client side, to ask the vault's
    tenant)."""

    def __init__(self, inner: ClientSecretCredential) -> None:
        self._inner = inner

    def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                  enable_cae: bool = False, **kwargs: Any) -> AccessToken:
        return self._inner.get_token(*scopes)


class StatusOf:
    """A raw_response_hook: the status of the last response to a request of `method` (the Key Vault client's
    challenge round trip and ARM's LRO polls are other responses of the same call)."""

    def __init__(self, method: str) -> None:
        self.method, self.status = method, 0

    def __call__(self, response: PipelineResponse[Any, Any]) -> None:
        if response.http_request.method == self.method:
            self.status = response.http_response.status_code


def _refusal(e: HttpResponseError) -> Outcome:
    """Azure's error envelope (ARM and Key Vault alike: {"error": {code, message, innererror}})."""
    try:  # the legacy transport responses (azure-mgmt-authorization's) have text() but no json()
        body = json.loads(e.response.text()) if e.response is not None else {}
    except ValueError:
        body = {}
    err = body.get("error") if isinstance(body, dict) else None
    err = err if isinstance(err, dict) else {}
    inner = err.get("innererror") if isinstance(err.get("innererror"), dict) else {}
    return Outcome(int(e.status_code or 0), err.get("code"), (inner or {}).get("code"), str(err.get("message", "")))


class World:
    """The fixture world, built once per module on a simulator of its own."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self.sub = f"/subscriptions/{sim.subscription}"
        self.rg = {"rg1": f"{self.sub}/resourceGroups/authz-rg1", "rg2": f"{self.sub}/resourceGroups/authz-rg2"}
        sfx = uuid.uuid4().hex[:6]
        self.storage = f"{self.rg['rg1']}/providers/Microsoft.Storage/storageAccounts/authzst{sfx}"
        self.vm = f"{self.rg['rg1']}/providers/Microsoft.Compute/virtualMachines/authz-vm"
        self.vaults = {"kvPolicy": f"{self.rg['rg1']}/providers/Microsoft.KeyVault/vaults/kvap{sfx}",
                       "kvRbac": f"{self.rg['rg1']}/providers/Microsoft.KeyVault/vaults/kvrb{sfx}"}
        self.vault_uri: dict[str, str] = {}
        self.custom_guid = str(uuid.uuid4())
        self.deployer_oid = str(jwt.decode(sim.token(), options={"verify_signature": False})["oid"])
        self.principals: dict[str, Principal] = {}
        self.throwaway: dict[tuple[str, str], str] = {}  # (cell target + op, principal) -> what that cell deletes
        self.existing_assignment = ""
        self.vm_id = ""
        self.roles: dict[str, Role] = {}
        self.policies: list[tuple[str, str, tuple[str, ...]]] = []
        self.closers: list[Callable[[], None]] = []

    # --- setup, as the deployer (the bootstrap principal, Owner of the subscription) ---------------------------
    def build(self) -> None:
        sub = self.sub
        with self.sim.http() as c:
            def put(url: str, body: dict[str, Any], api: str, ok: tuple[int, ...] = (200, 201)) -> dict[str, Any]:
                r = c.put(url, params={"api-version": api}, json=body)
                assert r.status_code in ok, (url, r.status_code, r.text)
                return dict(r.json())

            for rg in self.rg.values():
                put(rg, {"location": "eastus"}, RG_API)
            account = {"location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}
            put(self.storage, account, ST_API)
            put(f"{self.storage}/blobServices/default", {"properties": {}}, ST_API)
            self._principals(c)
            put(f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{self.custom_guid}", {"properties": {
                "roleName": f"authz matrix {self.custom_guid[:8]}", "description": "storage without write/delete",
                "assignableScopes": [sub], "permissions": [CUSTOM_PERMISSIONS]}}, AUTH_API)
            for name, grants in PLAN.items():
                for scope_name, role in grants:
                    self.assign(c, self.scope(scope_name), self.role_id(role), self.principals[name].oid)
            self.existing_assignment = self.assign(c, self.storage, self.role_id(READER), str(uuid.uuid4()))
            for i, p in enumerate(PRINCIPALS):  # what each principal's delete cells delete
                self.throwaway[("sub/delete", p)] = put(f"{sub}/resourceGroups/authz-gone-{i}",
                                                        {"location": "eastus"}, RG_API)["id"]
                for j, rg_name in enumerate(self.rg):
                    self.throwaway[(f"{rg_name}/delete", p)] = put(
                        f"{self.rg[rg_name]}/providers/Microsoft.Storage/storageAccounts/gone{i}{j}{uuid.uuid4().hex[:8]}",
                        account, ST_API)["id"]
                self.throwaway[("storage/delete", p)] = put(
                    f"{self.storage}/blobServices/default/containers/gone-{i}", {"properties": {}}, ST_API)["id"]
                self.throwaway[("roleAssignment/delete", p)] = self.assign(c, self.storage, self.role_id(READER),
                                                                           str(uuid.uuid4()))
            vm = put(self.vm, {"location": "eastus", "identity": {"type": "SystemAssigned"},
                               "properties": properties(nic(c, self.rg["rg1"]), "authz-vm")}, VM_API)
            self.vm_id = vm["properties"]["vmId"]
            # management locks (CanNotDelete) on the VM, which no cell deletes: one to read, one per delete cell
            lock = {"properties": {"level": "CanNotDelete", "notes": "authz matrix"}}
            put(f"{self.vm}/providers/Microsoft.Authorization/locks/authz-keep", lock, LOCK_API)
            for i, p in enumerate(PRINCIPALS):
                self.throwaway[("lock/delete", p)] = put(
                    f"{self.vm}/providers/Microsoft.Authorization/locks/gone-{i}", lock, LOCK_API)["id"]
            vault = {"tenantId": self.sim.tenant, "sku": {"family": "A", "name": "standard"}}
            policies = [{"tenantId": self.sim.tenant, "objectId": self.deployer_oid,
                         "permissions": {"secrets": ["all"]}},
                        {"tenantId": self.sim.tenant, "objectId": self.principals["reader"].oid,
                         "permissions": {"secrets": ["get", "list"]}},
                        {"tenantId": self.sim.tenant, "objectId": self.principals["contributor"].oid,
                         "permissions": {"secrets": ["set", "purge"]}}]
            for key, props in (("kvPolicy", {**vault, "accessPolicies": policies}),
                               ("kvRbac", {**vault, "enableRbacAuthorization": True})):
                self.vault_uri[key] = put(self.vaults[key], {"location": "eastus", "properties": props},
                                          KV_API)["properties"]["vaultUri"]
            self.assign(c, self.vaults["kvRbac"], self.role_id(SECRETS_OFFICER), self.deployer_oid)
        self._secrets()
        self._oracle_inputs()

    def _principals(self, c: httpx.Client) -> None:
        r = c.post("/_sim/tenants", json={"displayName": "authz elsewhere"})
        assert r.status_code == 200, r.text
        other = r.json()["tenantId"]
        for name in PRINCIPALS:
            tenant = other if name == "foreign" else self.sim.tenant
            body: dict[str, Any] = {"displayName": f"authz-{name}"}
            if name == "foreign":
                body["tenantId"] = other
            r = c.post("/_sim/applications", json=body)
            assert r.status_code == 200, r.text
            app = r.json()
            cred = ClientSecretCredential(tenant, app["appId"], app["clientSecret"], authority=self.sim.url,
                                          disable_instance_discovery=True, connection_verify=self.sim.ca)
            self.closers.append(cred.close)
            self.principals[name] = Principal(name, app, tenant, cred)

    def assign(self, c: httpx.Client, scope: str, role_id: str, principal: str) -> str:
        url = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
        r = c.put(url, params={"api-version": AUTH_API}, json={"properties": {
            "roleDefinitionId": role_id, "principalId": principal, "principalType": "ServicePrincipal"}})
        assert r.status_code == 201, r.text
        return url

    def _secrets(self) -> None:
        token = {"Authorization": f"Bearer {self.sim.token(KV_SCOPE)}"}
        with httpx.Client(verify=self.sim.ca, headers=token, params={"api-version": "7.4"}, timeout=30) as kv:
            for uri in self.vault_uri.values():
                for name in ("shared", *(f"gone-{p}" for p in PRINCIPALS)):
                    r = kv.put(f"{uri}secrets/{name}", json={"value": f"value of {name}"})
                    assert r.status_code == 200, r.text
                for p in PRINCIPALS:
                    r = kv.delete(f"{uri}secrets/gone-{p}")
                    assert r.status_code == 200, r.text

    def _oracle_inputs(self) -> None:
        """Role definitions through azure-mgmt-authorization, the access policies through azure-mgmt-keyvault."""
        cred = self.sim.credential()
        self.closers.append(cred.close)
        kwargs = self.sim.mgmt_kwargs()
        with AuthorizationManagementClient(cred, self.sim.subscription, **kwargs) as az:
            for guid in {role for grants in PLAN.values() for _, role in grants}:
                got = az.role_definitions.get(self.sub, self.role_guid(guid))
                self.roles[guid] = Role(got.name, got.role_name, tuple(
                    Block(tuple(b.actions or ()), tuple(b.not_actions or ()), tuple(b.data_actions or ()),
                          tuple(b.not_data_actions or ())) for b in got.permissions or ()))
        with KeyVaultManagementClient(cred, self.sim.subscription, **kwargs) as kvm:
            for key, vault_id in self.vaults.items():
                props = kvm.vaults.get(vault_id.split("/")[4], vault_id.rsplit("/", 1)[1]).properties
                assert bool(props.enable_rbac_authorization) == (key == "kvRbac")
                if key == "kvPolicy":
                    self.policies = [(e.tenant_id, e.object_id, tuple(str(getattr(s, "value", s))
                                                                      for s in e.permissions.secrets or ()))
                                     for e in props.access_policies or ()]

    def close(self) -> None:
        for p in self.principals.values():
            for client in p.clients.values():
                client.close()
        for closer in self.closers:
            closer()

    # --- names -------------------------------------------------------------------------------------------------
    def scope(self, name: str) -> str:
        return self.sub if name == "sub" else self.rg[name]

    def role_guid(self, role: str) -> str:
        return self.custom_guid if role == CUSTOM else role

    def role_id(self, role: str) -> str:
        return f"{self.sub}/providers/Microsoft.Authorization/roleDefinitions/{self.role_guid(role)}"

    # --- the oracle --------------------------------------------------------------------------------------------
    def expected(self, principal: str, target: str, op: str) -> Expected:
        p = self.principals[principal]
        grants = [Grant(self.scope(s), self.roles[role]) for s, role in PLAN[principal]]
        if target == "vm" and op == "imdsToken":
            # IMDS answers only inside the VM; its per-VM key is in no ARM answer, so the public vmId opens nothing
            return Expected(frozenset({400}), "invalid_request")
        if target in self.vaults:
            if p.tenant != self.sim.tenant:  # AKV10032: the token's issuer is not the vault's tenant
                return Expected(frozenset({401}), "Unauthorized")
            ok = frozenset({204 if op == "purge" else 200})
            if target == "kvRbac":
                action = DATA_ACTIONS[op]
                allowed = permitted(grants, action, self.vaults[target], data=True)
                return Expected(ok) if allowed else Expected(frozenset({403}), "Forbidden", "ForbiddenByRbac", action)
            allowed = policy_permits(self.policies, p.tenant, p.oid, POLICY_PERMISSIONS[op])
            return Expected(ok) if allowed else Expected(frozenset({403}), "Forbidden", "AccessDenied",
                                                          f"secrets {POLICY_PERMISSIONS[op]}")
        if p.tenant != self.sim.tenant:
            return Expected(frozenset({401}), "InvalidAuthenticationTokenTenant")
        action, scope, ok = self.arm_action(target, op)
        if target == "sub" and op == "read":
            # ARM shows a subscription to whoever holds a role assignment at, above or below it, else 404
            present = any(at_above_or_below(g.scope, self.sub) for g in grants)
            return Expected(ok) if present else Expected(frozenset({404}), "SubscriptionNotFound")
        if permitted(grants, action, scope):
            return Expected(ok)
        return Expected(frozenset({403}), "AuthorizationFailed", None, action)

    def arm_action(self, target: str, op: str) -> tuple[str, str, frozenset[int]]:
        """(action, the scope it is checked at, Azure's success statuses) of an ARM cell."""
        groups, accounts = "Microsoft.Resources/subscriptions/resourceGroups", "Microsoft.Storage/storageAccounts"
        authz = "Microsoft.Authorization"
        if target == "sub":
            return {"read": ("Microsoft.Resources/subscriptions/read", self.sub, frozenset({200})),
                    "write": (f"{groups}/write", f"{self.sub}/resourceGroups/new", frozenset({201})),
                    "delete": (f"{groups}/delete", f"{self.sub}/resourceGroups/gone", frozenset({202})),
                    "roleAssignmentWrite": (f"{authz}/roleAssignments/write", self.sub, frozenset({201})),
                    "roleDefinitionWrite": (f"{authz}/roleDefinitions/write", self.sub, frozenset({201}))}[op]
        if target in self.rg:
            rg = self.rg[target]
            return {"read": (f"{groups}/read", rg, frozenset({200})),
                    "write": (f"{groups}/write", rg, frozenset({200})),
                    "create": (f"{accounts}/write", f"{rg}/providers/{accounts}/new", frozenset({200, 202})),
                    "delete": (f"{accounts}/delete", f"{rg}/providers/{accounts}/gone", frozenset({200})),
                    "roleAssignmentWrite": (f"{authz}/roleAssignments/write", rg, frozenset({201})),
                    "roleDefinitionWrite": (f"{authz}/roleDefinitions/write", rg, frozenset({201}))}[op]
        if target == "storage":
            return {"read": (f"{accounts}/read", self.storage, frozenset({200})),
                    "write": (f"{accounts}/write", self.storage, frozenset({200, 202})),
                    "delete": (f"{accounts}/blobServices/containers/delete",
                               f"{self.storage}/blobServices/default/containers/gone", frozenset({200})),
                    "listKeys": (f"{accounts}/listkeys/action", self.storage, frozenset({200}))}[op]
        if target == "roleAssignment":
            ra = f"{self.storage}/providers/{authz}/roleAssignments"
            return {"read": (f"{authz}/roleAssignments/read", ra, frozenset({200})),
                    "write": (f"{authz}/roleAssignments/write", ra, frozenset({201})),
                    "delete": (f"{authz}/roleAssignments/delete", ra, frozenset({200}))}[op]
        if target == "lock":  # the REST reference lists 200 and 201 for a lock's create
            lock = f"{self.vm}/providers/{authz}/locks"
            return {"read": (f"{authz}/locks/read", lock, frozenset({200})),
                    "write": (f"{authz}/locks/write", lock, frozenset({200, 201})),
                    "delete": (f"{authz}/locks/delete", lock, frozenset({200}))}[op]
        assert (target, op) == ("vm", "read")
        return "Microsoft.Compute/virtualMachines/read", self.vm, frozenset({200})

    # --- the cells, through the SDK ------------------------------------------------------------------------------
    def client(self, p: Principal, kind: str) -> Any:
        if kind not in p.clients:
            kwargs, sub = self.sim.mgmt_kwargs(), self.sim.subscription
            if kind == "resources":
                p.clients[kind] = ResourceManagementClient(p.credential, sub, **kwargs)
            elif kind == "subscriptions":
                p.clients[kind] = SubscriptionClient(p.credential, **kwargs)
            elif kind == "authorization":
                p.clients[kind] = AuthorizationManagementClient(p.credential, sub, **kwargs)
            elif kind == "compute":
                p.clients[kind] = ComputeManagementClient(p.credential, sub, **kwargs)
            elif kind == "locks":
                p.clients[kind] = ManagementLockClient(p.credential, sub, **kwargs)
            else:  # a vault
                cred = p.credential if p.tenant == self.sim.tenant else _HomeTenantTokenOnly(p.credential)
                p.clients[kind] = SecretClient(self.vault_uri[kind], cred, verify_challenge_resource=False,
                                               connection_verify=self.sim.ca)
        return p.clients[kind]

    def run(self, principal: str, target: str, op: str) -> Outcome:
        p = self.principals[principal]
        if target == "vm" and op == "imdsToken":
            return self._imds(p)
        call, method = self._call(p, target, op)
        status = StatusOf(method)
        try:
            call(status)
        except HttpResponseError as e:
            return _refusal(e)  # the exception is not kept: its live response would hold a connection open
        return Outcome(status.status)

    def _call(self, p: Principal, target: str, op: str) -> tuple[Callable[[StatusOf], Any], str]:
        rm = self.client(p, "resources")
        az = self.client(p, "authorization")
        fresh = uuid.uuid4().hex[:10]
        gone = self.throwaway.get((f"{target}/{op}", p.name), "")
        account = GenericResource(location="eastus", sku=Sku(name="Standard_LRS"), kind="StorageV2",
                                  tags={"cell": p.name})
        if target in self.vaults:
            sc = self.client(p, target)
            return {"get": (lambda h: sc.get_secret("shared", raw_response_hook=h), "GET"),
                    "set": (lambda h: sc.set_secret(f"set-{fresh}", "x", raw_response_hook=h), "PUT"),
                    "list": (lambda h: list(sc.list_properties_of_secrets(raw_response_hook=h)), "GET"),
                    "purge": (lambda h: sc.purge_deleted_secret(f"gone-{p.name}", raw_response_hook=h),
                              "DELETE")}[op]
        if op == "roleAssignmentWrite" or (target, op) == ("roleAssignment", "write"):
            scope = self.storage if target == "roleAssignment" else self.scope(target)
            grantee = str(uuid.uuid4())
            params = RoleAssignmentCreateParameters(role_definition_id=self.role_id(READER), principal_id=grantee,
                                                    principal_type="ServicePrincipal")
            return lambda h: az.role_assignments.create(scope, str(uuid.uuid4()), params, raw_response_hook=h), "PUT"
        if op == "roleDefinitionWrite":
            scope, guid = self.scope(target), str(uuid.uuid4())
            definition = RoleDefinition(role_name=f"cell {guid}", description="authz matrix", role_type="CustomRole",
                                        permissions=[Permission(actions=["Microsoft.Storage/*/read"])],
                                        assignable_scopes=[scope])
            return lambda h: az.role_definitions.create_or_update(scope, guid, definition, raw_response_hook=h), "PUT"
        if target == "sub":
            subs = self.client(p, "subscriptions")
            return {"read": (lambda h: subs.subscriptions.get(self.sim.subscription, raw_response_hook=h), "GET"),
                    "write": (lambda h: rm.resource_groups.create_or_update(
                        f"authz-new-{fresh}", ResourceGroup(location="eastus"), raw_response_hook=h), "PUT"),
                    "delete": (lambda h: rm.resource_groups.begin_delete(
                        gone.rsplit("/", 1)[1], raw_response_hook=h).result(), "DELETE")}[op]
        if target in self.rg:
            rg = self.rg[target]
            new = f"{rg}/providers/Microsoft.Storage/storageAccounts/new{fresh}"
            return {"read": (lambda h: rm.resource_groups.get(rg.rsplit("/", 1)[1], raw_response_hook=h), "GET"),
                    "write": (lambda h: rm.resource_groups.create_or_update(
                        rg.rsplit("/", 1)[1], ResourceGroup(location="eastus", tags={"cell": p.name}),
                        raw_response_hook=h), "PUT"),
                    "create": (lambda h: rm.resources.begin_create_or_update_by_id(
                        new, ST_API, account, raw_response_hook=h).result(), "PUT"),
                    "delete": (lambda h: rm.resources.begin_delete_by_id(
                        gone, ST_API, raw_response_hook=h).result(), "DELETE")}[op]
        if target == "storage":
            return {"read": (lambda h: rm.resources.get_by_id(self.storage, ST_API, raw_response_hook=h), "GET"),
                    "write": (lambda h: rm.resources.begin_create_or_update_by_id(
                        self.storage, ST_API, account, raw_response_hook=h).result(), "PUT"),
                    "delete": (lambda h: rm.resources.begin_delete_by_id(
                        gone, ST_API, raw_response_hook=h).result(), "DELETE"),
                    "listKeys": (lambda h: self._list_keys(p, h), "POST")}[op]
        if target == "roleAssignment":
            return {"read": (lambda h: az.role_assignments.get_by_id(self.existing_assignment,
                                                                      raw_response_hook=h), "GET"),
                    "delete": (lambda h: az.role_assignments.delete_by_id(gone, raw_response_hook=h), "DELETE")}[op]
        if target == "lock":
            locks = self.client(p, "locks").management_locks
            lock = ManagementLockObject(level="CanNotDelete", notes=f"cell {p.name}")
            return {"read": (lambda h: locks.get_by_scope(self.vm, "authz-keep", raw_response_hook=h), "GET"),
                    "write": (lambda h: locks.create_or_update_by_scope(self.vm, f"new-{fresh}", lock,
                                                                        raw_response_hook=h), "PUT"),
                    "delete": (lambda h: locks.delete_by_scope(self.vm, gone.rsplit("/", 1)[1],
                                                               raw_response_hook=h), "DELETE")}[op]
        assert (target, op) == ("vm", "read")
        compute = self.client(p, "compute")
        return lambda h: compute.virtual_machines.get(self.vm.split("/")[4], "authz-vm", raw_response_hook=h), "GET"

    def _list_keys(self, p: Principal, hook: StatusOf) -> None:
        """POST listKeys through a generated ARM client's pipeline (bearer policy, ARM error format)."""
        compute = self.client(p, "compute")
        r = compute.send_request(HttpRequest("POST", f"{self.storage}/listKeys?api-version={ST_API}"))
        hook.status = r.status_code
        if r.status_code >= 400:
            raise HttpResponseError(response=r)
        assert {k["keyName"] for k in r.json()["keys"]} == {"key1", "key2"}

    def _imds(self, p: Principal) -> Outcome:
        """IMDS by the VM's public vmId. Whoever may read the VM learns it (and its identity's object id) through
        the SDK; the rest use what the world knows: every principal is refused alike, whatever its role."""
        vm_id = self.vm_id
        selectors: list[dict[str, str]] = [{}]
        try:
            vm = self.client(p, "compute").virtual_machines.get(self.vm.split("/")[4], "authz-vm")
            assert vm.vm_id == self.vm_id
            selectors.append({"object_id": vm.identity.principal_id})
        except HttpResponseError:
            pass
        answers = set()
        for selector in selectors:
            r = httpx.get(f"{self.sim.imds_url}/vms/{vm_id}/metadata/identity/oauth2/token",
                          params={"api-version": "2018-02-01", "resource": "https://vault.azure.net", **selector},
                          headers={"Metadata": "true"})
            body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            answers.add(Outcome(r.status_code, body.get("error"), None, str(body.get("error_description", ""))))
        assert len(answers) == 1, answers  # a selector changes nothing
        return answers.pop()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    sim = Sim(home=tmp_path_factory.mktemp("authz"), database_url=fresh_database_url()).start()
    w = World(sim)
    try:
        w.build()
        yield w
    finally:
        w.close()
        sim.stop()


def test_matrix_size() -> None:
    assert len(PRINCIPALS) == 9 and len(OPERATIONS) == 37 and len(CELLS) == 333 == len(set(CELLS))
    assert "9 principals x 37 operations = 333 cells" in (__doc__ or "")


def test_the_oracle_has_both_answers(world: World) -> None:
    """The expectations are not trivial: most operations are allowed to some principals and refused to others."""
    answers = {(t, o): {world.expected(p, t, o).code is None for p in PRINCIPALS} for t, o in OPERATIONS}
    both = {cell for cell, seen in answers.items() if seen == {True, False}}
    never = {cell for cell, seen in answers.items() if seen == {False}}
    assert never == {("sub", "write"), ("sub", "delete"), ("sub", "roleAssignmentWrite"),
                     ("sub", "roleDefinitionWrite"), ("rg2", "write"), ("rg2", "create"), ("rg2", "delete"),
                     ("rg2", "roleAssignmentWrite"), ("rg2", "roleDefinitionWrite"), ("vm", "imdsToken")}, never
    assert both == set(OPERATIONS) - never


@pytest.mark.parametrize(("principal", "target", "op"), CELLS, ids=[f"{p}-{t}-{o}" for p, t, o in CELLS])
def test_cell(world: World, principal: str, target: str, op: str) -> None:
    want = world.expected(principal, target, op)
    got = world.run(principal, target, op)
    assert want.holds(got), (
        f"{principal} {target} {op}: arm-sim answered {got.status} {got.code}/{got.inner} ({got.message[:300]}); "
        f"Azure answers {sorted(want.statuses)} {want.code}/{want.inner}")
    p = world.principals[principal]
    if want.code == "AuthorizationFailed":  # ARM names the action, the caller and the scope
        msg = got.message
        assert f"action '{want.action}'".lower() in msg.lower() and p.oid in msg and p.app["appId"] in msg, msg
        named = msg.split("over scope '", 1)[1].split("'", 1)[0] if "over scope '" in msg else ""
        assert named.lower().startswith(world_scope_row(world, target).lower()), msg
    elif want.inner == "ForbiddenByRbac":
        assert f"Action: '{want.action}'" in got.message and f"oid={p.oid}" in got.message, got.message
    elif want.inner == "AccessDenied":
        assert f"does not have {want.action} permission" in got.message and f"oid={p.oid}" in got.message
    elif target == "vm" and op == "imdsToken":
        assert got.message == "Identity not found", got.message
    elif want.code == "InvalidAuthenticationTokenTenant":  # it names the subscription's tenant
        assert f"'https://sts.windows.net/{world.sim.tenant}/'" in got.message, got.message
    elif want.code == "Unauthorized":  # Key Vault: the issuer is not the vault's tenant's
        assert got.message.startswith("AKV10032: Invalid issuer.") and world.sim.tenant in got.message, got.message
    elif want.code == "SubscriptionNotFound":
        assert got.message == f"The subscription '{world.sim.subscription}' could not be found.", got.message


def world_scope_row(world: World, target: str) -> str:
    """The scope a row of the matrix is about: refusals name it or a scope inside it."""
    if target == "sub":
        return world.sub
    if target in world.rg:
        return world.rg[target]
    if target in ("storage", "roleAssignment"):
        return world.storage
    return world.vm
