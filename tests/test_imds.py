"""IMDS through real clients: azure-identity's ManagedIdentityCredential (MSAL underneath) pointed at a VM's
IMDS with AZURE_POD_IDENTITY_AUTHORITY_HOST, raw HTTP for the protocol details, and the token chain's
lifecycle: deleted VMs and identities, certificates rolled and expired on the simulated clock, events."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CredentialUnavailableError, ManagedIdentityCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute.models import (
    Sku,
    UserAssignedIdentitiesValue,
    VirtualMachineIdentity,
    VirtualMachineScaleSet,
    VirtualMachineScaleSetIdentity,
)
from azure.mgmt.msi import ManagedServiceIdentityClient

from tests.simserver import Sim
from tests.vmspec import nic, vm_body

VAULT = "https://vault.azure.net"
GRAPH = "https://graph.microsoft.com/.default"
IMDS_API = "2018-02-01"
NOT_FOUND = {"error": "invalid_request", "error_description": "Identity not found"}


# --- helpers shared with test_app_service ---------------------------------------------------------------------

def directory_id(resource_id: str) -> str:
    """Entra's spelling of a resource id (lower-case `resourcegroups`), as in xms_mirid and alternativeNames."""
    return "/".join(p.lower() if p.lower() == "resourcegroups" else p for p in resource_id.split("/"))


def verify(sim: Sim, token: str, audience: str, check_time: bool = True) -> dict[str, Any]:
    """The token's signature against the tenant's JWKS, its issuer and exact audience; returns the claims."""
    keys = httpx.get(f"{sim.url}/{sim.tenant}/discovery/v2.0/keys", verify=sim.ca).json()
    header = jwt.get_unverified_header(token)
    [jwk] = [k for k in jwt.PyJWKSet.from_dict(keys).keys if k.key_id == header["kid"]]
    assert header["alg"] == "RS256" and header["x5t"] == header["kid"]
    timing = {} if check_time else {"verify_exp": False, "verify_nbf": False, "verify_iat": False}
    return jwt.decode(token, jwk.key, algorithms=["RS256"], audience=audience,
                      issuer=f"https://sts.windows.net/{sim.tenant}/", options=timing)


def assert_mi_claims(sim: Sim, claims: dict[str, Any], principal: str, client_id: str, mirid: str) -> None:
    assert claims["appid"] == client_id and claims["appidacr"] == "2" and claims["idtyp"] == "app"
    assert claims["oid"] == claims["sub"] == principal and claims["tid"] == sim.tenant
    assert claims["xms_mirid"] == directory_id(mirid) and claims["ver"] == "1.0"
    assert 86_000 <= claims["exp"] - claims["iat"] <= 87_000  # managed-identity tokens live about 24 h


def endpoint(sim: Sim, resource_id: str) -> dict[str, Any]:
    with sim.http() as arm:
        r = arm.get("/_sim/imds-endpoint", params={"resourceId": resource_id})
    assert r.status_code == 200, r.text
    return r.json()


def events(sim: Sim, **filters: str) -> list[dict[str, Any]]:
    with sim.http() as arm:
        r = arm.get("/_sim/events", params=filters)
    assert r.status_code == 200, r.text
    return r.json()["value"]


def mi_token(scope: str = f"{VAULT}/.default", **kwargs: Any) -> str:
    """A fresh credential per call: MSAL caches tokens per credential instance."""
    with ManagedIdentityCredential(**kwargs) as credential:
        return credential.get_token(scope).token


# --- fixtures -------------------------------------------------------------------------------------------------

# `credential`, `compute` and `msi` are shared fixtures (tests/conftest.py).


@pytest.fixture(scope="module")
def rg(sim: Sim, credential: Any) -> str:
    name = f"rg-imds-{uuid.uuid4().hex[:8]}"
    with sim.resource_client(credential) as resources:
        resources.resource_groups.create_or_update(name, {"location": "eastus"})
    return name


@pytest.fixture
def inside(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`inside(url)`: run the rest of the test as code inside the VM whose IMDS is at `url`."""
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    yield lambda url: monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", url)


def identities(kind: str, *uai_ids: str) -> VirtualMachineIdentity:
    return VirtualMachineIdentity(type=kind, user_assigned_identities={
        i: UserAssignedIdentitiesValue() for i in uai_ids} or None)


def system_client_id(sim: Sim, resource_id: str) -> str:
    with sim.http() as arm:
        r = arm.get(f"{resource_id}/providers/Microsoft.ManagedIdentity/identities/default",
                    params={"api-version": "2023-01-31"})
    assert r.status_code == 200, r.text
    return r.json()["properties"]["clientId"]


def imds(base: str, resource: str = VAULT, headers: dict[str, str] | None = None, **params: str) -> httpx.Response:
    return httpx.get(f"{base}/metadata/identity/oauth2/token",
                     params={"api-version": IMDS_API, "resource": resource, **params},
                     headers={"Metadata": "true"} if headers is None else headers)


# --- tests ----------------------------------------------------------------------------------------------------

def test_tokens_for_every_identity_of_a_vm(sim: Sim, compute: ComputeManagementClient,
                                           msi: ManagedServiceIdentityClient, rg: str, nic_id: str,
                                           inside: Any) -> None:
    uai1 = msi.user_assigned_identities.create_or_update(rg, "uai-a", {"location": "eastus"})
    uai2 = msi.user_assigned_identities.create_or_update(rg, "uai-b", {"location": "eastus"})
    vm = compute.virtual_machines.begin_create_or_update(
        rg, "vm-all", vm_body(identities("SystemAssigned, UserAssigned", uai1.id, uai2.id), "vm-all", nic_id)).result()
    ep = endpoint(sim, vm.id)
    assert set(ep) == {"kind", "endpoint"} and ep["kind"] == "vm"
    base, _, key = ep["endpoint"].rpartition("/vms/")
    assert base == sim.imds_url and re.fullmatch(r"[A-Za-z0-9_-]{43}", key) and key != vm.vm_id
    inside(ep["endpoint"])

    # no selector: the system-assigned identity
    claims = verify(sim, mi_token(), VAULT)
    assert_mi_claims(sim, claims, vm.identity.principal_id, system_client_id(sim, vm.id), vm.id)
    # by client id, object id and resource id: the user-assigned ones
    claims = verify(sim, mi_token(client_id=uai1.client_id), VAULT)
    assert_mi_claims(sim, claims, uai1.principal_id, uai1.client_id, uai1.id)
    claims = verify(sim, mi_token(identity_config={"object_id": uai2.principal_id}), VAULT)
    assert_mi_claims(sim, claims, uai2.principal_id, uai2.client_id, uai2.id)
    claims = verify(sim, mi_token(identity_config={"resource_id": uai2.id}), VAULT)
    assert_mi_claims(sim, claims, uai2.principal_id, uai2.client_id, uai2.id)
    # the audience is the resource exactly as asked, trailing slash included
    token = mi_token("https://management.azure.com//.default", client_id=uai1.client_id)
    assert verify(sim, token, "https://management.azure.com/")["aud"] == "https://management.azure.com/"

    # the chain is in the event log, in order: requested at IMDS, assertion signed, issued by Entra
    seen = [e for e in events(sim, principal=uai2.principal_id)
            if e["kind"] in ("token.requested", "clientAssertion.signed", "token.issued")]
    assert [e["kind"] for e in seen[:3]] == ["token.requested", "clientAssertion.signed", "token.issued"]
    requested = seen[0]["details"]
    assert requested["via"] == "imds" and requested["selector"] == f"object_id={uai2.principal_id}"
    assert requested["identityResourceId"].lower() == uai2.id.lower() and requested["resource"] == VAULT
    assert seen[0]["subject"] == vm.id
    assert seen[1]["details"]["audience"] == f"{sim.url}/{sim.tenant}/oauth2/token"


def test_imds_protocol(sim: Sim, compute: ComputeManagementClient, msi: ManagedServiceIdentityClient,
                       rg: str, nic_id: str) -> None:
    uai = msi.user_assigned_identities.create_or_update(rg, "uai-p", {"location": "eastus"})
    vm = compute.virtual_machines.begin_create_or_update(
        rg, "vm-proto", vm_body(identities("SystemAssigned, UserAssigned", uai.id), "vm-proto", nic_id, env="test",
                                team="id")).result()
    base = endpoint(sim, vm.id)["endpoint"]

    r = imds(base)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json"), r.text
    body = r.json()
    assert set(body) == {"access_token", "client_id", "expires_in", "expires_on", "ext_expires_in", "not_before",
                         "resource", "token_type"}
    assert all(isinstance(v, str) for v in body.values()) and body["token_type"] == "Bearer"
    assert body["resource"] == VAULT and body["client_id"] == system_client_id(sim, vm.id)
    assert int(body["expires_on"]) - int(body["not_before"]) == int(body["ext_expires_in"])
    # cached per identity and resource, as IMDS does; bypass_cache=true asks Entra again
    again = imds(base).json()
    assert again["access_token"] == body["access_token"] and int(again["expires_in"]) <= int(body["expires_in"])
    fresh = imds(base, bypass_cache="true").json()
    assert fresh["access_token"] != body["access_token"]
    # a trailing slash and percent-encoded query keys are fine
    r = httpx.get(f"{base}/metadata/identity/oauth2/token/?api%2Dversion={IMDS_API}&resource={VAULT}",
                  headers={"Metadata": "true"})
    assert r.status_code == 200, r.text
    # the selector asked for is echoed; client_id always is
    r = imds(base, msi_res_id=uai.id)
    assert r.json()["msi_res_id"] == uai.id and r.json()["client_id"] == uai.client_id

    def refused(r: httpx.Response, description: str, error: str = "invalid_request") -> None:
        assert r.status_code == 400, r.text
        assert r.json() == {"error": error, "error_description": description}

    refused(imds(base, headers={}), "Required metadata header not specified")
    refused(imds(base, headers={"Metadata": "True"}), "Required metadata header not specified")
    r = imds(base, headers={"Metadata": "true", "X-Forwarded-For": "10.0.0.1"})
    assert r.status_code == 400 and "X-Forwarded-For" in r.json()["error_description"]
    r = httpx.get(f"{base}/metadata/identity/oauth2/token?api-version={IMDS_API}&resource={VAULT}&resource={VAULT}",
                  headers={"Metadata": "true"})
    assert r.status_code == 400 and "'resource'" in r.json()["error_description"]
    r = httpx.get(f"{base}/metadata/identity/oauth2/token", params={"api-version": IMDS_API},
                  headers={"Metadata": "true"})
    refused(r, "Required audience parameter not specified")
    r = httpx.get(f"{base}/metadata/identity/oauth2/token", params={"resource": VAULT}, headers={"Metadata": "true"})
    assert r.status_code == 400 and r.json()["error"].startswith("Bad request. api-version was not specified")
    r = imds(base, client_id=uai.client_id, object_id=uai.principal_id)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    refused(imds(base, client_id=str(uuid.uuid4())), "Identity not found")
    refused(imds(base, msi_res_id=uai.id + "-other"), "Identity not found")
    refused(imds(f"{sim.imds_url}/vms/{uuid.uuid4()}"), "Identity not found")
    refused(imds(f"{sim.imds_url}/vms/{vm.vm_id}"), "Identity not found")  # the public vmId opens nothing
    r = imds(base, resource="https://unknown.example.com")
    assert r.status_code == 400 and r.json()["error"] == "invalid_resource"
    assert r.json()["error_description"].startswith("AADSTS500011: The resource principal named")
    assert httpx.post(f"{base}/metadata/identity/oauth2/token", headers={"Metadata": "true"}).status_code == 405

    # identity/info, instance metadata (route filtering, format=text), versions
    r = httpx.get(f"{base}/metadata/identity/info", params={"api-version": IMDS_API}, headers={"Metadata": "true"})
    assert r.status_code == 200 and r.json() == {"tenantId": sim.tenant}, r.text
    r = httpx.get(f"{base}/metadata/instance", params={"api-version": "2021-02-01"}, headers={"Metadata": "true"})
    assert r.status_code == 200, r.text
    c = r.json()["compute"]
    assert (c["name"], c["location"], c["resourceGroupName"], c["subscriptionId"]) == (
        "vm-proto", "eastus", rg, sim.subscription)
    assert (c["vmId"], c["vmSize"], c["osType"], c["resourceId"]) == (vm.vm_id, "Standard_B1s", "Linux", vm.id)
    assert c["tags"] == "env:test;team:id" and c["tagsList"] == [{"name": "env", "value": "test"},
                                                                 {"name": "team", "value": "id"}]
    assert all(isinstance(v, str) for v in c.values() if not isinstance(v, dict | list))
    r = httpx.get(f"{base}/metadata/instance/compute/name", params={"api-version": "2021-02-01", "format": "text"},
                  headers={"Metadata": "true"})
    assert r.status_code == 200 and r.text == "vm-proto" and r.headers["content-type"].startswith("text/plain")
    r = httpx.get(f"{base}/metadata/instance/compute/vmId", params={"api-version": "2021-02-01"},
                  headers={"Metadata": "true"})
    assert r.status_code == 400
    r = httpx.get(f"{base}/metadata/instance/compute/tagsList/1/value",
                  params={"api-version": "2021-02-01", "format": "text"}, headers={"Metadata": "true"})
    assert r.text == "id"
    r = httpx.get(f"{base}/metadata/instance", params={"api-version": "2021-02-01"})
    assert r.status_code == 400 and r.json() == {"error": "Bad request. Required metadata header not specified"}
    r = httpx.get(f"{base}/metadata/versions", headers={"Metadata": "true"})
    assert r.status_code == 200 and "2018-02-01" in r.json()["apiVersions"]


def as_principal(sim: Sim, name: str) -> str:
    """An ARM token of a new application of the tenant (not the bootstrap principal); returns it."""
    with sim.http() as arm:
        app = arm.post("/_sim/applications", json={"displayName": name}).json()
    r = httpx.post(f"{sim.url}/{sim.tenant}/oauth2/v2.0/token", verify=sim.ca, data={
        "grant_type": "client_credentials", "client_id": app["appId"], "client_secret": app["clientSecret"],
        "scope": "https://management.azure.com/.default"})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def refusals(base: str) -> dict[str, tuple[int, Any]]:
    """What every IMDS route under `base` (`{listener}/vms/{key}`) answers, as (status, body)."""
    md = {"Metadata": "true"}
    answers = {
        "token": imds(base), "token-by-client-id": imds(base, client_id=str(uuid.uuid4())),
        "extension": httpx.get(f"{base}/extension/oauth2/token", params={"resource": VAULT}, headers=md),
        "info": httpx.get(f"{base}/metadata/identity/info", params={"api-version": IMDS_API}, headers=md),
        "instance": httpx.get(f"{base}/metadata/instance", params={"api-version": "2021-02-01"}, headers=md),
        "instance-leaf": httpx.get(f"{base}/metadata/instance/compute/vmId",
                                   params={"api-version": "2021-02-01", "format": "text"}, headers=md),
        "versions": httpx.get(f"{base}/metadata/versions", headers=md),
    }
    return {k: (r.status_code, r.json()) for k, r in answers.items()}


def test_reading_a_vm_does_not_open_its_imds(sim: Sim, compute: ComputeManagementClient,
                                             msi: ManagedServiceIdentityClient, rg: str, nic_id: str) -> None:
    """Issue 12: a Reader of the group sees the VM's vmId (public, as in Azure) but cannot use it at IMDS; only the
    VM's secret key, handed out to whoever runs as the VM, opens it."""
    uai = msi.user_assigned_identities.create_or_update(rg, "uai-read", {"location": "eastus"})
    vm = compute.virtual_machines.begin_create_or_update(
        rg, "vm-read", vm_body(identities("SystemAssigned, UserAssigned", uai.id), "vm-read", nic_id)).result()
    reader = as_principal(sim, "imds-reader")
    with sim.http() as arm:
        whoami = jwt.decode(reader, options={"verify_signature": False})["oid"]
        r = arm.put(f"/subscriptions/{sim.subscription}/resourceGroups/{rg}/providers/Microsoft.Authorization/"
                    f"roleAssignments/{uuid.uuid4()}", params={"api-version": "2022-04-01"}, json={"properties": {
                        "principalId": whoami, "principalType": "ServicePrincipal",
                        "roleDefinitionId": f"/subscriptions/{sim.subscription}/providers/Microsoft.Authorization/"
                                            "roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"}})
        assert r.status_code == 201, r.text
    key = endpoint(sim, vm.id)["endpoint"].rpartition("/vms/")[2]

    # the Reader reads the VM: vmId is there (ARM shows it, as Azure does), the IMDS key is nowhere
    with sim.http(reader) as arm:
        seen = [arm.get(vm.id, params={"api-version": "2024-07-01"}),
                arm.get(vm.id, params={"api-version": "2024-07-01", "$expand": "instanceView"}),
                arm.get(f"{vm.id}/instanceView", params={"api-version": "2024-07-01"}),
                arm.get(f"/subscriptions/{sim.subscription}/resourceGroups/{rg}/providers/Microsoft.Compute/"
                        "virtualMachines", params={"api-version": "2024-07-01"}),
                arm.get(f"/subscriptions/{sim.subscription}/resourceGroups/{rg}/resources",
                        params={"api-version": "2025-04-01"})]
        assert seen[0].status_code == 200 and seen[0].json()["properties"]["vmId"] == vm.vm_id, seen[0].text
        assert all(r.status_code == 200 for r in seen), [r.text for r in seen]
        assert not any(key in r.text for r in seen)
        # nor does the simulator's own API hand the key to anyone but the bootstrap principal
        r = arm.get("/_sim/imds-endpoint", params={"resourceId": vm.id})
        assert r.status_code == 403 and r.json()["error"]["code"] == "AuthorizationFailed" and key not in r.text
    r = httpx.get(f"{sim.url}/_sim/imds-endpoint", params={"resourceId": vm.id}, verify=sim.ca)
    assert r.status_code == 401 and key not in r.text
    with sim.http(sim.token(GRAPH)) as graph:
        sp = graph.get(f"/v1.0/servicePrincipals/{vm.identity.principal_id}")
        assert sp.status_code == 200 and key not in sp.text

    # the Reader's repro: the vmId at IMDS gets no token for any of the VM's identities, nor any metadata
    by_vm_id = f"{sim.imds_url}/vms/{vm.vm_id}"
    for selector in ({}, {"client_id": uai.client_id}, {"object_id": uai.principal_id}, {"msi_res_id": uai.id},
                     {"object_id": vm.identity.principal_id}):
        r = imds(by_vm_id, **selector)
        assert r.status_code == 400 and r.json() == NOT_FOUND, (selector, r.text)
    answers = refusals(by_vm_id)
    assert all(status == 400 for status, _ in answers.values()), answers
    assert "vm-read" not in json.dumps(answers) and vm.id not in json.dumps(answers)

    # the key opens it: tokens, and instance metadata showing the same public vmId
    base = f"{sim.imds_url}/vms/{key}"
    assert imds(base).status_code == 200 and imds(base, client_id=uai.client_id).status_code == 200
    r = httpx.get(f"{base}/metadata/instance/compute/vmId", params={"api-version": "2021-02-01", "format": "text"},
                  headers={"Metadata": "true"})
    assert r.status_code == 200 and r.text == vm.vm_id
    # events name the key by a fingerprint only
    assert not any(key in json.dumps(e) for e in events(sim, resource=vm.id))


def test_unknown_and_deleted_vm_keys_answer_alike(sim: Sim, compute: ComputeManagementClient, rg: str,
                                                  nic_id: str) -> None:
    """A wrong key and the key of a deleted VM get the same IMDS refusals (400, never 404/5xx): no oracle."""
    vm = compute.virtual_machines.begin_create_or_update(
        rg, "vm-gone", vm_body(identities("SystemAssigned"), "vm-gone", nic_id)).result()
    base = endpoint(sim, vm.id)["endpoint"]
    assert imds(base).status_code == 200
    compute.virtual_machines.begin_delete(rg, "vm-gone").result()
    gone = refusals(base)
    wrong = refusals(f"{sim.imds_url}/vms/{'x' * 43}")
    assert gone == wrong, (gone, wrong)
    assert gone["token"] == gone["token-by-client-id"] == gone["info"] == gone["extension"] == (400, NOT_FOUND)
    assert gone["instance"] == gone["instance-leaf"] == gone["versions"]
    assert gone["instance"][0] == 400 and set(gone["instance"][1]) == {"error"}
    assert gone["instance"][1]["error"].startswith("Bad request.")


def test_a_scale_sets_public_ids_open_no_imds(sim: Sim, compute: ComputeManagementClient, rg: str) -> None:
    """A scale set's identity is reachable from no IMDS address a reader of the scale set can learn: arm-sim
    models no scale-set instances, so its uniqueId (public, like a VM's vmId) opens nothing."""
    body = VirtualMachineScaleSet(location="eastus", sku=Sku(name="Standard_B1s", capacity=1),
                                  identity=VirtualMachineScaleSetIdentity(type="SystemAssigned"))
    ss = compute.virtual_machine_scale_sets.begin_create_or_update(rg, "ss-imds", body).result()
    assert ss.identity.principal_id and ss.unique_id
    for public in (ss.unique_id, ss.identity.principal_id, ss.name):
        assert refusals(f"{sim.imds_url}/vms/{public}") == refusals(f"{sim.imds_url}/vms/{'x' * 43}")


def test_default_identity_choice(sim: Sim, compute: ComputeManagementClient, msi: ManagedServiceIdentityClient,
                                 rg: str, nic_id: str, inside: Any) -> None:
    uai1 = msi.user_assigned_identities.create_or_update(rg, "uai-c", {"location": "eastus"})
    uai2 = msi.user_assigned_identities.create_or_update(rg, "uai-d", {"location": "eastus"})
    one = compute.virtual_machines.begin_create_or_update(
        rg, "vm-one", vm_body(identities("UserAssigned", uai1.id), "vm-one", nic_id)).result()
    two = compute.virtual_machines.begin_create_or_update(
        rg, "vm-two", vm_body(identities("UserAssigned", uai1.id, uai2.id), "vm-two", nic_id)).result()
    none = compute.virtual_machines.begin_create_or_update(rg, "vm-none", vm_body(None, "vm-none", nic_id)).result()

    # as in Azure: no system identity and a single user-assigned one → that one answers the default request
    inside(endpoint(sim, one.id)["endpoint"])
    assert verify(sim, mi_token(), VAULT)["oid"] == uai1.principal_id
    # several and no selector: the caller must choose
    r = imds(endpoint(sim, two.id)["endpoint"])
    assert r.status_code == 400 and r.json()["error_description"].startswith(
        "Multiple user assigned identities exist, please specify the clientId / resourceId")
    inside(endpoint(sim, two.id)["endpoint"])
    assert verify(sim, mi_token(client_id=uai2.client_id), VAULT)["oid"] == uai2.principal_id
    # a VM without identity
    assert imds(endpoint(sim, none.id)["endpoint"]).json() == NOT_FOUND
    inside(endpoint(sim, none.id)["endpoint"])
    with pytest.raises(CredentialUnavailableError):
        mi_token()
    refusals = [e for e in events(sim, kind="token.refused", resource=none.id)]
    assert refusals and refusals[-1]["details"]["reason"] == "no such identity on the resource"


def test_deleted_vm_and_deleted_identity(sim: Sim, compute: ComputeManagementClient,
                                         msi: ManagedServiceIdentityClient, rg: str, nic_id: str, inside: Any) -> None:
    keep = msi.user_assigned_identities.create_or_update(rg, "uai-keep", {"location": "eastus"})
    gone = msi.user_assigned_identities.create_or_update(rg, "uai-gone", {"location": "eastus"})
    vm = compute.virtual_machines.begin_create_or_update(
        rg, "vm-life", vm_body(identities("SystemAssigned, UserAssigned", keep.id, gone.id), "vm-life",
                                       nic_id)).result()
    base = endpoint(sim, vm.id)["endpoint"]
    inside(base)
    assert verify(sim, mi_token(client_id=gone.client_id), VAULT)["oid"] == gone.principal_id
    assert imds(base, client_id=gone.client_id).status_code == 200  # now cached

    # a user-assigned identity deleted while still attached: refused at once, cache or not; the VM keeps it
    msi.user_assigned_identities.delete(rg, "uai-gone")
    assert imds(base, client_id=gone.client_id).json() == NOT_FOUND
    assert imds(base, msi_res_id=gone.id).json() == NOT_FOUND
    with pytest.raises(CredentialUnavailableError):
        mi_token(client_id=gone.client_id)
    kept = compute.virtual_machines.get(rg, "vm-life").identity.user_assigned_identities
    assert gone.id.lower() in {k.lower() for k in kept}
    assert verify(sim, mi_token(client_id=keep.client_id), VAULT)["oid"] == keep.principal_id

    # the VM deleted: its IMDS answers 400 Identity not found at once (never 404/5xx, which clients retry)
    assert imds(base).status_code == 200
    compute.virtual_machines.begin_delete(rg, "vm-life").result()
    start = time.monotonic()
    r = imds(base)
    assert r.status_code == 400 and r.json() == NOT_FOUND and time.monotonic() - start < 1
    assert imds(base, client_id=keep.client_id).json() == NOT_FOUND
    start = time.monotonic()
    with pytest.raises(CredentialUnavailableError, match="Identity not found"):
        mi_token()
    assert time.monotonic() - start < 3
    # the user-assigned identity survives the VM; a VM created again gets a new vmId and new principal
    assert msi.user_assigned_identities.get(rg, "uai-keep").principal_id == keep.principal_id
    again = compute.virtual_machines.begin_create_or_update(
        rg, "vm-life", vm_body(identities("SystemAssigned"), "vm-life", nic_id)).result()
    assert again.vm_id != vm.vm_id and again.identity.principal_id != vm.identity.principal_id
    inside(endpoint(sim, again.id)["endpoint"])
    assert verify(sim, mi_token(), VAULT)["oid"] == again.identity.principal_id
    assert imds(base).json() == NOT_FOUND


def test_legacy_extension_endpoint(sim: Sim, compute: ComputeManagementClient, rg: str, nic_id: str) -> None:
    from azure.mgmt.compute.models import VirtualMachineExtension, VirtualMachineExtensionProperties

    vm = compute.virtual_machines.begin_create_or_update(
        rg, "vm-ext", vm_body(identities("SystemAssigned"), "vm-ext", nic_id)).result()
    base = endpoint(sim, vm.id)["endpoint"]
    url = f"{base}/extension/oauth2/token"
    r = httpx.get(url, params={"resource": VAULT}, headers={"Metadata": "true"})
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client", r.text
    extension = VirtualMachineExtension(location="eastus", properties=VirtualMachineExtensionProperties(
        publisher="Microsoft.ManagedIdentity", type="ManagedIdentityExtensionForLinux", type_handler_version="1.0",
        settings={"port": 50342}))
    compute.virtual_machine_extensions.begin_create_or_update(
        rg, "vm-ext", "ManagedIdentityExtensionForLinux", extension).result()
    assert endpoint(sim, vm.id)["extensionEndpoint"] == url
    r = httpx.get(url, params={"resource": VAULT}, headers={"Metadata": "true"})
    assert r.status_code == 200, r.text
    assert verify(sim, r.json()["access_token"], VAULT)["oid"] == vm.identity.principal_id
    r = httpx.get(url, params={"resource": VAULT})
    assert r.status_code == 400 and r.json() == {"error": "bad_request_102",
                                                 "error_description": "Required metadata header not specified"}


def test_env_and_exec(sim: Sim, compute: ComputeManagementClient, rg: str, nic_id: str) -> None:
    vm = compute.virtual_machines.begin_create_or_update(
        rg, "vm-cli", vm_body(identities("SystemAssigned"), "vm-cli", nic_id)).result()
    env = sim.env()
    out = subprocess.run([sys.executable, "-m", "arm_sim", "env", "--vm", "vm-cli", "-g", rg, "--format", "json"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    values = json.loads(out.stdout)
    assert values["AZURE_POD_IDENTITY_AUTHORITY_HOST"] == endpoint(sim, vm.id)["endpoint"]
    assert values["ARM_SIM_TENANT"] == sim.tenant

    script = ("import os; from azure.identity import ManagedIdentityCredential as M; "
              "assert 'AZURE_CLIENT_SECRET' not in os.environ; "
              "print(M().get_token('https://vault.azure.net/.default').token)")
    env["AZURE_CLIENT_SECRET"] = "must-not-leak-inside"
    out = subprocess.run([sys.executable, "-m", "arm_sim", "exec", "--vm", "vm-cli", "--", sys.executable, "-c",
                          script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert verify(sim, out.stdout.strip(), VAULT)["oid"] == vm.identity.principal_id

    out = subprocess.run([sys.executable, "-m", "arm_sim", "env", "--vm", "no-such-vm"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "No VM named 'no-such-vm'" in out.stderr


def test_certificates_roll_and_expire(fresh_sim: Sim, inside: Any) -> None:
    sim = fresh_sim
    with sim.credential() as cred, sim.resource_client(cred) as resources, \
            ComputeManagementClient(cred, sim.subscription, **sim.mgmt_kwargs()) as compute, \
            ManagedServiceIdentityClient(cred, sim.subscription, **sim.mgmt_kwargs()) as msi:
        resources.resource_groups.create_or_update("rg", {"location": "eastus"})
        uai = msi.user_assigned_identities.create_or_update("rg", "uai", {"location": "eastus"})
        with sim.http() as arm:
            nic_id = nic(arm, f"/subscriptions/{sim.subscription}/resourceGroups/rg")
        vm = compute.virtual_machines.begin_create_or_update("rg", "vm", vm_body(
            identities("UserAssigned", uai.id), "vm", nic_id)).result()
    inside(endpoint(sim, vm.id)["endpoint"])
    assert verify(sim, mi_token(), VAULT)["oid"] == uai.principal_id

    def key_credentials() -> list[dict[str, Any]]:
        with sim.http(sim.token(GRAPH)) as graph:
            r = graph.get(f"/v1.0/servicePrincipals/{uai.principal_id}")
        assert r.status_code == 200, r.text
        return r.json()["keyCredentials"]

    [first] = key_credentials()
    with sim.http() as arm:
        assert arm.post("/_sim/clock/advance", json={"duration": "46d"}).status_code == 200
    rolled = events(sim, kind="credential.rolled", principal=uai.principal_id)
    assert len(rolled) == 1 and rolled[0]["details"]["previousKeyId"] == first["keyId"]
    creds = key_credentials()
    assert len(creds) == 2 and {c["keyId"] for c in creds} == {first["keyId"], rolled[0]["details"]["keyId"]}
    # still issued, signed with the new certificate
    assert verify(sim, mi_token(), VAULT, check_time=False)["oid"] == uai.principal_id
    signed = events(sim, kind="clientAssertion.signed", principal=uai.principal_id)
    assert signed[-1]["details"]["keyId"] == rolled[0]["details"]["keyId"]

    # `arm-sim clock advance` rolls too (it shares the database with the server)
    out = subprocess.run([sys.executable, "-m", "arm_sim", "clock", "advance", "46d"], env=sim.env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert len(events(sim, kind="credential.rolled", principal=uai.principal_id)) == 2
    assert len(key_credentials()) == 2  # current and previous only

    # rolling disabled and 91 days on: the only certificate has expired; IMDS refuses, saying why
    with sim.http() as arm:
        r = arm.post("/_sim/credentials/rolling", json={"enabled": False})
        assert r.status_code == 200 and r.json() == {"enabled": False}
        assert arm.post("/_sim/credentials/rolling", json={"enabled": "no"}).status_code == 400
        assert arm.post("/_sim/clock/advance", json={"duration": "91d"}).status_code == 200
    assert events(sim, kind="credential.expired", principal=uai.principal_id)
    r = imds(endpoint(sim, vm.id)["endpoint"])
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client", r.text
    description = r.json()["error_description"]
    assert "expired" in description and "rolling is disabled" in description and uai.client_id in description
    with pytest.raises((CredentialUnavailableError, ClientAuthenticationError)):
        mi_token()
    refused = events(sim, kind="token.refused", principal=uai.principal_id)
    assert any(e["details"].get("reason") == "credential expired" and e["details"].get("thumbprint")
               for e in refused)
