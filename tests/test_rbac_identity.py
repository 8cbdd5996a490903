"""RBAC meets managed identities, through real clients: a VM's IMDS token (ManagedIdentityCredential) used with
ResourceManagementClient is judged on its own principal's role assignments; attaching a user-assigned identity
needs Managed Identity Operator (LinkedAuthorizationFailed otherwise); an assignment outlives its principal."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ClientSecretCredential, ManagedIdentityCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute.models import (
    UserAssignedIdentitiesValue,
    VirtualMachineIdentity,
)
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.resource import ResourceManagementClient

from tests.simserver import Sim
from tests.vmspec import vm_body

ARM_SCOPE = "https://management.azure.com/.default"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
VM_CONTRIBUTOR = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c"
MI_OPERATOR = "f1a07417-d97a-45cb-824c-7a7467783830"
AUTH_API = "2022-04-01"
STORAGE_API = "2023-01-01"
ASSIGN = "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"


# --- helpers --------------------------------------------------------------------------------------------------

def role_id(sim: Sim, guid: str) -> str:
    return f"/subscriptions/{sim.subscription}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def assign(sim: Sim, scope: str, role: str, principal: str) -> str:
    """A role assignment made by the deployer over REST; returns its id."""
    with sim.http() as c:
        r = c.put(f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
                  params={"api-version": AUTH_API},
                  json={"properties": {"roleDefinitionId": role_id(sim, role), "principalId": principal,
                                       "principalType": "ServicePrincipal"}})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def imds_endpoint(sim: Sim, resource_id: str) -> str:
    with sim.http() as c:
        r = c.get("/_sim/imds-endpoint", params={"resourceId": resource_id})
    assert r.status_code == 200, r.text
    return str(r.json()["endpoint"])


def arm_as(sim: Sim, credential: Any) -> ResourceManagementClient:
    """ResourceManagementClient as code inside the VM would build it (no polling shortcut, no sim helpers)."""
    return ResourceManagementClient(credential, sim.subscription, base_url=sim.url, credential_scopes=[ARM_SCOPE],
                                    connection_verify=sim.ca)


def denied(e: pytest.ExceptionInfo[HttpResponseError], code: str = "AuthorizationFailed") -> str:
    assert e.value.status_code == 403 and e.value.error is not None and e.value.error.code == code, e.value
    return str(e.value.error.message)


def identities(kind: str, *uai_ids: str) -> VirtualMachineIdentity:
    return VirtualMachineIdentity(type=kind, user_assigned_identities={
        i: UserAssignedIdentitiesValue() for i in uai_ids} or None)


# --- fixtures -------------------------------------------------------------------------------------------------

# `credential`, `compute` and `msi` are shared fixtures (tests/conftest.py).


@pytest.fixture
def rg(sim: Sim, credential: Any) -> str:
    """A group of the test's own: grants at the group must not leak between tests."""
    name = f"rg-rbacmi-{uuid.uuid4().hex[:8]}"
    with sim.resource_client(credential) as resources:
        resources.resource_groups.create_or_update(name, {"location": "eastus"})
    return name


@pytest.fixture
def inside(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`inside(url)`: from here on the test runs as code inside the VM whose IMDS is at `url`."""
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    yield lambda url: monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", url)


# --- tests ----------------------------------------------------------------------------------------------------

def test_vm_identity_reads_only_what_its_assignments_allow(sim: Sim, compute: ComputeManagementClient,
                                                          msi: ManagedServiceIdentityClient, rg: str, nic_id: str,
                                                          inside: Any) -> None:
    uai = msi.user_assigned_identities.create_or_update(rg, "uai-side", {"location": "eastus"})
    vm = compute.virtual_machines.begin_create_or_update(
        rg, "vm-reader", vm_body(identities("SystemAssigned, UserAssigned", uai.id), "vm-reader", nic_id)).result()
    assert vm.identity.principal_id and vm.identity.principal_id != uai.principal_id
    rg_id = f"/subscriptions/{sim.subscription}/resourceGroups/{rg}"
    inside(imds_endpoint(sim, vm.id))

    with ManagedIdentityCredential() as system, arm_as(sim, system) as arm:
        # no assignment yet: the system identity's token is refused, naming that principal
        with pytest.raises(HttpResponseError) as e:
            arm.resource_groups.get(rg)
        message = denied(e)
        assert vm.identity.principal_id in message
        assert "Microsoft.Resources/subscriptions/resourceGroups/read" in message and rg_id in message

        # Reader at the group, granted by the deployer: the same credential (same token) now reads
        assign(sim, rg_id, READER, vm.identity.principal_id)
        assert arm.resource_groups.get(rg).name == rg
        listed = {r.id.lower() for r in arm.resources.list_by_resource_group(rg)}
        assert {vm.id.lower(), uai.id.lower()} <= listed

        # …but does not write
        storage = f"{rg_id}/providers/Microsoft.Storage/storageAccounts/st{uuid.uuid4().hex[:10]}"
        with pytest.raises(HttpResponseError) as e:
            arm.resources.begin_create_or_update_by_id(storage, STORAGE_API, {"location": "eastus"}).result()
        message = denied(e)
        assert "Microsoft.Storage/storageAccounts/write" in message and vm.identity.principal_id in message
        with pytest.raises(HttpResponseError) as e:
            arm.resource_groups.create_or_update(rg, {"location": "eastus", "tags": {"by": "vm"}})
        assert "Microsoft.Resources/subscriptions/resourceGroups/write" in denied(e)
    with sim.http() as c:
        assert c.get(storage, params={"api-version": STORAGE_API}).status_code == 404  # nothing was written
        assert not c.get(rg_id, params={"api-version": "2024-11-01"}).json().get("tags")

    # the user-assigned identity on the same VM is judged on its own principal: no grant, no read
    with ManagedIdentityCredential(client_id=uai.client_id) as user, arm_as(sim, user) as arm:
        with pytest.raises(HttpResponseError) as e:
            arm.resource_groups.get(rg)
        message = denied(e)
        assert uai.principal_id in message and vm.identity.principal_id not in message


def test_attaching_a_user_assigned_identity_needs_managed_identity_operator(
        sim: Sim, compute: ComputeManagementClient, msi: ManagedServiceIdentityClient, rg: str, nic_id: str) -> None:
    uai = msi.user_assigned_identities.create_or_update(rg, "uai-guarded", {"location": "eastus"})
    rg_id = f"/subscriptions/{sim.subscription}/resourceGroups/{rg}"
    with sim.http() as c:
        app = c.post("/_sim/applications", json={"displayName": "vm-operator"}).json()
    oid = app["servicePrincipalObjectId"]
    assign(sim, rg_id, VM_CONTRIBUTOR, oid)

    with ClientSecretCredential(sim.tenant, app["appId"], app["clientSecret"], authority=sim.url,
                                disable_instance_discovery=True, connection_verify=sim.ca) as cred, \
            ComputeManagementClient(cred, sim.subscription, **sim.mgmt_kwargs()) as operator:
        # Virtual Machine Contributor is enough for a VM with only a system identity
        plain = operator.virtual_machines.begin_create_or_update(
            rg, "vm-plain", vm_body(identities("SystemAssigned"), "vm-plain", nic_id)).result()
        assert plain.identity.principal_id

        # …not for one that names a user-assigned identity: that needs assign/action on the identity
        with pytest.raises(HttpResponseError) as e:
            operator.virtual_machines.begin_create_or_update(
                rg, "vm-uai", vm_body(identities("UserAssigned", uai.id), "vm-uai", nic_id)).result()
        message = denied(e, "LinkedAuthorizationFailed")
        assert ASSIGN in message and oid in message and uai.id.lower() in message.lower()
        with pytest.raises(ResourceNotFoundError):
            compute.virtual_machines.get(rg, "vm-uai")  # nothing was written

        # Managed Identity Operator on the identity: the same request succeeds
        assign(sim, uai.id, MI_OPERATOR, oid)
        vm = operator.virtual_machines.begin_create_or_update(
            rg, "vm-uai", vm_body(identities("UserAssigned", uai.id), "vm-uai", nic_id)).result()
        attached = vm.identity.user_assigned_identities
        assert {k.lower() for k in attached} == {uai.id.lower()}
        assert next(iter(attached.values())).principal_id == uai.principal_id


def test_assignment_outlives_its_principal(sim: Sim, credential: Any, compute: ComputeManagementClient, rg: str,
                                           nic_id: str,
                                           inside: Any) -> None:
    vm = compute.virtual_machines.begin_create_or_update(
        rg, "vm-gone", vm_body(identities("SystemAssigned"), "vm-gone", nic_id)).result()
    principal = vm.identity.principal_id
    rg_id = f"/subscriptions/{sim.subscription}/resourceGroups/{rg}"
    assignment = assign(sim, rg_id, READER, principal)

    compute.virtual_machines.begin_delete(rg, "vm-gone").result()
    with AuthorizationManagementClient(credential, sim.subscription, **sim.mgmt_kwargs()) as authz:
        listed = [ra for ra in authz.role_assignments.list_for_scope(rg_id) if ra.id == assignment]
    assert len(listed) == 1, "the assignment of a deleted principal stays in place"
    assert listed[0].principal_id == principal and listed[0].role_definition_id.endswith(READER)
    with sim.http() as c:
        r = c.get("/_sim/audit")
    assert r.status_code == 200, r.text
    [orphan] = [a for a in r.json()["orphanedRoleAssignments"] if a["id"].lower() == assignment.lower()]
    assert orphan["principalId"] == principal and orphan["principalDeletedAt"]

    # the orphan grants nothing to the VM created again under the same name: a new principal, no access
    again = compute.virtual_machines.begin_create_or_update(
        rg, "vm-gone", vm_body(identities("SystemAssigned"), "vm-gone", nic_id)).result()
    assert again.identity.principal_id != principal
    inside(imds_endpoint(sim, again.id))
    with ManagedIdentityCredential() as cred, arm_as(sim, cred) as arm:
        with pytest.raises(HttpResponseError) as e:
            arm.resource_groups.get(rg)
        assert again.identity.principal_id in denied(e)


def test_imds_token_is_for_arm(sim: Sim, compute: ComputeManagementClient, rg: str, nic_id: str, inside: Any) -> None:
    """The token IMDS hands out for ARM carries the VM principal's oid, which is what ARM judges."""
    vm = compute.virtual_machines.begin_create_or_update(
        rg, "vm-token", vm_body(identities("SystemAssigned"), "vm-token", nic_id)).result()
    inside(imds_endpoint(sim, vm.id))
    with ManagedIdentityCredential() as cred:
        token = cred.get_token(ARM_SCOPE).token
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["oid"] == vm.identity.principal_id and claims["aud"].rstrip("/") == "https://management.azure.com"
    r = httpx.get(f"{sim.url}/subscriptions/{sim.subscription}/resourceGroups/{rg}",
                  params={"api-version": "2024-11-01"}, headers={"Authorization": f"Bearer {token}"}, verify=sim.ca)
    assert r.status_code == 403 and r.json()["error"]["code"] == "AuthorizationFailed"
