"""ARM's preflight against Azure's own catalogue (providers/provider_data.py): a type its namespace lacks, an
api-version the type does not have, a location the type is not offered in — refused before anything is written,
with ARM's codes; `ARM_SIM_UNKNOWN_TYPES=store` stores unknown types and says so in the answer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.resource.resources.models import GenericResource

from tests.simserver import Sim, fresh_database_url

MSI = "api-version=2023-01-31"


@pytest.fixture(scope="module")
def group(sim: Sim) -> Iterator[str]:
    name = f"pre-{uuid.uuid4().hex[:8]}"
    rg = f"/subscriptions/{sim.subscription}/resourceGroups/{name}"
    with sim.http() as c:
        assert c.put(rg, params={"api-version": "2025-04-01"}, json={"location": "eastus"}).status_code == 201
    yield rg


def _refused(r: httpx.Response, code: str) -> str:
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == code, r.text
    return str(r.json()["error"]["message"])


def test_types_api_versions_and_locations(sim: Sim, group: str) -> None:
    uai = f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
    with sim.http() as c:
        message = _refused(c.put(f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentitys/a?{MSI}",
                                 json={"location": "eastus"}), "InvalidResourceType")
        assert message == ("The resource type 'userAssignedIdentitys' could not be found in the namespace "
                           "'Microsoft.ManagedIdentity' for api version '2023-01-31'.")
        message = _refused(c.put(f"{group}/providers/Microsoft.Nope/things/a?{MSI}", json={"location": "eastus"}),
                           "InvalidResourceNamespace")
        assert message == "The resource namespace 'Microsoft.Nope' is invalid."
        for version in ("1999-01-01", "2099-01-01"):
            message = _refused(c.put(f"{uai}/a", params={"api-version": version}, json={"location": "eastus"}),
                               "NoRegisteredProviderFound")
            assert message.startswith(f"No registered resource provider found for location 'eastus' and API "
                                      f"version '{version}' for type 'userAssignedIdentities'. The supported "
                                      "api-versions are '") and "2023-01-31" in message and "eastus" in message
        message = _refused(c.put(f"{uai}/a?{MSI}", json={"location": "marsnorth"}),
                           "LocationNotAvailableForResourceType")
        assert message.startswith("The provided location 'marsnorth' is not available for resource type "
                                  "'Microsoft.ManagedIdentity/userAssignedIdentities'. List of available regions "
                                  "for the resource type is 'australiacentral,")
        # nothing of it was written
        assert c.get(f"{group}/resources", params={"api-version": "2025-04-01"}).json()["value"] == []
        # a region opened after the catalogue's snapshot is not refused for lack of data
        assert c.put(f"{uai}/spain?{MSI}", json={"location": "Spain Central"}).status_code == 201
        # nor is an api-version released after it (dated after its newest one, and not in the future)
        assert c.put(f"{uai}/newer", params={"api-version": "2026-11-01"}, json={"location": "eastus"}).status_code \
            in (200, 201)
        # reads answer an api-version the type lacks the same way; an unknown type simply has nothing to find
        _refused(c.get(f"{uai}/spain", params={"api-version": "1999-01-01"}), "NoRegisteredProviderFound")
        _refused(c.delete(f"{uai}/spain", params={"api-version": "1999-01-01"}), "NoRegisteredProviderFound")
        assert c.get(f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentitys/a?{MSI}").status_code == 404


def test_the_sdk_sees_the_same_refusals(sim: Sim, group: str) -> None:
    name = group.rsplit("/", 1)[1]
    with sim.credential() as credential, sim.resource_client(credential) as rm, \
            ManagedServiceIdentityClient(credential, sim.subscription, **sim.mgmt_kwargs()) as msi:
        with pytest.raises(HttpResponseError) as e:
            msi.user_assigned_identities.create_or_update(name, "mars", {"location": "marsnorth"})
        assert e.value.status_code == 400 and e.value.error is not None
        assert e.value.error.code == "LocationNotAvailableForResourceType"
        with pytest.raises(HttpResponseError) as e:
            rm.resources.begin_create_or_update(name, "Microsoft.ManagedIdentity", "", "userAssignedIdentities",
                                                "old", "1999-01-01", GenericResource(location="eastus")).result()
        assert e.value.error is not None and e.value.error.code == "NoRegisteredProviderFound"


def test_unknown_types_stored_on_request(tmp_path: Path) -> None:
    server = Sim(home=tmp_path / "sim", database_url=fresh_database_url(),
                 extra_env={"ARM_SIM_UNKNOWN_TYPES": "store"}).start()
    try:
        rg = f"/subscriptions/{server.subscription}/resourceGroups/generic"
        with server.http() as c:
            assert c.put(rg, params={"api-version": "2025-04-01"}, json={"location": "eastus"}).status_code == 201
            r = c.put(f"{rg}/providers/Contoso.Widgets/widgets/w1", params={"api-version": "2024-01-01"},
                      json={"location": "eastus", "properties": {"size": 3}})
            assert r.status_code == 201 and r.json()["properties"]["size"] == 3, r.text
            assert "Contoso.Widgets/widgets" in r.headers["x-ms-arm-sim-warning"]
            assert "ARM_SIM_UNKNOWN_TYPES=store" in r.headers["x-ms-arm-sim-warning"]
            # what Azure's catalogue has is still checked
            _refused(c.put(f"{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u",
                           params={"api-version": "1999-01-01"}, json={"location": "eastus"}),
                     "NoRegisteredProviderFound")
            ok = c.put(f"{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai?{MSI}",
                       json={"location": "eastus"})
            assert ok.status_code == 201 and "x-ms-arm-sim-warning" not in ok.headers, ok.text
    finally:
        server.stop()


def test_locations_are_azures_published_list(sim: Sim) -> None:
    """One list for everything: the subscription's locations, where groups may live, and what preflight checks."""
    sub = f"/subscriptions/{sim.subscription}"
    with sim.http() as c:
        listed = {loc["name"]: loc for loc in c.get(f"{sub}/locations", params={"api-version": "2022-12-01"})
                  .json()["value"]}
        central = listed["australiacentral"]
        assert central["displayName"] == "Australia Central" and central["metadata"]["regionType"] == "Physical"
        assert [p["name"] for p in central["metadata"]["pairedRegion"]] == ["australiacentral2"]
        assert listed["asia"]["metadata"]["regionType"] == "Logical"
        name = f"loc-{uuid.uuid4().hex[:8]}"
        r = c.put(f"{sub}/resourceGroups/{name}", params={"api-version": "2025-04-01"},
                  json={"location": "Australia Central 2"})
        assert r.status_code == 201 and r.json()["location"] == "australiacentral2", r.text
        for nowhere in ("marsnorth", "asia"):  # not a region, and a logical one: no group lives there
            r = c.put(f"{sub}/resourceGroups/{name}-x", params={"api-version": "2025-04-01"},
                      json={"location": nowhere})
            assert r.status_code == 400 and r.json()["error"]["code"] == "LocationNotAvailableForResourceGroup"


def test_the_azure_cli_gets_the_same_refusals(sim: Sim, group: str, tmp_path: Path) -> None:
    from tests.azcli import logged_in, require_az

    az = logged_in(sim, tmp_path / "azcfg", require_az())
    name = group.rsplit("/", 1)[1]
    err = az.fails("identity", "create", "-g", name, "-n", "mars", "-l", "marsnorth")
    assert "LocationNotAvailableForResourceType" in err.stderr, err.stderr
    err = az.fails("resource", "create", "-g", name, "-n", "typo", "--resource-type",
                   "Microsoft.ManagedIdentity/userAssignedIdentitys", "--api-version", "2023-01-31", "-l", "eastus",
                   "-p", "{}")
    assert "InvalidResourceType" in err.stderr, err.stderr
    err = az.fails("resource", "create", "-g", name, "-n", "old", "--resource-type",
                   "Microsoft.ManagedIdentity/userAssignedIdentities", "--api-version", "1999-01-01", "-l", "eastus",
                   "-p", "{}")
    assert "NoRegisteredProviderFound" in err.stderr, err.stderr
