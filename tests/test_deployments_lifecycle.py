"""DESIGN §3's identity rules through templates: every deployment PUTs every resource through the service (as ARM
does), so the identity reconciler and the hooks run on a redeployment too. A user-assigned identity deleted and
re-created gets a new principal, and a resource that references it shows the new one; a system-assigned identity
removed by a redeployment loses its principal; a resource re-created gets a new one; a plain redeployment keeps
every principal and duplicates nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.simserver import Sim
from tests.test_deployments_api import API, body, deployment_path, etag_of, group, resource, rid

UAI = "Microsoft.ManagedIdentity/userAssignedIdentities"
STORAGE = "Microsoft.Storage/storageAccounts"
UAI_API, STORAGE_API = "2023-01-31", "2023-05-01"
SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"


@pytest.fixture(scope="module")
def rm(sim: Sim) -> Iterator[Any]:
    with sim.resource_client() as client:
        yield client


def _template() -> dict[str, Any]:
    """A user-assigned identity and a storage account whose identity type is a parameter."""
    uai_id = "[resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', parameters('identityName'))]"
    return {
        "$schema": SCHEMA, "contentVersion": "1.0.0.0",
        "parameters": {"identityName": {"type": "string"}, "accountName": {"type": "string"},
                       "identityType": {"type": "string", "defaultValue": "UserAssigned"}},
        "resources": [
            {"type": UAI, "apiVersion": UAI_API, "name": "[parameters('identityName')]", "location": "eastus"},
            {"type": STORAGE, "apiVersion": STORAGE_API, "name": "[parameters('accountName')]", "location": "eastus",
             "sku": {"name": "Standard_LRS"}, "kind": "StorageV2", "dependsOn": [uai_id],
             "identity": {"type": "[parameters('identityType')]", "userAssignedIdentities": (
                 f"[if(contains(parameters('identityType'), 'UserAssigned'), createObject({uai_id[1:-1]}, "
                 "createObject()), null())]")},
             "properties": {}}],
        "outputs": {"principalId": {"type": "string", "value": f"[reference({uai_id[1:-1]}).principalId]"}}}


class Names:
    def __init__(self, sim: Sim, rg: str) -> None:
        tag = uuid.uuid4().hex[:10]
        self.identity, self.account = f"id-{tag}", f"st{tag}"
        self.uai_id, self.account_id = rid(sim, rg, UAI, self.identity), rid(sim, rg, STORAGE, self.account)

    def params(self, identity_type: str = "UserAssigned") -> dict[str, Any]:
        return {"identityName": self.identity, "accountName": self.account, "identityType": identity_type}


def _deploy(rm: Any, rg: str, name: str, n: Names, identity_type: str = "UserAssigned") -> Any:
    result = rm.deployments.begin_create_or_update(rg, name, body(_template(), **n.params(identity_type))).result()
    assert result.properties.provisioning_state == "Succeeded"
    return result


def _principal_exists(graph: httpx.Client, object_id: str) -> bool:
    r = graph.get(f"/v1.0/servicePrincipals/{object_id}")
    assert r.status_code in (200, 404), r.text
    return r.status_code == 200


def _principals_named(graph: httpx.Client, name: str) -> list[str]:
    r = graph.get("/v1.0/servicePrincipals", params={"$filter": f"displayName eq '{name}'"})
    assert r.status_code == 200, r.text
    return [sp["id"] for sp in r.json()["value"]]


def test_user_assigned_identity_deleted_and_recreated_by_a_redeployment(sim: Sim, rm: Any, graph: httpx.Client,
                                                                         rg_name: str) -> None:
    group(sim, rg_name)
    n = Names(sim, rg_name)
    first = _deploy(rm, rg_name, "one", n).properties.outputs["principalId"]["value"]
    account = resource(sim, n.account_id, STORAGE_API)
    assert account is not None and account["identity"]["userAssignedIdentities"][n.uai_id]["principalId"] == first

    with sim.http() as c:
        assert c.delete(n.uai_id, params={"api-version": UAI_API}).status_code == 200
    assert not _principal_exists(graph, first)
    kept = resource(sim, n.account_id, STORAGE_API)  # the reference stays, dangling (DESIGN §3)
    assert kept is not None and kept["identity"]["userAssignedIdentities"][n.uai_id]["principalId"] == first

    second = _deploy(rm, rg_name, "two", n).properties.outputs["principalId"]["value"]
    assert second != first and _principal_exists(graph, second)
    account = resource(sim, n.account_id, STORAGE_API)
    assert account is not None and account["identity"]["userAssignedIdentities"][n.uai_id]["principalId"] == second
    ops = {o.properties.target_resource.resource_name: o.properties for o in rm.deployment_operations.list(
        rg_name, "two")}
    assert (ops[n.identity].status_code, ops[n.account].status_code) == ("Created", "OK")
    assert {o.provisioning_state for o in ops.values()} == {"Succeeded"}


def test_plain_redeployment_puts_every_resource_and_keeps_its_principals(sim: Sim, rm: Any, graph: httpx.Client,
                                                                         rg_name: str) -> None:
    group(sim, rg_name)
    n = Names(sim, rg_name)
    both = "SystemAssigned,UserAssigned"
    principal = _deploy(rm, rg_name, "one", n, both).properties.outputs["principalId"]["value"]
    account = resource(sim, n.account_id, STORAGE_API)
    etag = etag_of(sim, n.account_id, STORAGE_API)
    assert account is not None
    system = account["identity"]["principalId"]
    with sim.http() as c:
        seen = c.get("/_sim/events", params={"kind": "resource.updated", "resource": n.account_id}).json()["value"]

    again = _deploy(rm, rg_name, "two", n, both)
    assert again.properties.outputs["principalId"]["value"] == principal
    after = resource(sim, n.account_id, STORAGE_API)
    assert after is not None and after["identity"] == account["identity"]
    assert after["identity"]["principalId"] == system
    assert _principals_named(graph, n.account) == [system] and _principals_named(graph, n.identity) == [principal]
    # the PUT ran (ARM sends it whatever changed): the write path's event, a new ETag
    with sim.http() as c:
        updated = c.get("/_sim/events", params={"kind": "resource.updated", "resource": n.account_id}).json()["value"]
    assert len(updated) == len(seen) + 1
    assert etag_of(sim, n.account_id, STORAGE_API) != etag
    ops = [o.properties for o in rm.deployment_operations.list(rg_name, "two")]
    assert sorted(o.status_code for o in ops) == ["OK", "OK"]


def test_system_assigned_identity_removed_by_a_redeployment(sim: Sim, rm: Any, graph: httpx.Client,
                                                            rg_name: str) -> None:
    group(sim, rg_name)
    n = Names(sim, rg_name)
    _deploy(rm, rg_name, "one", n, "SystemAssigned")
    account = resource(sim, n.account_id, STORAGE_API)
    assert account is not None
    principal = account["identity"]["principalId"]
    assert _principal_exists(graph, principal)

    _deploy(rm, rg_name, "two", n, "None")
    account = resource(sim, n.account_id, STORAGE_API)
    assert account is not None and (account.get("identity") or {}).get("principalId") is None
    assert not _principal_exists(graph, principal)


def test_resource_recreated_gets_a_new_principal(sim: Sim, rm: Any, graph: httpx.Client, rg_name: str) -> None:
    group(sim, rg_name)
    n = Names(sim, rg_name)
    _deploy(rm, rg_name, "one", n, "SystemAssigned")
    account = resource(sim, n.account_id, STORAGE_API)
    assert account is not None
    old = account["identity"]["principalId"]
    with sim.http() as c:
        assert c.delete(n.account_id, params={"api-version": STORAGE_API}).status_code in (200, 202)
    assert not _principal_exists(graph, old)

    _deploy(rm, rg_name, "two", n, "SystemAssigned")
    account = resource(sim, n.account_id, STORAGE_API)
    assert account is not None
    new = account["identity"]["principalId"]
    assert new != old and _principal_exists(graph, new) and not _principal_exists(graph, old)
    assert _principals_named(graph, n.account) == [new]
    with sim.http() as c:
        status = c.get(deployment_path(sim, rg_name, "two"), params=API).json()["properties"]["provisioningState"]
    assert status == "Succeeded"
