"""One write path, with no exceptions: a vault's access-policy operations and a resource's actions change it
through ResourceService (a new ETag, `resource.updated`), and HEAD answers as GET does on ARM (virtual resources
included) and on the Key Vault data plane."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.mgmt.keyvault.models import VaultAccessPolicyParameters, VaultAccessPolicyProperties

from tests import test_keyvault_secrets as secrets_module
from tests.test_keyvault_secrets import KV_SCOPE, Env, unique
from tests.vmspec import nic, properties

KV_API = {"api-version": "2023-07-01"}
VM_API = {"api-version": "2024-07-01"}
OBJECT = "3f8e6a55-2b8f-4a51-9d0e-0f6f8c1a2b3c"


env = secrets_module.env  # a simulator with a Key Vault set-up of this module's own (module scope)


@pytest.fixture(scope="module")
def arm(env: Env) -> Iterator[httpx.Client]:
    with env.sim.http() as client:
        yield client


def _id(env: Env, rtype: str, name: str) -> str:
    return f"/subscriptions/{env.sim.subscription}/resourceGroups/{env.rg}/providers/{rtype}/{name}"


def _entry(env: Env, object_id: str, **permissions: list[str]) -> dict[str, Any]:
    return {"tenantId": env.sim.tenant, "objectId": object_id, "permissions": permissions}


def _etag(arm: httpx.Client, resource_id: str, params: dict[str, str]) -> str:
    r = arm.get(resource_id, params=params)
    assert r.status_code == 200, r.text
    assert r.json().get("etag", r.headers["etag"]) == r.headers["etag"]  # (a vault's body has none, as in Azure)
    return str(r.headers["etag"])


def _updates(env: Env, resource_id: str) -> list[dict[str, Any]]:
    return env.events(kind="resource.updated", resource=resource_id)


def test_access_policy_operations_write_the_vault_through_the_service(env: Env, arm: httpx.Client) -> None:
    vault = env.vault()
    etag = _etag(arm, vault.id, KV_API)
    assert _updates(env, vault.id) == []
    steps = [("add", [_entry(env, OBJECT, secrets=["get"])]),
             ("add", [_entry(env, OBJECT, secrets=["list"], keys=["Get"])]),
             ("remove", [_entry(env, OBJECT, secrets=["get"])]),
             ("replace", [_entry(env, OBJECT, certificates=["all"])])]
    for i, (operation, entries) in enumerate(steps, 1):
        r = arm.put(f"{vault.id}/accessPolicies/{operation}", params=KV_API,
                    json={"properties": {"accessPolicies": entries}})
        assert r.status_code == 200, r.text
        assert r.json()["id"] == f"{vault.id}/accessPolicies/{operation}"
        new = _etag(arm, vault.id, KV_API)
        assert new != etag  # a new ETag, as every write gives
        etag = new
        updated = _updates(env, vault.id)
        assert len(updated) == i and updated[-1]["details"]["type"] == "Microsoft.KeyVault/vaults"
    shown = arm.get(vault.id, params=KV_API).json()["properties"]["accessPolicies"]
    assert [e["permissions"] for e in shown if e["objectId"] == OBJECT] == [{"certificates": ["all"]}]

    # bad input gets Key Vault's 400s, and writes nothing
    refused = [("merge", {"properties": {"accessPolicies": []}}),
               ("add", {"properties": {}}),
               ("add", {"properties": {"accessPolicies": [_entry(env, "not-a-guid", secrets=["get"])]}}),
               ("add", {"properties": {"accessPolicies": [_entry(env, OBJECT, secrets=["fly"])]}}),
               ("add", {"properties": {"accessPolicies": "all"}}),
               ("add", {"properties": {"accessPolicies": [dict(_entry(env, OBJECT, secrets=["get"]),
                                                                tenantId="00000000-0000-0000-0000-000000000001")]}})]
    for operation, body in refused:
        r = arm.put(f"{vault.id}/accessPolicies/{operation}", params=KV_API, json=body)
        assert r.status_code == 400 and r.json()["error"]["code"] == "BadRequest", r.text
    r = arm.put(f"{vault.id}/accessPolicies/add", params=KV_API, content=b"[1]",
                headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidRequestContent"
    missing = arm.put(f"{_id(env, 'Microsoft.KeyVault/vaults', unique('kv'))}/accessPolicies/add", params=KV_API,
                      json={"properties": {"accessPolicies": []}})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ParentResourceNotFound"
    assert _etag(arm, vault.id, KV_API) == etag and len(_updates(env, vault.id)) == len(steps)


def test_update_access_policy_with_the_sdk(env: Env, arm: httpx.Client) -> None:
    vault = env.vault()
    etag = _etag(arm, vault.id, KV_API)
    policy = env.policy(OBJECT, ("get", "list"))
    answer = env.kvm.vaults.update_access_policy(env.rg, vault.name, "add", VaultAccessPolicyParameters(
        properties=VaultAccessPolicyProperties(access_policies=[policy])))
    assert OBJECT in [e.object_id for e in answer.properties.access_policies]
    assert _etag(arm, vault.id, KV_API) != etag and len(_updates(env, vault.id)) == 1
    got = env.kvm.vaults.get(env.rg, vault.name)
    assert got.properties.access_policies[-1].permissions.secrets == ["get", "list"]


def test_actions_write_through_the_service(env: Env, arm: httpx.Client) -> None:
    vm = _id(env, "Microsoft.Compute/virtualMachines", unique("vm"))
    r = arm.put(vm, params=VM_API, json={"location": "eastus", "properties": properties(
        nic(arm, f"/subscriptions/{env.sim.subscription}/resourceGroups/{env.rg}"), "vm")})
    assert r.status_code == 201, r.text
    etag = _etag(arm, vm, VM_API)
    assert arm.post(f"{vm}/powerOff", params=VM_API).status_code == 200
    assert _etag(arm, vm, VM_API) != etag
    updated = _updates(env, vm)
    assert [u["details"].get("action") for u in updated] == ["powerOff"]
    view = arm.get(f"{vm}/instanceView", params=VM_API).json()
    assert "PowerState/stopped" in [s["code"] for s in view["statuses"]]
    # an action that changes nothing writes nothing
    account = _id(env, "Microsoft.Storage/storageAccounts", unique("st"))
    r = arm.put(account, params={"api-version": "2023-05-01"}, json={
        "location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"})
    assert r.status_code in (200, 201, 202), r.text
    etag = _etag(arm, account, {"api-version": "2023-05-01"})
    keys = arm.post(f"{account}/listKeys", params={"api-version": "2023-05-01"})
    assert keys.status_code == 200 and _etag(arm, account, {"api-version": "2023-05-01"}) == etag
    regenerated = arm.post(f"{account}/regenerateKey", params={"api-version": "2023-05-01"}, json={"keyName": "key1"})
    assert regenerated.status_code == 200 and _etag(arm, account, {"api-version": "2023-05-01"}) != etag
    assert [u["details"].get("action") for u in _updates(env, account)] == ["regenerateKey"]


def test_head_answers_as_get_on_arm(env: Env, arm: httpx.Client) -> None:
    vault = env.vault()
    secret = f"{vault.id}/secrets/db-password"
    r = arm.put(secret, params=KV_API, json={"properties": {"value": "hunter2"}})
    assert r.status_code in (200, 201), r.text
    # stored and virtual resources alike (a vault's secret is answered by its provider, not a row)
    for found in (vault.id, secret):
        assert arm.get(found, params=KV_API).status_code == 200
        head = arm.head(found, params=KV_API)
        assert head.status_code == 204 and head.content == b""
    for missing in (f"{vault.id}/secrets/nothing", _id(env, "Microsoft.KeyVault/vaults", unique("kv")),
                    f"/subscriptions/{env.sim.subscription}/resourceGroups/{unique('rg')}/providers/"
                    "Microsoft.KeyVault/vaults/x"):
        assert arm.get(missing, params=KV_API).status_code == 404
        head = arm.head(missing, params=KV_API)
        assert head.status_code == 404 and head.content == b""
    assert arm.head(vault.id).status_code == arm.get(vault.id).status_code == 400  # no api-version


def test_head_answers_as_get_on_the_data_plane(env: Env, arm: httpx.Client) -> None:
    vault = env.vault()
    uri = vault.properties.vault_uri
    with env.secrets(uri) as sc:
        version = sc.set_secret("app-password", "v1").properties.version
    with env.sim.http(env.sim.token(KV_SCOPE)) as kv, httpx.Client(verify=env.sim.ca) as anonymous:
        for path, status in (("secrets/app-password", 200), (f"secrets/app-password/{version}", 200),
                             ("secrets", 200), ("secrets/nothing", 404), ("deletedsecrets/app-password", 404),
                             ("keys/nothing", 404)):
            get = kv.get(f"{uri}{path}", params={"api-version": "7.4"})
            head = kv.head(f"{uri}{path}", params={"api-version": "7.4"})
            assert (get.status_code, head.status_code) == (status, status), (path, head.status_code)
            assert head.content == b""
            assert head.headers["content-length"] == get.headers["content-length"]
            assert head.headers["content-type"] == get.headers["content-type"]
        challenge = anonymous.head(f"{uri}secrets/app-password", params={"api-version": "7.4"})
        assert challenge.status_code == 401 and "www-authenticate" in challenge.headers
