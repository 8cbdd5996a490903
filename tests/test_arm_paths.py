"""Strict ARM paths (issue 12 point 5): what ARM cannot route is refused for every method, never stored with
segments dropped; well-formed children, extension resources and provider-level endpoints keep working."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.simserver import Sim
from tests.test_keyvault_secrets import Env, claims_of

V = "2024-03-01"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
METHODS = ("PUT", "GET", "DELETE", "PATCH", "HEAD")


@pytest.fixture(scope="module")
def env(sim: Sim) -> Iterator[Env]:
    e = Env(sim)
    yield e
    e.close()


def _rg_id(sim: Sim, env: Env) -> str:
    return f"/subscriptions/{sim.subscription}/resourceGroups/{env.rg}"


def _send(arm: httpx.Client, method: str, path: str, body: Any = None, version: str = V) -> httpx.Response:
    if body is None and method in ("PUT", "PATCH"):
        body = {"location": "eastus", "properties": {}}
    return arm.request(method, path, params={"api-version": version}, json=body)


def _refused(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, (r.request.method, r.request.url, r.text)
    if r.request.method == "HEAD":
        return {}
    error = r.json()["error"]
    assert error["code"] == code and error["message"]
    return dict(error)


def _all_refused(arm: httpx.Client, path: str, status: int, code: str) -> str:
    """Every method on `path` (and GET/POST on its collection) is refused alike; returns the message."""
    message = _refused(_send(arm, "PUT", path), status, code)["message"]
    for m in METHODS[1:]:
        _refused(_send(arm, m, path), status, code)
    collection = path.rsplit("/", 1)[0]
    _refused(_send(arm, "GET", collection), status, code)
    return str(message)


def _listed(arm: httpx.Client, scope: str) -> list[str]:
    r = arm.get(f"{scope}/resources", params={"api-version": V})
    assert r.status_code == 200, r.text
    return [x["id"].lower() for x in r.json()["value"]]


def test_junk_segments_before_providers_are_refused_not_dropped(sim: Sim, env: Env, arm: httpx.Client) -> None:
    rg = _rg_id(sim, env)
    clean = f"{rg}/providers/Microsoft.Foo/bars/junk1"
    message = _all_refused(arm, f"{rg}/anything/at/all/providers/Microsoft.Foo/bars/junk1", 404,
                           "InvalidResourceType")
    assert message == (f"The resource type 'anything' could not be found in the namespace 'Microsoft.Resources' "
                       f"for api version '{V}'.")
    sub = f"/subscriptions/{sim.subscription}"
    _all_refused(arm, f"{sub}/anything/providers/Microsoft.Foo/bars/junk1", 404, "InvalidResourceType")
    _all_refused(arm, f"{sub}/resourceGroups/{env.rg}/resources/providers/Microsoft.Foo/bars/junk1", 404,
                 "InvalidResourceType")
    # nothing was stored under the id without the junk
    assert _send(arm, "GET", clean).status_code == 404
    assert clean.lower() not in _listed(arm, rg) and clean.lower() not in _listed(arm, sub)


def test_paths_without_a_subscription_are_refused(arm: httpx.Client) -> None:
    path = "/tenants/anything/providers/Microsoft.Foo/bars/x"
    error = _refused(_send(arm, "PUT", path), 400, "MissingSubscription")
    assert error["message"] == "The request did not have a subscription or a valid tenant level resource provider."
    for m in METHODS[1:]:
        _refused(_send(arm, m, path), 400, "MissingSubscription")


def test_a_namespace_without_a_type_is_refused(sim: Sim, env: Env, arm: httpx.Client) -> None:
    rg = _rg_id(sim, env)
    parent = f"{rg}/providers/Microsoft.Cache/redis/nsonly"
    assert _send(arm, "PUT", parent).status_code == 201
    for path in (f"{rg}/providers/Microsoft.Foo", f"{parent}/providers/Microsoft.Authorization"):
        for m in ("PUT", "GET", "DELETE"):
            _refused(_send(arm, m, path), 404, "InvalidResourceType")
    assert _listed(arm, rg).count(parent.lower()) == 1


def test_a_subscriptions_resource_provider_is_never_written(sim: Sim, arm: httpx.Client) -> None:
    """`/subscriptions/{s}/providers/{ns}` is read, registered and unregistered; a write is refused, never a
    204 that pretends something happened."""
    path = f"/subscriptions/{sim.subscription}/providers/Microsoft.Web"
    for m in ("PUT", "PATCH", "DELETE"):
        _refused(_send(arm, m, path), 405, "MethodNotAllowed")
    assert _send(arm, "GET", path).json()["registrationState"] == "Registered"


@pytest.mark.parametrize("child", ["roleAssignments", "ROLEASSIGNMENTS", "roleDefinitions", "locks",
                                   "diagnosticSettings", "policyAssignments"])
def test_extension_types_without_their_namespace_are_refused(sim: Sim, env: Env, arm: httpx.Client,
                                                             child: str) -> None:
    rg = _rg_id(sim, env)
    parent = f"{rg}/providers/Microsoft.Cache/redis/r-{uuid.uuid4().hex[:8]}"
    assert _send(arm, "PUT", parent).status_code == 201
    path = f"{parent}/{child}/{uuid.uuid4()}"
    message = _all_refused(arm, path, 404, "InvalidResourceType")
    assert message == (f"The resource type 'redis/{child}' could not be found in the namespace 'Microsoft.Cache' "
                       f"for api version '{V}'.")
    r = arm.get(f"{parent}/{child}", params={"api-version": V})
    _refused(r, 404, "InvalidResourceType")
    # as a top-level type of another namespace, too
    _all_refused(arm, f"{rg}/providers/Microsoft.Cache/{child}/x1", 404, "InvalidResourceType")
    assert _send(arm, "GET", parent).status_code == 200
    assert not [x for x in _listed(arm, rg) if f"/{child.lower()}/" in x]


def test_well_formed_extension_resources_keep_working(sim: Sim, env: Env, arm: httpx.Client) -> None:
    rg = _rg_id(sim, env)
    parent = f"{rg}/providers/Microsoft.Cache/redis/ext1"
    assert _send(arm, "PUT", parent).status_code == 201
    lock = f"{parent}/providers/Microsoft.Authorization/locks/keep"
    r = _send(arm, "PUT", lock, {"properties": {"level": "CanNotDelete"}}, "2020-05-01")
    assert r.status_code in (200, 201), r.text
    assert _send(arm, "GET", lock, version="2020-05-01").json()["type"] == "Microsoft.Authorization/locks"
    assert _send(arm, "DELETE", lock, version="2020-05-01").status_code == 200
    ra = f"{parent}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    definition = f"/subscriptions/{sim.subscription}/providers/Microsoft.Authorization/roleDefinitions/{READER}"
    r = _send(arm, "PUT", ra, {"properties": {"roleDefinitionId": definition,
                                              "principalId": claims_of(sim.token())["oid"]}}, "2022-04-01")
    assert r.status_code == 201, r.text
    listed = arm.get(f"{parent}/providers/Microsoft.Authorization/roleAssignments",
                     params={"api-version": "2022-04-01"})
    assert ra.lower() in [x["id"].lower() for x in listed.json()["value"]]
    assert _send(arm, "DELETE", ra, version="2022-04-01").status_code == 200
    # generic children of generic types are still stored as given
    child = f"{parent}/firewallRules/db1"
    assert _send(arm, "PUT", child, {"properties": {}}).status_code == 201
    assert _send(arm, "GET", child).json()["type"] == "Microsoft.Cache/redis/firewallRules"


def test_closed_children_of_modelled_types(sim: Sim, env: Env, arm: httpx.Client) -> None:
    vault = env.vault()
    message = _all_refused(arm, f"{vault.id}/widgets/w1", 404, "InvalidResourceType")
    assert message.startswith("The resource type 'vaults/widgets' could not be found in the namespace "
                              "'Microsoft.KeyVault'")
    # the vault's own children work
    secret = f"{vault.id}/secrets/s1"
    r = _send(arm, "PUT", secret, {"properties": {"value": "v"}}, "2023-07-01")
    assert r.status_code in (200, 201), r.text
    assert _send(arm, "GET", secret, version="2023-07-01").json()["name"] == "s1"
    r = arm.get(f"{vault.id}/secrets", params={"api-version": "2023-07-01"})
    assert r.status_code == 200 and [x["name"] for x in r.json()["value"]] == ["s1"]

    uai = f"{_rg_id(sim, env)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/paths-uai"
    assert _send(arm, "PUT", uai, {"location": "eastus"}, "2023-01-31").status_code == 201
    _all_refused(arm, f"{uai}/widgets/w1", 404, "InvalidResourceType")
    fic = f"{uai}/federatedIdentityCredentials/fic1"
    r = _send(arm, "PUT", fic, {"properties": {"issuer": "https://token.actions.githubusercontent.com",
                                               "subject": "repo:o/r:ref:refs/heads/main",
                                               "audiences": ["api://AzureADTokenExchange"]}}, "2023-01-31")
    assert r.status_code in (200, 201), r.text


def test_provider_level_endpoints_keep_working(sim: Sim, arm: httpx.Client) -> None:
    sub = f"/subscriptions/{sim.subscription}"
    r = arm.post(f"{sub}/providers/Microsoft.KeyVault/checkNameAvailability", params={"api-version": "2023-07-01"},
                 json={"name": f"kv{uuid.uuid4().hex[:10]}", "type": "Microsoft.KeyVault/vaults"})
    assert r.status_code == 200 and r.json()["nameAvailable"] is True, r.text
    r = arm.get(f"{sub}/providers/Microsoft.KeyVault", params={"api-version": "2021-04-01"})
    assert r.status_code == 200 and r.json()["namespace"] == "Microsoft.KeyVault"
    r = arm.get(f"{sub}/providers/Microsoft.Authorization/roleDefinitions", params={"api-version": "2022-04-01"})
    assert r.status_code == 200 and r.json()["value"]


def test_a_template_cannot_create_an_extension_type_as_a_child(sim: Sim, env: Env, arm: httpx.Client) -> None:
    rg = _rg_id(sim, env)
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [
            {"type": "Microsoft.Cache/redis", "apiVersion": V, "name": "tplredis", "location": "eastus",
             "properties": {}},
            {"type": "Microsoft.Cache/redis/roleAssignments", "apiVersion": V,
             "name": f"tplredis/{uuid.uuid4()}", "properties": {},
             "dependsOn": ["[resourceId('Microsoft.Cache/redis', 'tplredis')]"]},
        ],
    }
    dep = f"{rg}/providers/Microsoft.Resources/deployments/paths1"
    r = arm.put(dep, params={"api-version": "2022-09-01"},
                json={"properties": {"mode": "Incremental", "template": template}})
    # ARM's preflight refuses the template before anything is created; a catalogue refusal comes unwrapped
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidResourceType", r.text
    assert not [x for x in _listed(arm, rg) if "tplredis" in x]
