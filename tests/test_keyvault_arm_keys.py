"""`Microsoft.KeyVault/vaults/keys` through ARM (as templates create keys): create-if-not-exist, GET and list read
the data plane's store, the same key through azure-keyvault-keys, and role assignments scoped to a key.

Uses the session simulator (its vault port pool is small): one vault for the whole module.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.core.exceptions import HttpResponseError
from azure.keyvault.keys import KeyClient
from azure.mgmt.keyvault.models import KeyAttributes, KeyCreateParameters, KeyProperties

from tests.simserver import Sim
from tests.test_keyvault_secrets import Env, claims_of

API = "2023-07-01"
CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"


@pytest.fixture(scope="module")
def env(sim: Sim) -> Iterator[Env]:
    e = Env(sim)
    yield e
    e.close()


@pytest.fixture(scope="module")
def vault(env: Env) -> Any:
    oid = claims_of(env.sim.token())["oid"]
    return env.vault([env.policy(oid, ("get", "list"), ("get", "list"))])


def key_url(vault: Any, name: str = "") -> str:
    return f"{vault.id}/keys/{name}" if name else f"{vault.id}/keys"


def test_create_rsa_and_ec_keys(env: Env, vault: Any, arm: httpx.Client) -> None:
    uri = vault.properties.vault_uri
    r = arm.put(key_url(vault, "tpl-rsa"), params={"api-version": API}, json={
        "properties": {"kty": "RSA", "keySize": 3072, "keyOps": ["sign", "verify"],
                       "attributes": {"enabled": True, "exp": 4102444800}}, "tags": {"from": "template"}})
    assert r.status_code == 200, r.text  # Keys_CreateIfNotExist answers 200, created or not
    body = r.json()
    assert (body["id"], body["name"], body["type"]) == (key_url(vault, "tpl-rsa"), "tpl-rsa",
                                                         "Microsoft.KeyVault/vaults/keys")
    assert body["tags"] == {"from": "template"} and body["location"] == "eastus"
    props = body["properties"]
    assert (props["kty"], props["keySize"], props["keyOps"]) == ("RSA", 3072, ["sign", "verify"])
    assert props["keyUri"] == f"{uri}keys/tpl-rsa"
    version = props["keyUriWithVersion"].rsplit("/", 1)[1]
    assert props["keyUriWithVersion"] == f"{uri}keys/tpl-rsa/{version}" and len(version) == 32
    attrs = props["attributes"]
    assert attrs["enabled"] is True and attrs["exp"] == 4102444800 and attrs["created"] == attrs["updated"]
    assert attrs["recoveryLevel"].startswith("Recoverable")

    # the SDK's keys.create_if_not_exist, an EC key
    ec = env.kvm.keys.create_if_not_exist(env.rg, vault.name, "tpl-ec", KeyCreateParameters(
        properties=KeyProperties(kty="EC", curve_name="P-384", attributes=KeyAttributes(enabled=True))))
    assert (ec.properties.kty, ec.properties.curve_name, ec.properties.key_size) == ("EC", "P-384", None)
    assert ec.properties.key_ops == ["sign", "verify"] and ec.properties.key_uri == f"{uri}keys/tpl-ec"

    got = env.kvm.keys.get(env.rg, vault.name, "tpl-rsa")
    assert got.properties.key_uri_with_version == props["keyUriWithVersion"]
    listed = {k.name: k.properties.kty for k in env.kvm.keys.list(env.rg, vault.name)}
    assert {"tpl-rsa": "RSA", "tpl-ec": "EC"}.items() <= listed.items()

    # the same keys through the data plane
    with KeyClient(uri, env.sim.credential(), verify_challenge_resource=False, connection_verify=env.sim.ca) as kc:
        key = kc.get_key("tpl-rsa")
        assert key.id == props["keyUriWithVersion"] and key.key_type == "RSA"
        assert key.properties.tags == {"from": "template"} and key.key_operations == ["sign", "verify"]
        assert len(key.key.n.lstrip(b"\0")) * 8 == 3072
        assert kc.get_key("tpl-ec").key.crv == "P-384"
        assert [p.version for p in kc.list_properties_of_key_versions("tpl-rsa")] == [version]


def test_second_put_returns_the_existing_key(env: Env, vault: Any, arm: httpx.Client) -> None:
    first = env.kvm.keys.create_if_not_exist(env.rg, vault.name, "once", KeyCreateParameters(
        properties=KeyProperties(kty="RSA")))
    r = arm.put(key_url(vault, "once"), params={"api-version": API},
                json={"properties": {"kty": "EC", "curveName": "P-256"}, "tags": {"ignored": "yes"}})
    assert r.status_code == 200, r.text
    props = r.json()["properties"]
    assert props["kty"] == "RSA" and props["keySize"] == 2048 and r.json()["tags"] == {}
    assert props["keyUriWithVersion"] == first.properties.key_uri_with_version
    with KeyClient(vault.properties.vault_uri, env.sim.credential(), verify_challenge_resource=False,
                   connection_verify=env.sim.ca) as kc:
        assert len(list(kc.list_properties_of_key_versions("once"))) == 1


@pytest.mark.parametrize("body", [
    {"properties": {"kty": "oct"}},
    {"properties": {"kty": "RSA", "keySize": 1024}},
    {"properties": {"kty": "EC", "curveName": "P-999"}},
    {"properties": {"kty": "RSA", "keyOps": ["launch"]}},
    {"properties": {}},
    {},
])
def test_bad_requests(vault: Any, arm: httpx.Client, body: dict[str, Any]) -> None:
    r = arm.put(key_url(vault, "bad"), params={"api-version": API}, json=body)
    assert r.status_code == 400, r.text
    assert arm.get(key_url(vault, "bad"), params={"api-version": API}).status_code == 404


def test_sdk_bad_kty_and_missing_key(env: Env, vault: Any) -> None:
    with pytest.raises(HttpResponseError) as e:
        env.kvm.keys.create_if_not_exist(env.rg, vault.name, "bad2", KeyCreateParameters(
            properties=KeyProperties(kty="oct-HSM")))
    assert e.value.status_code == 400
    with pytest.raises(HttpResponseError) as e:
        env.kvm.keys.get(env.rg, vault.name, "never-made")
    assert e.value.status_code == 404 and e.value.error.code == "ResourceNotFound"



def test_role_assignment_scoped_to_a_key(env: Env, vault: Any, arm: httpx.Client) -> None:
    env.kvm.keys.create_if_not_exist(env.rg, vault.name, "scoped", KeyCreateParameters(
        properties=KeyProperties(kty="EC")))
    scope = key_url(vault, "scoped")
    oid = claims_of(env.sim.token())["oid"]
    ra = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    body = {"properties": {"principalId": oid, "principalType": "ServicePrincipal", "roleDefinitionId":
                           f"/subscriptions/{env.sim.subscription}/providers/Microsoft.Authorization/"
                           f"roleDefinitions/{CRYPTO_USER}"}}
    r = arm.put(ra, params={"api-version": "2022-04-01"}, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["properties"]["scope"] == scope
    assert arm.get(ra, params={"api-version": "2022-04-01"}).status_code == 200



def test_arm_cannot_delete_or_patch_a_key(env: Env, vault: Any, arm: httpx.Client) -> None:
    env.kvm.keys.create_if_not_exist(env.rg, vault.name, "kept", KeyCreateParameters(
        properties=KeyProperties(kty="EC")))
    before = arm.get(key_url(vault, "kept"), params={"api-version": API}).json()
    r = arm.delete(key_url(vault, "kept"), params={"api-version": API})
    assert r.status_code == 405, r.text  # ARM has no Keys_Delete: keys are deleted through the data plane
    r = arm.patch(key_url(vault, "kept"), params={"api-version": API}, json={"tags": {"a": "b"}})
    assert (r.status_code, r.json()["error"]["code"]) == (405, "MethodNotAllowed")  # nor a Keys_Update
    assert arm.get(key_url(vault, "kept"), params={"api-version": API}).json() == before
