"""Role assignments name principals of the subscription's own directory: ARM looks a principal up there (after
the replication delay), never in another tenant. With principalType given ARM does not consult the directory,
so another tenant's principal is stored like any id it cannot see, and binds no one: that principal can get no
token that this subscription accepts."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient

from tests.simserver import Sim, fresh_database_url

API = {"api-version": "2022-04-01"}
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def _foreign_app(sim: Sim) -> tuple[str, dict[str, Any]]:
    """Another tenant, and an application + service principal registered in it."""
    with sim.http() as c:
        r = c.post("/_sim/tenants", json={"displayName": "elsewhere"})
        assert r.status_code == 200, r.text
        tenant = r.json()["tenantId"]
        r = c.post("/_sim/applications", json={"displayName": "foreign", "tenantId": tenant})
        assert r.status_code == 200, r.text
    app = r.json()
    assert app["tenantId"] == tenant != sim.tenant
    return tenant, app


def _home_app(sim: Sim) -> dict[str, Any]:
    with sim.http() as c:
        return dict(c.post("/_sim/applications", json={"displayName": "home"}).json())


def _assign(sim: Sim, principal: str, principal_type: str | None) -> httpx.Response:
    props = {"roleDefinitionId": f"/subscriptions/{sim.subscription}/providers/Microsoft.Authorization/"
                                 f"roleDefinitions/{READER}", "principalId": principal}
    if principal_type:
        props["principalType"] = principal_type
    with sim.http() as c:
        return c.put(f"/subscriptions/{sim.subscription}/providers/Microsoft.Authorization/roleAssignments/"
                     f"{uuid.uuid4()}", params=API, json={"properties": props})


def _principal_not_found(r: httpx.Response, principal: str, directory: str) -> None:
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "PrincipalNotFound"
    assert f"Principal {principal.replace('-', '')} does not exist in the directory {directory}." in err["message"]


def test_another_tenants_principal_is_not_found(sim: Sim) -> None:
    tenant, foreign = _foreign_app(sim)
    oid = foreign["servicePrincipalObjectId"]
    _principal_not_found(_assign(sim, oid, None), oid, sim.tenant)
    assert _assign(sim, _home_app(sim)["servicePrincipalObjectId"], None).status_code == 201
    with sim.http() as c:
        listed = c.get(f"/subscriptions/{sim.subscription}/providers/Microsoft.Authorization/roleAssignments",
                       params={**API, "$filter": f"principalId eq '{oid}'"}).json()["value"]
    assert listed == []


def test_another_tenants_principal_through_the_sdk(sim: Sim) -> None:
    _, foreign = _foreign_app(sim)
    oid = foreign["servicePrincipalObjectId"]
    with AuthorizationManagementClient(sim.credential(), sim.subscription, **sim.mgmt_kwargs()) as az, \
            pytest.raises(HttpResponseError) as e:
        az.role_assignments.create(f"/subscriptions/{sim.subscription}", str(uuid.uuid4()), {
            "role_definition_id": f"/subscriptions/{sim.subscription}/providers/Microsoft.Authorization/"
                                  f"roleDefinitions/{READER}", "principal_id": oid})
    assert e.value.status_code == 400 and e.value.error.code == "PrincipalNotFound"
    assert sim.tenant in e.value.error.message


def test_with_principal_type_the_id_is_stored_but_binds_no_one(sim: Sim) -> None:
    tenant, foreign = _foreign_app(sim)
    oid = foreign["servicePrincipalObjectId"]
    r = _assign(sim, oid, "ServicePrincipal")
    assert r.status_code == 201, r.text  # ARM skips the directory lookup, as for any id it cannot see yet
    # the principal's own tenant's token is refused by the subscription…
    own = httpx.post(f"{sim.url}/{tenant}/oauth2/v2.0/token", verify=sim.ca, data={
        "grant_type": "client_credentials", "client_id": foreign["appId"], "client_secret": foreign["clientSecret"],
        "scope": "https://management.azure.com/.default"})
    assert own.status_code == 200, own.text
    with sim.http(own.json()["access_token"]) as c:
        r = c.get(f"/subscriptions/{sim.subscription}/resourcegroups", params={"api-version": "2025-04-01"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "InvalidAuthenticationTokenTenant"
    # …and the subscription's tenant issues it none
    home = httpx.post(f"{sim.url}/{sim.tenant}/oauth2/v2.0/token", verify=sim.ca, data={
        "grant_type": "client_credentials", "client_id": foreign["appId"], "client_secret": foreign["clientSecret"],
        "scope": "https://management.azure.com/.default"})
    assert home.status_code in (400, 401) and "AADSTS700016" in home.text


def test_the_replication_grace_does_not_reach_another_tenant(tmp_path: Path) -> None:
    sim = Sim(home=tmp_path / "sim", database_url=fresh_database_url(),
              extra_env={"ARM_SIM_DIRECTORY_DELAY": "120"}).start()
    try:
        _, foreign = _foreign_app(sim)
        home = _home_app(sim)
        for app in (foreign, home):
            _principal_not_found(_assign(sim, app["servicePrincipalObjectId"], None),
                                 app["servicePrincipalObjectId"], sim.tenant)
        with sim.http() as c:
            assert c.post("/_sim/clock/advance", json={"duration": "3m"}).status_code == 200
        _principal_not_found(_assign(sim, foreign["servicePrincipalObjectId"], None),
                             foreign["servicePrincipalObjectId"], sim.tenant)
        assert _assign(sim, home["servicePrincipalObjectId"], None).status_code == 201
    finally:
        sim.stop()
