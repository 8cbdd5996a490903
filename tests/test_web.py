"""Microsoft.Web/sites (App Service and Function apps) with identity: azure-mgmt-web and raw REST.

Sites and plans answer PUT with 200 even when they are created (App Service's contract: azure-mgmt-web
accepts only 200 and 202). Every site gets an App Service identity endpoint (a per-site key and
IDENTITY_HEADER secret) for life; it goes with the site.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.web import WebSiteManagementClient
from azure.mgmt.web.models import (
    AppServicePlan,
    ManagedServiceIdentity,
    ResourceNameAvailabilityRequest,
    Site,
    SitePatchResource,
    SkuDescription,
    UserAssignedIdentity,
)

from arm_sim.core.errors import DomainError
from arm_sim.core.settings import Settings
from arm_sim.db.engine import make_engine, make_sessionmaker
from arm_sim.domain import identity_endpoints
from arm_sim.domain.runtime import Runtime
from arm_sim.providers import web_stacks
from tests.simserver import Sim
from tests.test_rbac import _app
from tests.webspec import plan

GRAPH = "https://graph.microsoft.com/.default"
API = "2024-04-01"
RG_API = "2025-04-01"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def web(sim: Sim) -> WebSiteManagementClient:
    return WebSiteManagementClient(sim.credential(), sim.subscription, **sim.mgmt_kwargs())


@pytest.fixture(scope="module")
def msi(sim: Sim) -> ManagedServiceIdentityClient:
    return ManagedServiceIdentityClient(sim.credential(), sim.subscription, **sim.mgmt_kwargs())


@pytest.fixture(scope="module")
def rg(sim: Sim, arm: httpx.Client) -> str:
    name = unique("rg-web-")
    r = arm.put(f"/subscriptions/{sim.subscription}/resourcegroups/{name}", params={"api-version": RG_API},
                json={"location": "westeurope"})
    assert r.status_code == 201, r.text
    return name


@pytest.fixture(scope="module")
def plan_id(web: WebSiteManagementClient, rg: str) -> str:
    plan = web.app_service_plans.begin_create_or_update(
        rg, unique("plan-"), AppServicePlan(location="westeurope", kind="linux", reserved=True,
                                            sku=SkuDescription(name="B1", tier="Basic"))).result()
    assert plan.id and plan.sku.name == "B1" and plan.kind == "linux"
    return plan.id


def site_path(sim: Sim, rg: str, name: str) -> str:
    return f"/subscriptions/{sim.subscription}/resourceGroups/{rg}/providers/Microsoft.Web/sites/{name}"


def endpoint(sim: Sim, resource_id: str) -> tuple[str, str | None] | None:
    """The site's identity endpoint (key, IDENTITY_HEADER) as the server stored it; None when there is none."""
    settings = Settings(home=sim.home, database_url=sim.database_url)
    engine = make_engine(settings.db_url)
    try:
        with Runtime(settings, make_sessionmaker(engine)).unit() as ctx:
            row = identity_endpoints.for_resource(ctx, resource_id)
            return (row.key, row.secret) if row is not None else None
    finally:
        engine.dispose()


def graph_status(graph: httpx.Client, object_id: str) -> int:
    return graph.get(f"/v1.0/servicePrincipals/{object_id}").status_code


# --- azure-mgmt-web ------------------------------------------------------------------------------------------

def test_site_with_system_identity_through_the_sdk(
        sim: Sim, web: WebSiteManagementClient, msi: ManagedServiceIdentityClient, graph: httpx.Client, rg: str,
        plan_id: str) -> None:
    name = unique("app-")
    site = web.web_apps.begin_create_or_update(rg, name, Site(
        location="westeurope", kind="app,linux", server_farm_id=plan_id,
        identity=ManagedServiceIdentity(type="SystemAssigned"), tags={"env": "test"})).result()
    assert site.id == site_path(sim, rg, name) and site.name == name and site.type == "Microsoft.Web/sites"
    assert site.kind == "app,linux" and site.tags == {"env": "test"}
    assert site.default_host_name == f"{name}.azurewebsites.net"
    assert site.host_names == [f"{name}.azurewebsites.net"]
    assert site.enabled_host_names == [f"{name}.azurewebsites.net", f"{name}.scm.azurewebsites.net"]
    assert site.state == "Running" and site.server_farm_id == plan_id and site.reserved is True
    assert site.identity.type == "SystemAssigned" and site.identity.tenant_id == sim.tenant
    principal = site.identity.principal_id
    sp = graph.get(f"/v1.0/servicePrincipals/{principal}").json()
    assert (sp["servicePrincipalType"], sp["displayName"]) == ("ManagedIdentity", name)
    assert sp["alternativeNames"] == ["isExplicit=False", site.id.replace("/resourceGroups/", "/resourcegroups/")]

    got = web.web_apps.get(rg, name)
    assert got.identity.principal_id == principal and got.default_host_name == site.default_host_name

    key, header = endpoint(sim, site.id) or ("", None)
    assert key and header, "every site gets an identity endpoint and an IDENTITY_HEADER secret"

    # add a user-assigned identity with PATCH: the system principal stays, the Web spelling has a space
    uai = msi.user_assigned_identities.create_or_update(rg, unique("uai-"), {"location": "westeurope"})
    updated = web.web_apps.update(rg, name, SitePatchResource(identity=ManagedServiceIdentity(
        type="SystemAssigned, UserAssigned", user_assigned_identities={uai.id: UserAssignedIdentity()})))
    assert updated.identity.type == "SystemAssigned, UserAssigned"
    assert updated.identity.principal_id == principal
    [(uai_id, entry)] = updated.identity.user_assigned_identities.items()
    assert uai_id.lower() == uai.id.lower()
    assert (entry.principal_id, entry.client_id) == (uai.principal_id, uai.client_id)
    assert endpoint(sim, site.id) == (key, header)  # the endpoint is the site's for life

    web.web_apps.stop(rg, name)
    assert web.web_apps.get(rg, name).state == "Stopped"
    web.web_apps.start(rg, name)
    assert web.web_apps.get(rg, name).state == "Running"

    web.web_apps.delete(rg, name)
    with pytest.raises(ResourceNotFoundError):
        web.web_apps.get(rg, name)
    assert graph_status(graph, principal) == 404
    assert graph_status(graph, uai.principal_id) == 200  # the user-assigned identity is not the site's
    assert endpoint(sim, site.id) is None


def test_function_app_and_listing(sim: Sim, web: WebSiteManagementClient, rg: str, plan_id: str) -> None:
    name = unique("func-")
    created = web.web_apps.begin_create_or_update(rg, name, Site(
        location="westeurope", kind="functionapp,linux", server_farm_id=plan_id)).result()
    assert created.kind == "functionapp,linux" and created.identity is None
    assert created.default_host_name == f"{name}.azurewebsites.net"
    names = {s.name for s in web.web_apps.list_by_resource_group(rg)}
    assert name in names
    assert name in {s.name for s in web.web_apps.list()}
    web.web_apps.delete(rg, name)
    assert name not in {s.name for s in web.web_apps.list_by_resource_group(rg)}


# --- raw REST: names, shape, identity spellings, the endpoint's life ----------------------------------------

@pytest.mark.parametrize("name", ["a", "x" * 61, "-leading", "trailing-", "under_score", "dot.ted"])
def test_site_name_rules(sim: Sim, arm: httpx.Client, rg: str, name: str) -> None:
    r = arm.put(site_path(sim, rg, name), params={"api-version": API}, json={"location": "westeurope"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "InvalidResourceName"


@pytest.mark.parametrize("name", ["ab", "9" + "x-" * 29 + "z", "Mixed-Case-9"])
def test_site_name_rules_accept(sim: Sim, arm: httpx.Client, rg: str, plan_id: str, name: str) -> None:
    assert 2 <= len(name) <= 60
    path = site_path(sim, rg, name)
    r = arm.put(path, params={"api-version": API}, json={"location": "westeurope",
                                                         "properties": {"serverFarmId": plan_id}})
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["defaultHostName"] == f"{name.lower()}.azurewebsites.net"
    assert arm.delete(path, params={"api-version": API}).status_code == 200


def test_site_shape_and_read_only_fields(sim: Sim, arm: httpx.Client, rg: str, plan_id: str) -> None:
    name = unique("shape-")
    path = site_path(sim, rg, name)
    r = arm.put(path, params={"api-version": API}, json={
        "location": "westeurope",
        "properties": {"serverFarmId": plan_id, "state": "Stopped", "defaultHostName": "evil.example.com",
                       "httpsOnly": True, "siteConfig": {"linuxFxVersion": "PYTHON|3.11"}}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "_sim" not in body
    assert body["kind"] == "app"  # App Service's default kind
    props = body["properties"]
    assert props["state"] == "Running" and props["defaultHostName"] == f"{name}.azurewebsites.net"
    assert props["serverFarmId"] == plan_id and props["httpsOnly"] is True and props["reserved"] is True
    # what was sent, among App Service's defaults for the rest (web_answers: recorded answers)
    assert props["siteConfig"]["linuxFxVersion"] == "PYTHON|3.11" and props["siteConfig"]["http20Enabled"] is True
    assert "provisioningState" not in props and props["resourceGroup"] == rg  # sites have none (spec, recorded)
    assert props["repositorySiteName"] == name and props["enabled"] is True
    assert [s["hostType"] for s in props["hostNameSslStates"]] == ["Standard", "Repository"]

    # the same name in another resource group: site names are host names, so they are global
    other_rg = unique("rg-web2-")
    arm.put(f"/subscriptions/{sim.subscription}/resourcegroups/{other_rg}", params={"api-version": RG_API},
            json={"location": "westeurope"})
    r = arm.put(site_path(sim, other_rg, name.upper()), params={"api-version": API}, json={"location": "westeurope"})
    assert r.status_code == 409, r.text
    assert r.json()["error"]["message"] == f"Website with given name {name.upper()} already exists."

    r = arm.put(site_path(sim, rg, unique("noplan-")), params={"api-version": API}, json={
        "location": "westeurope", "properties": {"serverFarmId": plan_id + "-missing"}})
    assert r.status_code == 404 and r.json()["error"]["code"] == "NotFound", r.text


def test_site_identity_spellings_and_endpoint(sim: Sim, arm: httpx.Client, msi: ManagedServiceIdentityClient,
                                               graph: httpx.Client, rg: str, plan_id: str) -> None:
    uai = msi.user_assigned_identities.create_or_update(rg, unique("uai-"), {"location": "westeurope"})
    name = unique("ids-")
    path = site_path(sim, rg, name)
    r = arm.put(path, params={"api-version": API}, json={
        "location": "westeurope", "properties": {"serverFarmId": plan_id},
        "identity": {"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": {uai.id: {}}}})
    assert r.status_code == 200, r.text
    identity = r.json()["identity"]
    assert identity["type"] == "SystemAssigned, UserAssigned"  # Web's canonical spelling
    assert identity["userAssignedIdentities"] == {uai.id: {"principalId": uai.principal_id,
                                                           "clientId": uai.client_id}}
    first = identity["principalId"]
    key = endpoint(sim, path)
    assert key is not None

    # a PUT that repeats the site without identity removes it (PUT replaces), the endpoint stays
    r = arm.put(path, params={"api-version": API}, json={"location": "westeurope", "tags": {"x": "y"}})
    assert r.status_code == 200 and "identity" not in r.json(), r.text
    assert graph_status(graph, first) == 404
    assert endpoint(sim, path) == key

    r = arm.patch(path, params={"api-version": API}, json={"identity": {"type": "systemassigned"}})
    assert r.status_code == 200, r.text
    assert r.json()["identity"]["type"] == "SystemAssigned"
    assert r.json()["identity"]["principalId"] not in (None, first)  # a new principal every time
    assert endpoint(sim, path) == key
    second = r.json()["identity"]["principalId"]
    assert graph_status(graph, second) == 200

    r = arm.patch(path, params={"api-version": API}, json={"identity": {"type": "None"}})
    assert r.status_code == 200 and "identity" not in r.json(), r.text
    assert graph_status(graph, second) == 404
    assert arm.delete(path, params={"api-version": API}).status_code == 200
    assert endpoint(sim, path) is None
    assert arm.delete(path, params={"api-version": API}).status_code == 204


def test_site_delete_through_resource_group(sim: Sim, arm: httpx.Client, graph: httpx.Client) -> None:
    group = unique("rg-webdel-")
    rg_path = f"/subscriptions/{sim.subscription}/resourcegroups/{group}"
    arm.put(rg_path, params={"api-version": RG_API}, json={"location": "westeurope"})
    path = site_path(sim, group, unique("gone-"))
    r = arm.put(path, params={"api-version": API}, json={"location": "westeurope",
                                                         "properties": {"serverFarmId": plan(arm, rg_path)},
                                                         "identity": {"type": "SystemAssigned"}})
    principal = r.json()["identity"]["principalId"]
    assert endpoint(sim, path) is not None
    r = arm.delete(rg_path, params={"api-version": RG_API})
    assert r.status_code in (200, 202), r.text
    assert graph_status(graph, principal) == 404
    assert endpoint(sim, path) is None


def test_server_farms_are_stored_generically(sim: Sim, arm: httpx.Client, rg: str) -> None:
    path = f"/subscriptions/{sim.subscription}/resourceGroups/{rg}/providers/Microsoft.Web/serverfarms/{unique('p-')}"
    body: dict[str, Any] = {"location": "westeurope", "sku": {"name": "P1v3", "tier": "PremiumV3"},
                            "properties": {"perSiteScaling": False}}
    r = arm.put(path, params={"api-version": API}, json=body)
    assert r.status_code == 200, r.text
    # as sent, with the family and size App Service derives from the name
    assert r.json()["sku"] == {**body["sku"], "family": "P", "size": "P1v3"}
    assert r.json()["properties"]["perSiteScaling"] is False


# --- provider-level calls: what `az webapp create` and `az functionapp create` ask before they PUT -------------

def test_check_name_availability(sim: Sim, web: WebSiteManagementClient, arm: httpx.Client, rg: str,
                                 plan_id: str) -> None:
    name = unique("cna-")
    url = f"/subscriptions/{sim.subscription}/providers/Microsoft.Web/checknameavailability"
    check = lambda n, t="Site": arm.post(url, params={"api-version": API}, json={"name": n, "type": t})  # noqa: E731
    assert check(name).json() == {"nameAvailable": True, "reason": "", "message": ""}  # App Service's (recorded)
    r = arm.put(site_path(sim, rg, name), params={"api-version": API},
                json={"location": "westeurope", "properties": {"serverFarmId": plan_id}})
    assert r.status_code == 200, r.text
    # site names are global host names: taken in any case, whatever group holds the site
    taken = check(name.upper(), "Microsoft.Web/sites").json()
    assert taken == {"nameAvailable": False, "reason": "AlreadyExists",
                     "message": f"Hostname '{name.upper()}' already exists. Please select a different name."}
    agrees = web.check_name_availability(ResourceNameAvailabilityRequest(name=name, type="Site"))  # azure-mgmt-web
    assert agrees.name_available is False and agrees.reason == "AlreadyExists"
    assert check("-bad-").json()["reason"] == "Invalid"
    assert check(name, "Microsoft.Web/serverfarms").json() == {"nameAvailable": True, "reason": "", "message": ""}
    missing = arm.post(url, params={"api-version": API}, json={"type": "Site"})
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "BadRequest"


def test_geo_regions(sim: Sim, arm: httpx.Client) -> None:
    r = arm.get(f"/subscriptions/{sim.subscription}/providers/Microsoft.Web/geoRegions",
                params={"api-version": API, "sku": "Dynamic"})
    assert r.status_code == 200, r.text
    east = next(g for g in r.json()["value"] if g["name"] == "East US")
    assert east == {"id": f"/subscriptions/{sim.subscription}/providers/Microsoft.Web/geoRegions/East US",
                    "name": "East US", "type": "Microsoft.Web/geoRegions",
                    "properties": {"name": "East US", "displayName": "East US", "description": "",
                                   "orgDomain": "PUBLIC"}}


@pytest.mark.parametrize("scope", ["", "/resourceGroups/{rg}"])
def test_unknown_provider_level_post_is_refused_in_arm_shape(sim: Sim, arm: httpx.Client, rg: str,
                                                             scope: str) -> None:
    """A POST at `providers/{namespace}/{name}` that no provider answers: ARM's 404, never a 500."""
    base = f"/subscriptions/{sim.subscription}{scope.format(rg=rg)}/providers"
    for ns in ("Microsoft.Web", "Microsoft.Compute", "Microsoft.KeyVault"):
        r = arm.post(f"{base}/{ns}/noSuchAction", params={"api-version": API}, json={})
        assert r.status_code == 404, r.text
        assert r.json() == {"error": {"code": "InvalidResourceType", "message": (
            f"The resource type 'noSuchAction' could not be found in the namespace '{ns}' for api version "
            f"'{API}'.")}}
    bare = arm.post(f"/subscriptions/{sim.subscription}/providers/Microsoft.Web", params={"api-version": API})
    assert bare.status_code == 405 and bare.json()["error"]["code"] == "MethodNotAllowed", bare.text


# --- runtime stacks: tenant-level provider reads (no subscription in the path) ---------------------------------

STACKS_API = "2024-11-01"


def _settings_keys(stacks: list[dict[str, Any]]) -> set[str]:
    return {k for s in stacks for major in s["properties"]["majorVersions"] for minor in major["minorVersions"]
            for k in minor["stackSettings"]}


def _runtimes(stacks: list[dict[str, Any]], key: str) -> list[str]:
    return [minor["stackSettings"][key]["runtimeVersion"] for s in stacks
            for major in s["properties"]["majorVersions"] for minor in major["minorVersions"]
            if key in minor["stackSettings"]]


def test_stacks_filters_as_the_stacks_api_does() -> None:
    """Pure: `stackOsType` keeps one system's settings and drops what has none left; the remove… flags drop the
    settings so marked. The data comes from public captures (scripts/gen_app_stacks.py), never typed here."""
    every = web_stacks.filtered("webAppStacks", {})
    assert _settings_keys(every) == {"windowsRuntimeSettings", "linuxRuntimeSettings"}
    linux = web_stacks.filtered("webAppStacks", {"stackOsType": "Linux"})
    assert _settings_keys(linux) == {"linuxRuntimeSettings"}
    assert "DOTNETCORE|3.1" in _runtimes(linux, "linuxRuntimeSettings")
    majors = [m["displayText"] for m in linux[0]["properties"]["majorVersions"]]
    assert "ASP.NET V4" not in majors and ".NET 5" in majors  # Windows-only versions are gone
    windows = web_stacks.filtered("webAppStacks", {"STACKOSTYPE": "windows"})
    assert _settings_keys(windows) == {"windowsRuntimeSettings"}
    assert web_stacks.filtered("webAppStacks", {"stackOsType": "All"}) == every
    current = web_stacks.filtered("webAppStacks", {"stackOsType": "Linux", "removeDeprecatedStacks": "true"})
    assert "DOTNETCORE|3.0" in _runtimes(linux, "linuxRuntimeSettings")
    assert "DOTNETCORE|3.0" not in _runtimes(current, "linuxRuntimeSettings")
    with pytest.raises(DomainError) as refused:
        web_stacks.filtered("webAppStacks", {"stackOsType": "Solaris"})
    assert refused.value.code == "BadRequest"

    functions = web_stacks.filtered("functionAppStacks", {"stackOsType": "Linux"})
    python = next(s for s in functions if s["name"] == "python")
    newest = python["properties"]["majorVersions"][0]["minorVersions"][0]["stackSettings"]["linuxRuntimeSettings"]
    assert "~4" in newest["supportedFunctionsExtensionVersions"]
    assert newest["endOfLifeDate"].endswith("Z")  # ISO 8601, as the SDKs parse it
    assert web_stacks.filtered("functionAppStacks", {"stack": "node"}) == []
    assert web_stacks.stacks("webAppStacks") is not web_stacks.stacks("webAppStacks")  # callers get copies


def test_stacks_are_tenant_level_reads_open_to_any_signed_in_caller(sim: Sim, arm: httpx.Client) -> None:
    _, token = _app(sim, "no-role-stacks")
    nobody = httpx.Client(base_url=sim.url, verify=sim.ca, headers={"Authorization": f"Bearer {token}"})
    with nobody:
        for client in (arm, nobody):
            r = client.get("/providers/Microsoft.Web/webAppStacks",
                           params={"api-version": STACKS_API, "stackOsType": "Linux"})
            assert r.status_code == 200, r.text
            [dotnet] = r.json()["value"]
            assert (dotnet["id"], dotnet["type"]) == ("/providers/Microsoft.Web/webAppStacks/dotnet",
                                                      "Microsoft.Web/webAppStacks")
            assert _settings_keys(r.json()["value"]) == {"linuxRuntimeSettings"}
        functions = nobody.get("/providers/microsoft.web/FUNCTIONAPPSTACKS", params={"api-version": STACKS_API})
        assert functions.status_code == 200 and [s["name"] for s in functions.json()["value"]] == ["python"]
        here = nobody.get("/providers/Microsoft.Web/locations/East US/functionAppStacks",
                          params={"api-version": STACKS_API, "stack": "python", "removeHiddenStacks": "true"})
        assert here.status_code == 200, here.text
        [python] = here.json()["value"]
        assert python["id"] == "/providers/Microsoft.Web/locations/eastus/functionAppStacks/python"
        nowhere = nobody.get("/providers/Microsoft.Web/locations/nowhere/webAppStacks",
                             params={"api-version": STACKS_API})
        assert nowhere.status_code == 404 and nowhere.json()["error"]["code"] == (
            "LocationNotAvailableForResourceType"), nowhere.text
        bad = nobody.get("/providers/Microsoft.Web/webAppStacks", params={"api-version": STACKS_API,
                                                                         "stackOsType": "Solaris"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "BadRequest"
        # a tenant-level read nothing simulates: ARM's 404 in ARM's shape (never a 403 or a 500)
        for path in ("/providers/Microsoft.Web/noSuchThing", "/providers/Microsoft.Compute/webAppStacks",
                     "/providers/Microsoft.Web/webAppStacks/dotnet/extra"):
            missing = nobody.get(path, params={"api-version": STACKS_API})
            assert missing.status_code == 404, (path, missing.text)
            assert set(missing.json()["error"]) >= {"code", "message"}
            assert missing.json()["error"]["code"] in ("InvalidResourceType", "NoRegisteredProviderFound")
        assert nobody.post("/providers/Microsoft.Web/webAppStacks",
                           params={"api-version": STACKS_API}).status_code in (403, 404, 405)
    with httpx.Client(base_url=sim.url, verify=sim.ca) as anonymous:
        assert anonymous.get("/providers/Microsoft.Web/webAppStacks",
                             params={"api-version": STACKS_API}).status_code == 401


def test_function_app_without_a_plan_gets_a_consumption_plan(sim: Sim, arm: httpx.Client, rg: str) -> None:
    """`az functionapp create --consumption-plan-location` writes the site with no serverFarmId: App Service makes a
    Consumption plan (Y1, Dynamic) in the site's group, named after the region, and the next app there shares it."""
    group = f"/subscriptions/{sim.subscription}/resourceGroups/{rg}"
    made = []
    for _ in range(2):
        name = unique("fn-")
        r = arm.put(site_path(sim, rg, name), params={"api-version": API}, json={
            "location": "westeurope", "kind": "functionapp,linux", "properties": {"reserved": True}})
        assert r.status_code == 200, r.text
        made.append(r.json()["properties"])
    plan = f"{group}/providers/Microsoft.Web/serverfarms/WestEuropeLinuxDynamicPlan"
    assert [p["serverFarmId"] for p in made] == [plan, plan]
    assert made[0]["sku"] == "Dynamic" and made[0]["reserved"] is True
    got = arm.get(plan, params={"api-version": API})
    assert got.status_code == 200, got.text
    assert got.json()["sku"]["tier"] == "Dynamic" and got.json()["sku"]["name"] == "Y1"
    web_app = arm.put(site_path(sim, rg, unique("app-")), params={"api-version": API},
                      json={"location": "westeurope", "kind": "app,linux", "properties": {}})
    assert web_app.status_code == 400 and "ServerFarmId" in web_app.json()["error"]["message"]
