"""Generic ARM resources: any provider type is stored, returned, patched, listed and deleted like ARM does."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.simserver import Sim

V = "2024-03-01"


def _rg(sim: Sim, name: str) -> str:
    sim.resource_client().resource_groups.create_or_update(name, {"location": "eastus"})
    return f"/subscriptions/{sim.subscription}/resourceGroups/{name}"


def test_generic_resource_crud_with_the_sdk(sim: Sim, rg_name: str) -> None:
    rm = sim.resource_client()
    rid = f"{_rg(sim, rg_name)}/providers/Microsoft.Cache/redis/st1"
    created = rm.resources.begin_create_or_update_by_id(rid, V, {
        "location": "eastus", "tags": {"a": "1"}, "sku": {"name": "Standard_LRS"}, "kind": "StorageV2",
        "properties": {"minimumTlsVersion": "TLS1_2", "nested": {"x": 1, "y": 2}}}).result()
    assert created.id == rid and created.type == "Microsoft.Cache/redis" and created.name == "st1"
    assert created.properties["provisioningState"] == "Succeeded" and created.sku.name == "Standard_LRS"
    got = rm.resources.get_by_id(rid.replace("redis", "REDIS"), V)
    assert got.id == rid and got.kind == "StorageV2" and got.tags == {"a": "1"}
    patched = rm.resources.begin_update_by_id(rid, V, {"tags": {"b": "2"},
                                                       "properties": {"nested": {"x": None, "z": 3}}}).result()
    assert patched.tags == {"b": "2"}  # tags replace
    assert patched.properties["nested"] == {"y": 2, "z": 3}  # properties merge (RFC 7396)
    assert patched.properties["minimumTlsVersion"] == "TLS1_2"
    assert rm.resources.check_existence_by_id(rid, V)
    rm.resources.begin_delete_by_id(rid, V).result()
    assert not rm.resources.check_existence_by_id(rid, V)
    with pytest.raises(ResourceNotFoundError) as e:
        rm.resources.get_by_id(rid, V)
    assert e.value.error.code == "ResourceNotFound"
    assert e.value.error.message.startswith(
        f"The Resource 'Microsoft.Cache/redis/st1' under resource group '{rg_name}' was not found.")


def test_children_and_extension_resources(sim: Sim, rg_name: str) -> None:
    rm = sim.resource_client()
    vnet = f"{_rg(sim, rg_name)}/providers/Microsoft.Network/virtualNetworks/vnet1"
    subnet = f"{vnet}/subnets/default"
    lock = f"{vnet}/providers/Microsoft.Authorization/locks/nodelete"
    with pytest.raises(HttpResponseError) as e:
        rm.resources.begin_create_or_update_by_id(subnet, V, {"properties": {}}).result()
    assert e.value.status_code == 404 and e.value.error.code == "ParentResourceNotFound"
    rm.resources.begin_create_or_update_by_id(vnet, V, {"location": "eastus", "properties": {}}).result()
    assert rm.resources.begin_create_or_update_by_id(subnet, V, {"properties": {
        "addressPrefix": "10.0.0.0/24"}}).result().id == subnet
    assert rm.resources.begin_create_or_update_by_id(lock, "2020-05-01", {
        "properties": {"level": "CanNotDelete"}}).result().type == "Microsoft.Authorization/locks"
    with sim.http() as c:
        children = c.get(f"{vnet}/subnets?api-version={V}").json()["value"]
        assert [x["id"] for x in children] == [subnet]
        top = c.get(f"{_rg(sim, rg_name)}/resources?api-version={V}").json()["value"]
        assert [x["id"] for x in top] == [vnet]  # only top-level resources are listed
    with pytest.raises(HttpResponseError) as e:  # the lock holds (tests/test_locks.py)
        rm.resources.begin_delete_by_id(vnet, V).result()
    assert e.value.status_code == 409 and e.value.error is not None and e.value.error.code == "ScopeLocked"
    rm.resources.begin_delete_by_id(lock, "2020-05-01").result()
    rm.resources.begin_delete_by_id(vnet, V).result()
    assert not rm.resources.check_existence_by_id(subnet, V)


def test_listing_filters_and_paging(sim: Sim, rg_name: str) -> None:
    rm = sim.resource_client()
    rg = _rg(sim, rg_name)
    for i in range(5):
        rm.resources.begin_create_or_update_by_id(
            f"{rg}/providers/Microsoft.Web/serverfarms/plan{i}", "2024-04-01",
            {"location": "eastus", "tags": {"tier": "gold" if i % 2 else "silver"}, "sku": {"name": "B1"},
             "properties": {}}).result()
    rm.resources.begin_create_or_update_by_id(f"{rg}/providers/Microsoft.Cache/redis/other", V,
                                              {"location": "eastus", "properties": {}}).result()
    plans = [r.name for r in rm.resources.list_by_resource_group(
        rg_name, filter="resourceType eq 'microsoft.web/serverfarms'")]
    assert sorted(plans) == [f"plan{i}" for i in range(5)]
    gold = [r.name for r in rm.resources.list_by_resource_group(
        rg_name, filter="tagName eq 'tier' and tagValue eq 'gold'")]
    assert sorted(gold) == ["plan1", "plan3"]
    named = list(rm.resources.list(filter="name eq 'plan2' and resourceType eq 'Microsoft.Web/serverfarms'"))
    assert [r.id for r in named] == [f"{rg}/providers/Microsoft.Web/serverfarms/plan2"]
    with sim.http() as c:
        page = c.get(f"{rg}/resources?api-version={V}&$top=2").json()
        assert len(page["value"]) == 2 and page["nextLink"].startswith(sim.url)
        seen = [r["name"] for r in page["value"]]
        while "nextLink" in page:
            page = c.get(page["nextLink"]).json()
            seen += [r["name"] for r in page["value"]]
        assert sorted(seen) == sorted([f"plan{i}" for i in range(5)] + ["other"])
        r = c.get(f"{rg}/resources?api-version={V}&$filter=bogus eq 'x'")
        assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidFilterInQueryString"
    by_sdk = [r.name for r in rm.resources.list_by_resource_group(rg_name, top=2)]
    assert len(by_sdk) == 6  # the SDK follows nextLink


def test_etags_and_conditional_requests(sim: Sim, rg_name: str) -> None:
    rid = f"{_rg(sim, rg_name)}/providers/Microsoft.Cache/redis/etagged"
    url = f"{rid}?api-version={V}"
    with sim.http() as c:
        r = c.put(url, json={"location": "eastus", "properties": {}}, headers={"If-Match": "*"})
        assert r.status_code == 412 and r.json()["error"]["code"] == "PreconditionFailed"
        r = c.put(url, json={"location": "eastus", "properties": {"v": 1}}, headers={"If-None-Match": "*"})
        assert r.status_code == 201
        etag = r.headers["etag"]
        assert r.json()["etag"] == etag
        r = c.put(url, json={"location": "eastus", "properties": {}}, headers={"If-None-Match": "*"})
        assert r.status_code == 412
        r = c.put(url, json={"location": "eastus", "properties": {"v": 2}}, headers={"If-Match": '"stale"'})
        assert r.status_code == 412
        r = c.put(url, json={"location": "eastus", "properties": {"v": 3}}, headers={"If-Match": etag})
        assert r.status_code == 200 and r.json()["properties"]["v"] == 3 and r.headers["etag"] != etag
        r = c.patch(url, json={"tags": {"x": "y"}}, headers={"If-Match": etag})
        assert r.status_code == 412
        assert c.get(url).json()["tags"] == {}


def test_bad_resource_input(sim: Sim, rg_name: str) -> None:
    rg = _rg(sim, rg_name)
    with sim.http() as c:
        r = c.put(f"{rg}/providers/Microsoft.Cache/redis/noloc?api-version={V}", json={"properties": {}})
        assert r.status_code == 400 and r.json()["error"]["code"] == "LocationRequired"
        r = c.put(f"{rg}/providers/Microsoft.Cache/redis/bad%2A?api-version={V}",
                  json={"location": "eastus"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidResourceName"
        r = c.put(f"{rg}/providers/Microsoft.Cache/redis/s1?api-version={V}",
                  json={"location": "eastus", "tags": {"a": 1}})
        assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidTag"
        r = c.patch(f"{rg}/providers/Microsoft.Cache/redis/missing?api-version={V}", json={"tags": {}})
        assert r.status_code == 404 and r.json()["error"]["code"] == "ResourceNotFound"
        r = c.delete(f"{rg}/providers/Microsoft.Cache/redis/missing?api-version={V}")
        assert r.status_code == 204
        r = c.put(f"/subscriptions/{sim.subscription}/resourceGroups/nope-{rg_name}/providers/Microsoft.Storage/"
                  "storageAccounts/s1?api-version=2023-01-01", json={"location": "eastus"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "ResourceGroupNotFound"
        assert c.get(f"{rg}/resources?api-version={V}").json()["value"] == []


def test_deleting_a_group_deletes_its_resources_through_the_service(sim: Sim, rg_name: str) -> None:
    rm = sim.resource_client()
    rg = _rg(sim, rg_name)
    parent = f"{rg}/providers/Microsoft.Network/virtualNetworks/v"
    rm.resources.begin_create_or_update_by_id(parent, V, {"location": "eastus", "properties": {}}).result()
    rm.resources.begin_create_or_update_by_id(f"{parent}/subnets/s", V,
                                              {"properties": {"addressPrefix": "10.0.0.0/24"}}).result()
    rm.resource_groups.begin_delete(rg_name).result()
    with sim.http() as c:
        deleted = c.get("/_sim/events", params={"kind": "resource.deleted", "resource": f"{rg}/*"}).json()["value"]
    assert {e["subject"] for e in deleted} == {parent, f"{parent}/subnets/s"}
    rm.resource_groups.create_or_update(rg_name, {"location": "eastus"})
    assert not rm.resources.check_existence_by_id(parent, V)
