"""Issue 18: the rules hold on every fast path.

- IMDS token requests are answered below FastAPI (hosts/imds/lane.py) and the revocation mark is a prebuilt
  single-row read (domain/tokens/revocation.py): with two server processes on one database, a revocation made
  through one is refused at once by the other, and the other's cached IMDS token for the identity is not handed
  out again; the lane keeps IMDS's checks (Metadata header, method, unknown key) and the request ids.
- Deployments commit their resources in batches (deployments/execute.py): a failed resource in a batch fails the
  deployment as before while the other resources of its batch stand, each written through the service with its
  event.
- The role definitions list filters before it builds documents (providers/role_definitions.py).
- The vault data plane (a Lane already) caches nothing between requests: an access policy removed is refused on the
  next secret GET, a deleted secret is not found.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import vmspec
from tests.concurrency_load import client, group, start_servers, stop_servers
from tests.simserver import Sim, fresh_database_url

UAI_API = "2023-01-31"
REVOKE_API = "2023-07-31-preview"
VM_API = "2024-07-01"
ARM_RESOURCE = "https://management.azure.com/"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Sim]]:
    servers = start_servers(tmp_path_factory.mktemp("fast"), 2, fresh_database_url(), ARM_SIM_LRO="sync")
    try:
        yield servers
    finally:
        stop_servers(servers)


def _imds(base: str, headers: dict[str, str] | None = None, method: str = "GET", **params: str) -> httpx.Response:
    return httpx.request(method, f"{base}/metadata/identity/oauth2/token",
                         headers={"Metadata": "true"} if headers is None else headers,
                         params={"api-version": "2018-02-01", "resource": ARM_RESOURCE, **params})


def _arm_status(sim: Sim, token: str) -> int:
    with client(sim, token) as c:
        return c.get("/subscriptions", params={"api-version": "2022-12-01"}).status_code


def test_a_revocation_by_another_process_is_seen_at_once(pair: list[Sim]) -> None:
    a, b = pair
    token = a.token()
    with client(a, token) as ca, client(b, token) as cb:
        rg = group(ca, a, f"fast-{uuid.uuid4().hex[:8]}")
        uai = ca.put(f"{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/fast-uai",
                     params={"api-version": UAI_API}, json={"location": "eastus"})
        assert uai.status_code in (200, 201), uai.text
        uai_id = uai.json()["id"]
        body: dict[str, Any] = {"location": "eastus", "identity": {"type": "UserAssigned",
                                                                    "userAssignedIdentities": {uai_id: {}}},
                                "properties": vmspec.properties(vmspec.nic(ca, rg), "fast-vm")}
        vm = ca.put(f"{rg}/providers/Microsoft.Compute/virtualMachines/fast-vm", params={"api-version": VM_API},
                    json=body)
        assert vm.status_code in (200, 201), vm.text
        base_a = ca.get("/_sim/imds-endpoint", params={"resourceId": vm.json()["id"]}).json()["endpoint"]

        first = _imds(base_a)
        assert first.status_code == 200, first.text
        assert first.headers.get("x-ms-request-id")  # the lane gives its answers the request ids
        before = first.json()["access_token"]
        assert _imds(base_a).json()["access_token"] == before  # served from A's cache
        assert _arm_status(a, before) == 200 and _arm_status(b, before) == 200

        assert cb.post(f"{uai_id}/revokeTokens", params={"api-version": REVOKE_API}).status_code == 200
        # A never saw the write: it reads the mark B wrote, on the next request
        assert _arm_status(a, before) == 401
        after = _imds(base_a)  # the cached token predates the revocation: not handed out again
        assert after.status_code == 200, after.text
        assert after.json()["access_token"] != before
        assert _arm_status(a, after.json()["access_token"]) == 200

        # the lane keeps IMDS's own checks
        missing = _imds(base_a, headers={})
        assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
        posted = _imds(base_a, method="POST")
        assert posted.status_code == 405 and posted.json()["error"] == "method_not_allowed"
        unknown = _imds(base_a.rsplit("/", 1)[0] + "/not-a-key")
        assert unknown.status_code == 400 and unknown.json()["error_description"] == "Identity not found"
        no_resource = httpx.get(f"{base_a}/metadata/identity/oauth2/token/", headers={"Metadata": "true"},
                                params={"api-version": "2018-02-01"})
        assert no_resource.status_code == 400


GENERIC = "Microsoft.Relay/namespaces"


def test_a_failure_inside_a_batch_fails_the_deployment_and_keeps_the_rest(sim: Sim) -> None:
    """More resources than one batch (execute.BATCH_RESOURCES), a role assignment naming nobody among them."""
    count = 120
    reader = "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', " \
             "'acdd72a7-3385-48ef-bd42-f606fba81ae7')]"
    resources: list[dict[str, Any]] = [
        {"type": GENERIC, "apiVersion": "2021-11-01", "name": f"batch{i}", "location": "eastus",
         "properties": {"n": i}} for i in range(count)]
    resources.insert(60, {"type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01",
                          "name": "[guid(resourceGroup().id, 'nobody-batch')]",
                          "properties": {"roleDefinitionId": reader,
                                         "principalId": "00000000-0000-0000-0000-00000000dead"}})
    template = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                "contentVersion": "1.0.0.0", "resources": resources}
    with sim.http() as c:
        rg = group(c, sim, f"batch-{uuid.uuid4().hex[:8]}")
        after = c.get("/_sim/events", params={"top": 5000}).json()["value"]
        seq = after[-1]["seq"] if after else 0
        r = c.put(f"{rg}/providers/Microsoft.Resources/deployments/batched", params={"api-version": "2024-03-01"},
                  json={"properties": {"mode": "Incremental", "template": template}})
        assert r.status_code in (200, 201), r.text
        dep = r.json()
        for _ in range(600):
            if dep["properties"]["provisioningState"] not in ("Accepted", "Running"):
                break
            dep = c.get(f"{rg}/providers/Microsoft.Resources/deployments/batched",
                        params={"api-version": "2024-03-01"}).json()
        assert dep["properties"]["provisioningState"] == "Failed"
        assert [d["code"] for d in dep["properties"]["error"]["details"]] == ["PrincipalNotFound"]
        listed = c.get(f"{rg}/resources", params={"api-version": "2021-04-01"}).json()["value"]
        assert sorted(x["name"] for x in listed if x["type"] == GENERIC) == sorted(f"batch{i}" for i in range(count))
        created = c.get("/_sim/events", params={"kind": "resource.created", "after": seq, "top": 5000}).json()["value"]
        assert len([e for e in created if f"/{GENERIC}/batch".lower() in e["subject"].lower()]) == count
        ops = c.get(f"{rg}/providers/Microsoft.Resources/deployments/batched/operations",
                    params={"api-version": "2024-03-01"}).json()["value"]
        states = [o["properties"]["provisioningState"] for o in ops]
        assert states.count("Succeeded") == count and states.count("Failed") == 1


def test_role_definition_filters(sim: Sim) -> None:
    url = f"/subscriptions/{sim.subscription}/providers/Microsoft.Authorization/roleDefinitions"
    with sim.http() as c:
        reader = c.get(url, params={"api-version": "2022-04-01", "$filter": "roleName eq 'Reader'"}).json()["value"]
        assert [d["properties"]["roleName"] for d in reader] == ["Reader"]
        assert reader[0]["name"] == "acdd72a7-3385-48ef-bd42-f606fba81ae7"
        custom = c.get(url, params={"api-version": "2022-04-01", "$filter": "type eq 'CustomRole'"}).json()["value"]
        assert all(d["properties"]["type"] == "CustomRole" for d in custom)
        every = c.get(url, params={"api-version": "2022-04-01"}).json()["value"]
        built_in = c.get(url, params={"api-version": "2022-04-01", "$filter": "type eq 'BuiltInRole'"}).json()["value"]
        assert len(every) == len(built_in) + len(custom) and len(built_in) > 500


KV_MGMT_API = "2023-07-01"
VAULT_SCOPE = "https://vault.azure.net/.default"


def test_the_vault_data_plane_sees_every_write_at_once(sim: Sim) -> None:
    """Nothing on the secret GET's path is cached between requests: an access policy removed is refused on the very
    next GET, and a deleted secret is not found."""
    import jwt

    token = sim.token()
    oid = jwt.decode(token, options={"verify_signature": False})["oid"]
    with sim.http(token) as c:
        rg = group(c, sim, f"kvfast-{uuid.uuid4().hex[:8]}")
        vault = f"{rg}/providers/Microsoft.KeyVault/vaults/kvf{uuid.uuid4().hex[:12]}"
        policy = {"tenantId": sim.tenant, "objectId": oid, "permissions": {"secrets": ["get", "set", "delete"]}}
        r = c.put(vault, params={"api-version": KV_MGMT_API}, json={"location": "eastus", "properties": {
            "tenantId": sim.tenant, "sku": {"family": "A", "name": "standard"}, "accessPolicies": [policy]}})
        assert r.status_code in (200, 201), r.text
        uri = c.get(vault, params={"api-version": KV_MGMT_API}).json()["properties"]["vaultUri"]
        secret = f"{uri.replace('//localhost:', '//127.0.0.1:')}secrets/s1?api-version=7.4"
        with httpx.Client(verify=sim.ca, timeout=60, headers={"Authorization": f"Bearer {sim.token(VAULT_SCOPE)}"}) \
                as kv:
            assert kv.put(secret, json={"value": "v1"}).status_code == 200
            for _ in range(3):
                assert kv.get(secret).json()["value"] == "v1"
            removed = {"properties": {"accessPolicies": [
                {"tenantId": sim.tenant, "objectId": oid, "permissions": {"secrets": ["get"]}}]}}
            r = c.put(f"{vault}/accessPolicies/remove", params={"api-version": KV_MGMT_API}, json=removed)
            assert r.status_code in (200, 201), r.text
            refused = kv.get(secret)
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "Forbidden"
            r = c.put(f"{vault}/accessPolicies/add", params={"api-version": KV_MGMT_API}, json=removed)
            assert r.status_code in (200, 201), r.text
            assert kv.get(secret).json()["value"] == "v1"
            assert kv.delete(secret).status_code == 200
            gone = kv.get(secret)
            assert gone.status_code == 404 and gone.json()["error"]["code"] == "SecretNotFound"
