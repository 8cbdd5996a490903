"""Resource groups and the subscription-level endpoints, through azure-mgmt-resource and raw HTTP."""

from __future__ import annotations

import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.simserver import Sim

API = "api-version=2025-04-01"


def test_resource_group_lifecycle_with_the_sdk(sim: Sim, rg_name: str) -> None:
    rm = sim.resource_client()
    rg = rm.resource_groups.create_or_update(rg_name, {"location": "West Europe", "tags": {"env": "test"}})
    assert rg.id == f"/subscriptions/{sim.subscription}/resourceGroups/{rg_name}"
    assert rg.location == "westeurope" and rg.tags == {"env": "test"}
    assert rg.properties.provisioning_state == "Succeeded"
    assert rm.resource_groups.get(rg_name.upper()).name == rg_name  # case-insensitive, caller's casing kept
    assert rg_name in [g.name for g in rm.resource_groups.list()]
    assert rm.resource_groups.check_existence(rg_name)
    patched = rm.resource_groups.update(rg_name, {"tags": {"owner": "me"}})
    assert patched.tags == {"owner": "me"}
    rm.resource_groups.begin_delete(rg_name).result()
    assert not rm.resource_groups.check_existence(rg_name)
    with pytest.raises(ResourceNotFoundError) as e:
        rm.resource_groups.get(rg_name)
    assert e.value.error.code == "ResourceGroupNotFound"
    assert e.value.error.message == f"Resource group '{rg_name}' could not be found."


def test_delete_is_asynchronous_with_location(sim: Sim, rg_name: str) -> None:
    with sim.http() as c:
        assert c.put(f"/subscriptions/{sim.subscription}/resourcegroups/{rg_name}?{API}",
                     json={"location": "eastus"}).status_code == 201
        r = c.delete(f"/subscriptions/{sim.subscription}/resourcegroups/{rg_name}?{API}")
        assert r.status_code == 202
        assert r.headers["location"].startswith(sim.url) and r.headers["retry-after"] == "1"
        status = c.get(r.headers["azure-asyncoperation"]).json()
        assert status["status"] == "Succeeded" and "startTime" in status
        assert c.get(r.headers["location"]).status_code in (200, 204)
        r = c.delete(f"/subscriptions/{sim.subscription}/resourcegroups/{rg_name}?{API}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "ResourceGroupNotFound"


@pytest.mark.parametrize("name", ["bad name", "ends.with.dot.", "x" * 91, "a/b", "wh@t"])
def test_invalid_resource_group_names(sim: Sim, name: str) -> None:
    with pytest.raises(HttpResponseError) as e:
        sim.resource_client().resource_groups.create_or_update(name, {"location": "eastus"})
    assert e.value.status_code in (400, 404)
    if e.value.status_code == 400:
        assert e.value.error.code == "InvalidResourceGroup"


def test_resource_group_needs_a_known_location(sim: Sim, rg_name: str) -> None:
    with sim.http() as c:
        r = c.put(f"/subscriptions/{sim.subscription}/resourcegroups/{rg_name}?{API}", json={"location": "moon"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "LocationNotAvailableForResourceGroup"
        r = c.put(f"/subscriptions/{sim.subscription}/resourcegroups/{rg_name}?{API}", json={})
        assert r.status_code == 400 and r.json()["error"]["code"] == "LocationRequired"
        assert c.get(f"/subscriptions/{sim.subscription}/resourcegroups/{rg_name}?{API}").status_code == 404


def test_request_hygiene(sim: Sim, rg_name: str) -> None:
    rg = f"/subscriptions/{sim.subscription}/resourcegroups/{rg_name}"
    with sim.http() as c:
        r = c.get(rg)
        assert r.status_code == 400 and r.json()["error"]["code"] == "MissingApiVersionParameter"
        r = c.get(f"{rg}?api-version=banana")
        assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidApiVersionParameter"
        r = c.put(f"{rg}?{API}", content=b'{"location": ', headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidRequestContent"
        r = c.put(f"{rg}?{API}", content=b'"eastus"', headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidRequestContent"
        r = c.put(f"{rg}?{API}", content=b'{"location":"eastus"}', headers={"content-type": "text/plain"})
        assert r.status_code == 415
        assert c.get(f"{rg}?{API}").status_code == 404  # nothing was written by the refused calls
        r = c.get(f"/subscriptions/{sim.subscription}?{API}", headers={"x-ms-correlation-request-id": "corr-1"})
        assert r.headers["x-ms-correlation-request-id"] == "corr-1" and r.headers["x-ms-request-id"]
        assert r.headers["content-type"] == "application/json; charset=utf-8"


def test_subscriptions_tenants_locations_providers(sim: Sim) -> None:
    with sim.http() as c:
        subs = c.get("/subscriptions?api-version=2022-12-01").json()["value"]
        assert [s["subscriptionId"] for s in subs] == [sim.subscription]
        assert subs[0]["tenantId"] == sim.tenant and subs[0]["state"] == "Enabled"
        assert c.get(f"/subscriptions/{sim.subscription.upper()}?{API}").json()["displayName"]
        r = c.get(f"/subscriptions/00000000-0000-0000-0000-000000000000?{API}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "SubscriptionNotFound"
        assert c.get(f"/tenants?{API}").json()["value"][0]["tenantId"] == sim.tenant
        locs = c.get(f"/subscriptions/{sim.subscription}/locations?{API}").json()["value"]
        assert {"eastus", "westeurope"} <= {loc["name"] for loc in locs}
        provs = c.get(f"/subscriptions/{sim.subscription}/providers?{API}").json()["value"]
        assert "Microsoft.Compute" in [p["namespace"] for p in provs]
        p = c.get(f"/subscriptions/{sim.subscription}/providers/microsoft.keyvault?{API}").json()
        assert p["namespace"] == "Microsoft.KeyVault" and p["registrationState"] == "Registered"
        r = c.post(f"/subscriptions/{sim.subscription}/providers/Microsoft.Web/register?{API}")
        assert r.status_code == 200 and r.json()["registrationState"] == "Registered"


def test_cloud_metadata_single_and_list(sim: Sim) -> None:
    one = httpx.get(f"{sim.url}//metadata/endpoints?api-version=2022-09-01", verify=sim.ca).json()
    assert one["resourceManager"] == f"{sim.url}/" and one["authentication"]["loginEndpoint"] == sim.url
    assert one["authentication"]["audiences"][0] == "https://management.core.windows.net/"
    many = httpx.get(f"{sim.url}/metadata/endpoints/list?api-version=2022-09-01", verify=sim.ca).json()
    assert isinstance(many, list) and many[0]["name"] == "ArmSimCloud"
