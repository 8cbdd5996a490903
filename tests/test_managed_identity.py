"""User-assigned identities, federated credentials, `identities/default` and the shared identity reconciler.

Real clients: azure-mgmt-msi for Microsoft.ManagedIdentity, raw REST (`sim.http()`) for a second api-version
and for the identity block of a generic type (Microsoft.Storage/storageAccounts), Graph over HTTP for the
principals. Lifecycle rules: DESIGN.md §3.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.msi.models import FederatedIdentityCredential, IdentityUpdate

from tests.simserver import Sim

GRAPH = "https://graph.microsoft.com/.default"
RG_API = "2025-04-01"
MSI_API = "2024-11-30"
OLD_MSI_API = "2023-01-31"
STORAGE = "Microsoft.Storage/storageAccounts"
STORAGE_API = "2023-01-01"
CREATED = 200  # what a storage account's create answers (200 or 202, never ARM's usual 201)
ISSUER = "https://oidc.prod-aks.azure.com/tenant/issuer"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def status_of(response: Any, deserialized: Any, headers: Any) -> tuple[int, Any]:
    """An SDK `cls=` hook: the HTTP status with the model."""
    return response.http_response.status_code, deserialized


@pytest.fixture(scope="module")
def msi(sim: Sim) -> ManagedServiceIdentityClient:
    return ManagedServiceIdentityClient(sim.credential(), sim.subscription, **sim.mgmt_kwargs())


def make_group(sim: Sim, arm: httpx.Client) -> str:
    name = unique("rg-mi-")
    r = arm.put(f"/subscriptions/{sim.subscription}/resourcegroups/{name}", params={"api-version": RG_API},
                json={"location": "eastus"})
    assert r.status_code == 201, r.text
    return name


@pytest.fixture(scope="module")
def rg(sim: Sim, arm: httpx.Client) -> str:
    return make_group(sim, arm)


def uai_path(sim: Sim, rg: str, name: str) -> str:
    return (f"/subscriptions/{sim.subscription}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/"
            f"userAssignedIdentities/{name}")


def storage_path(sim: Sim, rg: str, name: str) -> str:
    return f"/subscriptions/{sim.subscription}/resourceGroups/{rg}/providers/{STORAGE}/{name}"


def directory_id(resource_id: str) -> str:
    return resource_id.replace("/resourceGroups/", "/resourcegroups/")


def principal(graph: httpx.Client, object_id: str) -> dict[str, Any] | None:
    r = graph.get(f"/v1.0/servicePrincipals/{object_id}")
    if r.status_code == 404:
        assert r.json()["error"]["code"] == "Request_ResourceNotFound", r.text
        return None
    assert r.status_code == 200, r.text
    return r.json()


def events(arm: httpx.Client, kind: str, after: int = 0) -> list[dict[str, Any]]:
    r = arm.get("/_sim/events", params={"kind": kind, "after": after})
    assert r.status_code == 200, r.text
    return r.json()["value"]


def last_seq(arm: httpx.Client) -> int:
    every = arm.get("/_sim/events", params={"top": 5000}).json()["value"]
    return every[-1]["seq"] if every else 0


# --- user-assigned identities through azure-mgmt-msi --------------------------------------------------------

def test_user_assigned_identity_lifecycle(sim: Sim, msi: ManagedServiceIdentityClient, arm: httpx.Client,
                                          graph: httpx.Client, rg: str) -> None:
    name = unique("uai-")
    ops = msi.user_assigned_identities
    status, created = ops.create_or_update(rg, name, {"location": "eastus", "tags": {"a": "1"}}, cls=status_of)
    assert status == 201
    assert created.id == uai_path(sim, rg, name) and created.name == name
    assert created.type == "Microsoft.ManagedIdentity/userAssignedIdentities" and created.location == "eastus"
    assert created.tenant_id == sim.tenant and created.isolation_scope == "None"
    assert uuid.UUID(created.principal_id) and uuid.UUID(created.client_id)

    status, updated = ops.create_or_update(rg, name, {"location": "eastus", "tags": {"a": "2"}}, cls=status_of)
    assert status == 200 and updated.tags == {"a": "2"}
    assert (updated.principal_id, updated.client_id) == (created.principal_id, created.client_id)

    got = ops.get(rg, name)
    assert (got.principal_id, got.client_id, got.tags) == (created.principal_id, created.client_id, {"a": "2"})

    patched = ops.update(rg, name, IdentityUpdate(tags={"b": "3"}))
    assert patched.tags == {"b": "3"} and patched.principal_id == created.principal_id

    other = ops.create_or_update(rg, unique("uai-"), {"location": "eastus"})
    in_group = {i.name for i in ops.list_by_resource_group(rg)}
    assert {name, other.name} <= in_group
    assert {name, other.name} <= {i.name for i in ops.list_by_subscription()}

    # the principal in Graph (DESIGN.md §3: isExplicit=True, the identity's id with lower-case resourcegroups)
    sp = principal(graph, created.principal_id)
    assert sp is not None
    assert (sp["servicePrincipalType"], sp["appId"], sp["displayName"]) == ("ManagedIdentity", created.client_id, name)
    assert sp["alternativeNames"] == ["isExplicit=True", directory_id(created.id)]
    assert sp["servicePrincipalNames"][0] == created.client_id
    assert sp["servicePrincipalNames"][1].startswith("https://identity.azure.net/")
    assert sp["passwordCredentials"] == []
    [cert] = sp["keyCredentials"]
    assert (cert["type"], cert["usage"], cert["key"]) == ("AsymmetricX509Cert", "Verify", None)
    assert len(cert["customKeyIdentifier"]) == 40

    status, _ = ops.delete(rg, name, cls=status_of)
    assert status == 200
    status, _ = ops.delete(rg, name, cls=status_of)
    assert status == 204
    with pytest.raises(ResourceNotFoundError):
        ops.get(rg, name)
    assert principal(graph, created.principal_id) is None
    deleted = [e for e in events(arm, "servicePrincipal.deleted") if e["subject"] == created.principal_id]
    assert len(deleted) == 1

    again = ops.create_or_update(rg, name, {"location": "eastus"})
    assert again.principal_id != created.principal_id and again.client_id != created.client_id
    assert principal(graph, again.principal_id) is not None


def test_response_shape_per_api_version(sim: Sim, msi: ManagedServiceIdentityClient, arm: httpx.Client,
                                        rg: str) -> None:
    name = unique("uai-")
    path = uai_path(sim, rg, name)
    r = arm.put(path, params={"api-version": MSI_API}, json={"location": "eastus",
                                                              "properties": {"isolationScope": "Regional"}})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body["properties"]) == {"tenantId", "principalId", "clientId", "isolationScope"}
    assert body["properties"]["isolationScope"] == "Regional"
    # read-only properties in the request are ignored
    r = arm.put(path, params={"api-version": MSI_API}, json={
        "location": "eastus", "properties": {"principalId": str(uuid.uuid4()), "clientId": str(uuid.uuid4())}})
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["principalId"] == body["properties"]["principalId"]
    assert r.json()["properties"]["clientId"] == body["properties"]["clientId"]
    assert r.json()["properties"]["isolationScope"] == "Regional"  # kept: the PUT did not mention it

    old = arm.get(path, params={"api-version": OLD_MSI_API}).json()
    assert set(old["properties"]) == {"tenantId", "principalId", "clientId"}
    assert set(old) >= {"id", "name", "type", "location", "tags", "properties"}
    listed = arm.get(f"/subscriptions/{sim.subscription}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/"
                     "userAssignedIdentities", params={"api-version": OLD_MSI_API}).json()["value"]
    assert all("isolationScope" not in i["properties"] for i in listed)
    assert msi.user_assigned_identities.get(rg, name).isolation_scope == "Regional"

    r = arm.put(path, params={"api-version": MSI_API}, json={"location": "eastus",
                                                              "properties": {"isolationScope": "Global"}})
    assert r.status_code == 400, r.text
    r = arm.put(path, params={"api-version": MSI_API}, json={"location": "westus"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidResourceLocation", r.text


@pytest.mark.parametrize("name", ["ab", "_leading", "-leading", "bad.dot", "bad!char", "x" * 129])
def test_user_assigned_identity_name_rules(msi: ManagedServiceIdentityClient, rg: str, name: str) -> None:
    with pytest.raises(HttpResponseError) as e:
        msi.user_assigned_identities.create_or_update(rg, name, {"location": "eastus"})
    assert e.value.status_code == 400
    assert e.value.error.code == "InvalidResourceName"


def test_user_assigned_identity_name_limits_accepted(msi: ManagedServiceIdentityClient, rg: str) -> None:
    for name in ("a1_", "9-" + "x" * 126):
        assert msi.user_assigned_identities.create_or_update(rg, name, {"location": "eastus"}).name == name


# --- federated identity credentials --------------------------------------------------------------------------

def test_federated_identity_credentials(sim: Sim, msi: ManagedServiceIdentityClient, rg: str) -> None:
    uai = msi.user_assigned_identities.create_or_update(rg, unique("uai-"), {"location": "eastus"})
    ops = msi.federated_identity_credentials
    fic = FederatedIdentityCredential(issuer=ISSUER, subject="system:serviceaccount:ns:sa",
                                      audiences=["api://AzureADTokenExchange"])
    status, created = ops.create_or_update(rg, uai.name, "fic-1", fic, cls=status_of)
    assert status == 201
    assert created.id == f"{uai.id}/federatedIdentityCredentials/fic-1" and created.name == "fic-1"
    assert created.type == "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
    assert (created.issuer, created.subject, created.audiences) == (
        ISSUER, "system:serviceaccount:ns:sa", ["api://AzureADTokenExchange"])

    fic.subject = "system:serviceaccount:ns:other"
    status, updated = ops.create_or_update(rg, uai.name, "fic-1", fic, cls=status_of)
    assert status == 200 and updated.subject == "system:serviceaccount:ns:other"
    with pytest.raises(HttpResponseError) as twice:  # an issuer + subject pair once per identity, as in Entra
        ops.create_or_update(rg, uai.name, "fic_2", fic)
    assert twice.value.status_code == 400 and "Issuer and subject combination already exists" in str(twice.value)
    fic.subject = "system:serviceaccount:ns:second"
    ops.create_or_update(rg, uai.name, "fic_2", fic)
    assert ops.get(rg, uai.name, "fic-1").subject == "system:serviceaccount:ns:other"
    assert sorted(f.name for f in ops.list(rg, uai.name)) == ["fic-1", "fic_2"]

    status, _ = ops.delete(rg, uai.name, "fic-1", cls=status_of)
    assert status == 200
    status, _ = ops.delete(rg, uai.name, "fic-1", cls=status_of)
    assert status == 204
    with pytest.raises(ResourceNotFoundError):
        ops.get(rg, uai.name, "fic-1")
    assert [f.name for f in ops.list(rg, uai.name)] == ["fic_2"]

    # the credentials go with their identity
    msi.user_assigned_identities.delete(rg, uai.name)
    with pytest.raises(ResourceNotFoundError):
        ops.get(rg, uai.name, "fic_2")


@pytest.mark.parametrize("missing", ["issuer", "subject", "audiences"])
def test_federated_identity_credential_requires_fields(msi: ManagedServiceIdentityClient, rg: str,
                                                       missing: str) -> None:
    uai = msi.user_assigned_identities.create_or_update(rg, unique("uai-"), {"location": "eastus"})
    fields: dict[str, Any] = {"issuer": ISSUER, "subject": "sub", "audiences": ["api://AzureADTokenExchange"]}
    fields.pop(missing)
    with pytest.raises(HttpResponseError) as e:
        msi.federated_identity_credentials.create_or_update(rg, uai.name, "fic", FederatedIdentityCredential(**fields))
    assert e.value.status_code == 400 and missing in e.value.error.message


def test_federated_identity_credential_name_and_parent(msi: ManagedServiceIdentityClient, rg: str) -> None:
    fic = FederatedIdentityCredential(issuer=ISSUER, subject="s", audiences=["api://AzureADTokenExchange"])
    uai = msi.user_assigned_identities.create_or_update(rg, unique("uai-"), {"location": "eastus"})
    with pytest.raises(HttpResponseError) as e:
        msi.federated_identity_credentials.create_or_update(rg, uai.name, "-x", fic)
    assert e.value.status_code == 400
    with pytest.raises(ResourceNotFoundError):
        msi.federated_identity_credentials.create_or_update(rg, unique("nouai-"), "fic", fic)


# --- identities/default --------------------------------------------------------------------------------------

def test_system_assigned_identity_by_scope(sim: Sim, msi: ManagedServiceIdentityClient, arm: httpx.Client,
                                           rg: str) -> None:
    with_identity = storage_path(sim, rg, unique("st"))
    r = arm.put(with_identity, params={"api-version": STORAGE_API},
                json={"location": "eastus", "identity": {"type": "SystemAssigned"}})
    assert r.status_code == CREATED, r.text
    identity = r.json()["identity"]
    got = msi.system_assigned_identities.get_by_scope(with_identity)
    assert (got.principal_id, got.tenant_id) == (identity["principalId"], sim.tenant)
    assert got.name == "default" and got.location == "eastus"
    sp_app_id = got.client_id
    assert f"oid={identity['principalId']}" in got.client_secret_url and f"aid={sp_app_id}" in got.client_secret_url

    without = storage_path(sim, rg, unique("st"))
    arm.put(without, params={"api-version": STORAGE_API}, json={"location": "eastus"})
    with pytest.raises(ResourceNotFoundError):
        msi.system_assigned_identities.get_by_scope(without)
    with pytest.raises(ResourceNotFoundError):
        msi.system_assigned_identities.get_by_scope(storage_path(sim, rg, unique("absent")))


# --- the identity reconciler on a generic type ---------------------------------------------------------------

@pytest.fixture(scope="module")
def uais(msi: ManagedServiceIdentityClient, rg: str) -> list[Any]:
    return [msi.user_assigned_identities.create_or_update(rg, unique(f"uai{i}-"), {"location": "eastus"})
            for i in range(3)]


def put_storage(arm: httpx.Client, path: str, identity: Any) -> httpx.Response:
    return arm.put(path, params={"api-version": STORAGE_API}, json={"location": "eastus", "identity": identity})


def patch_identity(arm: httpx.Client, path: str, identity: Any) -> httpx.Response:
    return arm.patch(path, params={"api-version": STORAGE_API}, json={"identity": identity})


@pytest.mark.parametrize("spelling", ["SystemAssigned, UserAssigned", "SystemAssigned,UserAssigned",
                                      "systemassigned ,  userAssigned"])
def test_type_spellings_answer_the_canonical_form(sim: Sim, arm: httpx.Client, rg: str, uais: list[Any],
                                                  spelling: str) -> None:
    path = storage_path(sim, rg, unique("st"))
    r = put_storage(arm, path, {"type": spelling, "userAssignedIdentities": {uais[0].id: {}}})
    assert r.status_code == CREATED, r.text
    identity = r.json()["identity"]
    assert identity["type"] == "SystemAssigned,UserAssigned"  # common-types v5: no space
    assert identity["tenantId"] == sim.tenant
    assert identity["userAssignedIdentities"] == {
        uais[0].id: {"principalId": uais[0].principal_id, "clientId": uais[0].client_id}}


def test_patch_merges_and_removes(sim: Sim, arm: httpx.Client, graph: httpx.Client, rg: str,
                                  uais: list[Any]) -> None:
    a, b, c = uais
    path = storage_path(sim, rg, unique("st"))
    bogus = {"principalId": str(uuid.uuid4()), "clientId": str(uuid.uuid4())}
    r = put_storage(arm, path, {"type": "SystemAssigned,UserAssigned", "principalId": bogus["principalId"],
                                "tenantId": str(uuid.uuid4()), "userAssignedIdentities": {a.id: bogus, b.id: {}}})
    assert r.status_code == CREATED, r.text
    identity = r.json()["identity"]
    system = identity["principalId"]
    assert system != bogus["principalId"] and identity["tenantId"] == sim.tenant  # read-only input ignored
    assert identity["userAssignedIdentities"][a.id] == {"principalId": a.principal_id, "clientId": a.client_id}
    assert principal(graph, system)["alternativeNames"] == ["isExplicit=False", directory_id(path)]

    # null removes one entry; the others stay; the system principal is untouched
    r = patch_identity(arm, path, {"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": {b.id: None}})
    assert r.status_code == 200, r.text
    assert list(r.json()["identity"]["userAssignedIdentities"]) == [a.id]
    assert r.json()["identity"]["principalId"] == system

    # adding one merges with what is there (the key matches case-insensitively)
    r = patch_identity(arm, path, {"type": "SystemAssigned, UserAssigned",
                                   "userAssignedIdentities": {c.id.lower(): {}, a.id.upper(): {}}})
    assert r.status_code == 200, r.text
    assert {k.lower() for k in r.json()["identity"]["userAssignedIdentities"]} == {a.id.lower(), c.id.lower()}

    # a type without UserAssigned drops every user-assigned identity
    r = patch_identity(arm, path, {"type": "SystemAssigned"})
    assert r.status_code == 200, r.text
    assert r.json()["identity"] == {"type": "SystemAssigned", "principalId": system, "tenantId": sim.tenant}

    # None removes everything and deletes the principal
    r = patch_identity(arm, path, {"type": "None"})
    assert r.status_code == 200, r.text
    assert "identity" not in r.json()
    assert principal(graph, system) is None
    got = arm.get(path, params={"api-version": STORAGE_API}).json()
    assert "identity" not in got

    # enabling it again makes a new principal
    r = patch_identity(arm, path, {"type": "SystemAssigned"})
    assert r.status_code == 200, r.text
    assert r.json()["identity"]["principalId"] != system
    assert principal(graph, r.json()["identity"]["principalId"]) is not None


def test_unknown_user_assigned_identity_changes_nothing(sim: Sim, arm: httpx.Client, rg: str,
                                                        uais: list[Any]) -> None:
    path = storage_path(sim, rg, unique("st"))
    r = put_storage(arm, path, {"type": "UserAssigned", "userAssignedIdentities": {uais[0].id: {}}})
    assert r.status_code == CREATED, r.text
    before = arm.get(path, params={"api-version": STORAGE_API}).json()
    missing = uai_path(sim, rg, unique("missing-"))
    seq = last_seq(arm)

    for method in (put_storage, patch_identity):
        r = method(arm, path, {"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": {missing: {}}})
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["code"] == "FailedIdentityOperation" and missing in err["message"]

    after = arm.get(path, params={"api-version": STORAGE_API}).json()
    assert after == before  # nothing changed (a storage account's body has no etag, as in Azure)
    created = [e for e in events(arm, "servicePrincipal.created", seq)
               if e["details"].get("resourceId", "").lower() == path.lower()]
    assert created == []

    # a new resource that names a missing identity is not created at all
    fresh = storage_path(sim, rg, unique("st"))
    r = put_storage(arm, fresh, {"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": {missing: {}}})
    assert r.status_code == 400, r.text
    assert arm.get(fresh, params={"api-version": STORAGE_API}).status_code == 404
    assert [e for e in events(arm, "servicePrincipal.created", seq)
            if e["details"].get("resourceId", "").lower() == fresh.lower()] == []


def test_deleted_user_assigned_identity_stays_referenced(sim: Sim, msi: ManagedServiceIdentityClient,
                                                         arm: httpx.Client, rg: str) -> None:
    uai = msi.user_assigned_identities.create_or_update(rg, unique("uai-"), {"location": "eastus"})
    path = storage_path(sim, rg, unique("st"))
    assert put_storage(arm, path, {"type": "UserAssigned",
                                   "userAssignedIdentities": {uai.id: {}}}).status_code == CREATED
    msi.user_assigned_identities.delete(rg, uai.name)
    got = arm.get(path, params={"api-version": STORAGE_API}).json()
    assert list(got["identity"]["userAssignedIdentities"]) == [uai.id]  # the resource keeps the reference
    r = arm.patch(path, params={"api-version": STORAGE_API}, json={"tags": {"still": "works"}})
    assert r.status_code == 200, r.text


def test_resource_group_delete_removes_identities_and_principals(sim: Sim, msi: ManagedServiceIdentityClient,
                                                                 arm: httpx.Client, graph: httpx.Client) -> None:
    group = make_group(sim, arm)
    uai = msi.user_assigned_identities.create_or_update(group, unique("uai-"), {"location": "eastus"})
    path = storage_path(sim, group, unique("st"))
    r = put_storage(arm, path, {"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": {uai.id: {}}})
    system = r.json()["identity"]["principalId"]
    seq = last_seq(arm)

    r = arm.delete(f"/subscriptions/{sim.subscription}/resourcegroups/{group}", params={"api-version": RG_API})
    assert r.status_code in (200, 202), r.text
    assert principal(graph, system) is None and principal(graph, uai.principal_id) is None
    deleted = {e["subject"] for e in events(arm, "servicePrincipal.deleted", seq)}
    assert {system, uai.principal_id} <= deleted


# --- the identity's certificate, made when first needed -----------------------------------------------------------

def test_an_identity_created_and_deleted_unused_never_gets_a_key(msi: ManagedServiceIdentityClient,
                                                                 arm: httpx.Client, rg: str) -> None:
    """No RSA key on the request path: an identity's certificate is made by its first token or Graph read."""
    after = last_seq(arm)
    name = unique("uai-unused-")
    created = msi.user_assigned_identities.create_or_update(rg, name, {"location": "eastus"})
    msi.user_assigned_identities.delete(rg, name)
    issued = [e for e in events(arm, "credential.issued", after) if e["subject"] == created.client_id]
    assert issued == []


def test_the_first_certificate_is_dated_as_if_made_at_creation(fresh_sim: Sim) -> None:
    """Made late, the first certificate still shows what eager issuance would: dated at the last 45-day roll
    since creation, one key, valid 90 days from then; a token then signs with it."""
    from datetime import datetime

    with fresh_sim.http() as arm:
        group = make_group(fresh_sim, arm)
        r = arm.put(uai_path(fresh_sim, group, "uai-late"), params={"api-version": "2023-01-31"},
                    json={"location": "eastus"})
        assert r.status_code == 201, r.text
        principal_id = r.json()["properties"]["principalId"]
        made = next(e for e in events(arm, "servicePrincipal.created") if e["subject"] == principal_id)["time"]
        assert arm.post("/_sim/clock/advance", json={"duration": "50d"}).status_code == 200
    with fresh_sim.http(fresh_sim.token(GRAPH)) as graph:
        sp = principal(graph, principal_id)
    assert sp is not None
    [cert] = sp["keyCredentials"]

    def at(text: str) -> float:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

    assert abs(at(cert["startDateTime"]) - (at(made) + 45 * 86400 - 300)) < 2
    assert abs(at(cert["endDateTime"]) - (at(made) + 135 * 86400)) < 2


# --- revokeTokens and listAssociatedResources ------------------------------------------------------------------------

REVOKE_API = "2023-07-31-preview"  # UserAssignedIdentities_RevokeTokens
ARM_RESOURCE = "https://management.azure.com/"


def _vm_with(sim: Sim, rg: str, nic_id: str, uai_id: str, name: str) -> str:
    from azure.mgmt.compute import ComputeManagementClient
    from azure.mgmt.compute.models import UserAssignedIdentitiesValue, VirtualMachineIdentity

    from tests.vmspec import vm_body

    identity = VirtualMachineIdentity(type="UserAssigned",
                                      user_assigned_identities={uai_id: UserAssignedIdentitiesValue()})
    with ComputeManagementClient(sim.credential(), sim.subscription, **sim.mgmt_kwargs()) as compute:
        return compute.virtual_machines.begin_create_or_update(rg, name, vm_body(identity, name, nic_id)).result().id


def _imds_token(arm: httpx.Client, vm_id: str, **params: str) -> str:
    r = arm.get("/_sim/imds-endpoint", params={"resourceId": vm_id})
    assert r.status_code == 200, r.text
    r = httpx.get(f"{r.json()['endpoint']}/metadata/identity/oauth2/token", headers={"Metadata": "true"},
                  params={"api-version": "2018-02-01", "resource": ARM_RESOURCE, **params})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _arm_as(sim: Sim, token: str) -> int:
    """A read every signed-in caller may make: 200 when ARM accepts the token, 401 when it refuses it."""
    with sim.http(token) as client:
        return client.get("/subscriptions", params={"api-version": "2022-12-01"}).status_code


def test_revoke_tokens_refuses_earlier_tokens_only(sim: Sim, msi: ManagedServiceIdentityClient, arm: httpx.Client,
                                                   rg: str, nic_id: str) -> None:
    """POST revokeTokens answers 200 with no body (the spec's TokenRevocation example, the az CLI's recording);
    a token IMDS issued to the identity before it is refused by ARM afterwards, a new one is accepted."""
    uai = msi.user_assigned_identities.create_or_update(rg, unique("uai-revoke-"), {"location": "eastus"})
    vm_id = _vm_with(sim, rg, nic_id, uai.id, unique("vm-revoke-"))
    before = _imds_token(arm, vm_id)
    assert _arm_as(sim, before) == 200

    r = arm.post(f"{uai.id}/revokeTokens", params={"api-version": REVOKE_API})
    assert r.status_code == 200 and r.content == b"", r.text
    with sim.http(before) as client:
        refused = client.get("/subscriptions", params={"api-version": "2022-12-01"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "InvalidAuthenticationToken"
    revoked = [e for e in events(arm, "tokens.revoked") if e["subject"] == uai.principal_id]
    assert revoked

    # IMDS's token cache (domain/identity_tokens.py) still holds the earlier token: ask past it
    after = _imds_token(arm, vm_id, bypass_cache="true")
    assert after != before and _arm_as(sim, after) == 200
    assert _arm_as(sim, before) == 401  # and the earlier one stays refused

    # a second revocation at once refuses the token issued in between as well
    assert arm.post(f"{uai.id}/revokeTokens", params={"api-version": REVOKE_API}).status_code == 200
    assert _arm_as(sim, after) == 401
    assert _arm_as(sim, _imds_token(arm, vm_id, bypass_cache="true")) == 200


def test_revoke_tokens_on_a_missing_identity(sim: Sim, arm: httpx.Client, rg: str) -> None:
    r = arm.post(f"{uai_path(sim, rg, 'no-such-identity')}/revokeTokens", params={"api-version": REVOKE_API})
    assert r.status_code == 404 and r.json()["error"]["code"] == "ResourceNotFound"


def test_list_associated_resources(sim: Sim, msi: ManagedServiceIdentityClient, arm: httpx.Client, rg: str,
                                   nic_id: str) -> None:
    """AssociatedResourcesListResult: {totalCount, value: [AzureResource]} of the resources naming the identity."""
    from azure.mgmt.msi.v2022_01_31_preview import ManagedServiceIdentityClient as PreviewClient

    uai = msi.user_assigned_identities.create_or_update(rg, unique("uai-assoc-"), {"location": "eastus"})
    preview = PreviewClient(sim.credential(), sim.subscription, **sim.mgmt_kwargs())
    listed = list(preview.user_assigned_identities.list_associated_resources(rg, uai.name))
    assert listed == []
    vm_id = _vm_with(sim, rg, nic_id, uai.id, unique("vm-assoc-"))
    other = unique("st")
    assert put_storage(arm, storage_path(sim, rg, other),
                       {"type": "UserAssigned", "userAssignedIdentities": {uai.id.upper(): {}}}).status_code == CREATED
    r = arm.post(f"{uai.id}/listAssociatedResources", params={"api-version": "2022-01-31-preview"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totalCount"] == 2 and set(body) == {"totalCount", "value"}
    vm = next(i for i in body["value"] if i["id"].lower() == vm_id.lower())
    assert vm == {"id": vm_id, "name": vm_id.rsplit("/", 1)[1], "type": "microsoft.compute/virtualmachines",
                  "resourceGroup": rg, "subscriptionId": sim.subscription,
                  "subscriptionDisplayName": vm["subscriptionDisplayName"]}
    assert isinstance(vm["subscriptionDisplayName"], str)
    listed = list(preview.user_assigned_identities.list_associated_resources(rg, uai.name))
    assert {i.id.lower() for i in listed} == {vm_id.lower(), storage_path(sim, rg, other).lower()}
    # the query reaches the action over REST: $filter narrows, $top cuts after totalCount is counted
    r = arm.post(f"{uai.id}/listAssociatedResources", params={
        "api-version": "2022-01-31-preview", "$filter": "type eq 'microsoft.compute/virtualmachines'"})
    assert r.status_code == 200 and [i["id"].lower() for i in r.json()["value"]] == [vm_id.lower()], r.text
    r = arm.post(f"{uai.id}/listAssociatedResources", params={"api-version": "2022-01-31-preview", "$top": "1"})
    assert r.json()["totalCount"] == 2 and len(r.json()["value"]) == 1, r.text


def test_list_associated_resources_query(monkeypatch: pytest.MonkeyPatch) -> None:
    """$filter, $orderby, $skip, $top and totalCount (counted before paging), on Resource Graph-shaped items."""
    from arm_sim.core.errors import DomainError
    from arm_sim.providers import managed_identity_associated as assoc

    items = [{"id": f"/subscriptions/s/resourceGroups/{g}/providers/{t}/{n}", "name": n, "type": t.lower(),
              "resourceGroup": g, "subscriptionId": "s", "subscriptionDisplayName": "Sub"}
             for n, g, t in (("test1", "rg1", "Microsoft.Web/sites"), ("test2", "rg2", "Microsoft.Web/sites"),
                             ("prod1", "rg1", "Microsoft.Compute/virtualMachines"),
                             ("test3", "rg1", "Microsoft.Compute/virtualMachines"))]
    monkeypatch.setattr(assoc, "associated", lambda ctx, identity_id: list(items))

    def names(**query: str) -> tuple[int, list[str]]:
        got = assoc.answer(None, "id", query)  # type: ignore[arg-type]
        return got["totalCount"], [i["name"] for i in got["value"]]

    assert names() == (4, ["prod1", "test1", "test2", "test3"])
    assert names(**{"$filter": "contains(name, 'test')", "$orderby": "name asc", "$top": "10", "$skip": "1"}) == \
        (3, ["test2", "test3"])
    assert names(**{"$filter": "resourceGroup eq 'RG1' and not startswith(name, 'prod')"}) == (2, ["test1", "test3"])
    assert names(**{"$filter": "type eq 'microsoft.web/sites' or endswith(name, '1')", "$orderby": "name desc"}) == \
        (3, ["test2", "test1", "prod1"])
    assert names(**{"$orderby": "type desc, name asc", "$top": "2"}) == (4, ["test1", "test2"])
    for bad in ({"$filter": "name gt 'a'"}, {"$filter": "colour eq 'red'"}, {"$filter": "contains(name, 'a'"},
                {"$top": "0"}, {"$skip": "x"}, {"$orderby": "name up"}):
        with pytest.raises(DomainError) as e:
            names(**bad)
        assert e.value.status == 400 and e.value.code == "BadRequest"


@pytest.mark.parametrize("namespace", ["Microsoft.ManagedIdentity", "Microsoft.KeyVault"])
def test_operations_lists_answer_any_signed_in_caller(sim: Sim, arm: httpx.Client, namespace: str) -> None:
    """Tenant-level `GET /providers/{namespace}/operations` (OperationListResult), for the subscription's Owner
    as for anyone signed in."""
    r = arm.get(f"/providers/{namespace}/operations", params={"api-version": "2022-01-31-preview"})
    assert r.status_code == 200, r.text
    value = r.json()["value"]
    assert value and all(o["name"].lower().startswith(namespace.lower() + "/") and
                         set(o["display"]) == {"provider", "resource", "operation", "description"} for o in value)
    assert any(o["name"].lower() == f"{namespace.lower()}/operations/read" for o in value)


def test_an_operations_list_arm_sim_has_no_data_for_is_a_clear_404(arm: httpx.Client) -> None:
    r = arm.get("/providers/Microsoft.Authorization/operations", params={"api-version": "2022-04-01"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "NoRegisteredProviderFound"


def test_list_associated_resources_in_a_template(sim: Sim, msi: ManagedServiceIdentityClient, arm: httpx.Client,
                                                 rg: str) -> None:
    """The same action through a template's list*() function (one write path): what names the identity."""
    uai = msi.user_assigned_identities.create_or_update(rg, unique("uai-tpl-"), {"location": "eastus"})
    account = unique("st")
    assert put_storage(arm, storage_path(sim, rg, account),
                       {"type": "UserAssigned", "userAssignedIdentities": {uai.id: {}}}).status_code == CREATED
    listed = (f"[listAssociatedResources(resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', "
              f"'{uai.name}'), '2022-01-31-preview')]")
    template = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                "contentVersion": "1.0.0.0", "resources": [],
                "outputs": {"listed": {"type": "object", "value": listed}}}
    url = f"/subscriptions/{sim.subscription}/resourceGroups/{rg}/providers/Microsoft.Resources/deployments/assoc"
    r = arm.put(url, params={"api-version": "2025-04-01"}, json={"properties": {"mode": "Incremental",
                                                                              "template": template}})
    assert r.status_code in (200, 201), r.text
    done = arm.get(url, params={"api-version": "2025-04-01"}).json()["properties"]
    assert done["provisioningState"] == "Succeeded", done
    out = done["outputs"]["listed"]["value"]
    assert out["totalCount"] == 1 and out["value"][0]["id"].lower() == storage_path(sim, rg, account).lower()
