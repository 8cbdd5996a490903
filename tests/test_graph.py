"""Microsoft Graph subset: a real server for the HTTP contract, a migrated database for paging and shapes."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from arm_sim.core.errors import DomainError
from arm_sim.core.settings import Settings
from arm_sim.db import migrate
from arm_sim.db.engine import make_engine, make_sessionmaker
from arm_sim.db.models import ServicePrincipal
from arm_sim.domain import certs, directory, graph, tenancy
from arm_sim.domain.runtime import Runtime
from tests.azcli import AzCli, az_executable
from tests.simserver import Sim, fresh_database_url

GRAPH = "https://graph.microsoft.com/.default"
DEPLOYER_APP = ("arm-sim-deployer", "AzureADMyOrg", [])


@pytest.fixture(scope="module")
def gh(sim: Sim) -> Iterator[httpx.Client]:
    """A client holding a Graph token for the `https://graph.microsoft.com` audience."""
    with sim.http(sim.token(GRAPH)) as client:
        yield client


@pytest.fixture(scope="module")
def deployer(gh: httpx.Client, sim: Sim) -> dict[str, Any]:
    r = gh.get("/v1.0/servicePrincipals", params={"$filter": f"appId eq '{sim.client_id}'"})
    assert r.status_code == 200, r.text
    [sp] = r.json()["value"]
    return sp


def assert_graph_error(r: httpx.Response, status: int, code: str, message: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and (message is None or err["message"] == message), err
    assert set(err["innerError"]) == {"date", "request-id", "client-request-id"}
    assert err["innerError"]["request-id"] == r.headers["request-id"]
    return err


def test_get_service_principal_by_id(gh: httpx.Client, sim: Sim, deployer: dict[str, Any]) -> None:
    r = gh.get(f"/v1.0/servicePrincipals/{deployer['id']}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    sp = r.json()
    assert sp["@odata.context"] == f"{sim.url}/v1.0/$metadata#servicePrincipals/$entity"
    assert sp["appId"] == sim.client_id and sp["servicePrincipalNames"] == [sim.client_id]
    assert sp["displayName"] == sp["appDisplayName"] == "arm-sim-deployer"
    assert sp["alternativeNames"] == sp["tags"] == sp["keyCredentials"] == [] and sp["accountEnabled"] is True
    assert sp["deletedDateTime"] is None
    assert (sp["appOwnerOrganizationId"], sp["signInAudience"], sp["servicePrincipalType"]) == (
        sim.tenant, "AzureADMyOrg", "Application")
    assert sp["passwordCredentials"] == []  # an app's secrets live on the application object


def test_alternate_key_app_id(gh: httpx.Client, sim: Sim, deployer: dict[str, Any]) -> None:
    r = gh.get(f"/v1.0/servicePrincipals(appId='{sim.client_id}')")
    assert r.status_code == 200 and r.json()["id"] == deployer["id"], r.text
    assert_graph_error(gh.get(f"/v1.0/servicePrincipals(appId='{uuid.uuid4()}')"), 404, "Request_ResourceNotFound")


@pytest.mark.parametrize("flt", [
    "appId eq '{client}'",
    "displayName eq 'ARM-SIM-DEPLOYER'",  # string comparisons ignore case, as in Graph
    "servicePrincipalType eq 'Application' and startsWith(displayName, 'arm-sim-')",
    "servicePrincipalNames/any(c:c eq '{client}')",
    "id in ('{id}', '00000000-0000-0000-0000-000000000000')",
])
def test_list_filters_find_the_deployer(gh: httpx.Client, sim: Sim, deployer: dict[str, Any], flt: str) -> None:
    r = gh.get("/v1.0/servicePrincipals", params={"$filter": flt.format(client=sim.client_id, id=deployer["id"])})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.context"] == f"{sim.url}/v1.0/$metadata#servicePrincipals" and "@odata.nextLink" not in body
    assert [sp["id"] for sp in body["value"]] == [deployer["id"]]


@pytest.mark.parametrize("flt", [
    "appId eq '00000000-0000-0000-0000-000000000000'", "alternativeNames/any(x:startsWith(x,'/subscriptions/'))",
    "servicePrincipalType eq 'ManagedIdentity' and displayName eq 'arm-sim-deployer'"])
def test_list_filters_that_exclude_the_deployer(gh: httpx.Client, deployer: dict[str, Any], flt: str) -> None:
    r = gh.get("/v1.0/servicePrincipals", params={"$filter": flt})
    assert r.status_code == 200 and deployer["id"] not in [sp["id"] for sp in r.json()["value"]], r.text


def test_the_azure_cli_lookup(sim: Sim, deployer: dict[str, Any]) -> None:
    """`az keyvault create` asks Graph, with its own URL as the token resource, for the caller's object id."""
    with sim.http(sim.token(f"{sim.url}//.default")) as cli:
        assert_graph_error(cli.get("/v1.0/me"), 400, "BadRequest",
                           "/me request is only valid with delegated authentication flow.")
        r = cli.get(f"/v1.0/servicePrincipals?$filter=servicePrincipalNames/any(c:c eq '{sim.client_id}')")
    assert r.status_code == 200 and r.json()["value"][0]["id"] == deployer["id"], r.text


def test_top_and_select(gh: httpx.Client, sim: Sim, deployer: dict[str, Any]) -> None:
    body = gh.get("/v1.0/servicePrincipals",
                  params={"$filter": f"appId eq '{sim.client_id}'", "$top": "1", "$select": "id,APPID"}).json()
    assert body["@odata.context"] == f"{sim.url}/v1.0/$metadata#servicePrincipals(id,appId)"
    assert body["value"] == [{"id": deployer["id"], "appId": sim.client_id}] and "@odata.nextLink" not in body
    one = gh.get(f"/v1.0/servicePrincipals/{deployer['id']}", params={"$select": "displayName"}).json()
    assert one == {"@odata.context": f"{sim.url}/v1.0/$metadata#servicePrincipals(displayName)/$entity",
                   "displayName": "arm-sim-deployer"}


@pytest.mark.parametrize(("params", "code"), [
    ({"$top": "0"}, "Request_UnsupportedQuery"), ({"$top": "1000"}, "Request_UnsupportedQuery"),
    ({"$top": "ten"}, "BadRequest"), ({"$filter": "appId eq"}, "BadRequest"), ({"$filter": "appId eq 3"}, "BadRequest"),
    ({"$filter": "nosuchProperty eq 'x'"}, "Request_UnsupportedQuery"), ({"$select": "id,nosuch"}, "BadRequest"),
    ({"$skiptoken": "garbage!"}, "Request_BadRequest"), ({"$orderby": "displayName"}, "BadRequest"),
])
def test_bad_query_options(gh: httpx.Client, params: dict[str, str], code: str) -> None:
    assert_graph_error(gh.get("/v1.0/servicePrincipals", params=params), 400, code)


def test_unknown_and_malformed_ids(gh: httpx.Client) -> None:
    missing = str(uuid.uuid4())
    r = gh.get(f"/v1.0/servicePrincipals/{missing}", headers={"client-request-id": "mine-123"})
    err = assert_graph_error(r, 404, "Request_ResourceNotFound", f"Resource '{missing}' does not exist or one of "
                             "its queried reference-property objects are not present.")
    assert err["innerError"]["client-request-id"] == r.headers["client-request-id"] == "mine-123"
    assert_graph_error(gh.get("/v1.0/servicePrincipals/not-a-guid"), 400, "Request_BadRequest",
                       "Invalid object identifier 'not-a-guid'.")
    assert_graph_error(gh.get(f"/v1.0/applications/{missing}"), 404, "Request_ResourceNotFound")


def test_applications(gh: httpx.Client, sim: Sim, deployer: dict[str, Any]) -> None:
    [app] = gh.get("/v1.0/applications", params={"$filter": f"appId eq '{sim.client_id}'"}).json()["value"]
    assert app["id"] != deployer["id"] and app["appId"] == sim.client_id and app["createdDateTime"].endswith("Z")
    assert (app["displayName"], app["signInAudience"], app["keyCredentials"]) == DEPLOYER_APP
    assert [(p["hint"], p["secretText"]) for p in app["passwordCredentials"]] == [(sim.client_secret[:3], None)]
    by_id = gh.get(f"/v1.0/applications/{app['id']}").json()
    assert by_id["@odata.context"] == f"{sim.url}/v1.0/$metadata#applications/$entity"
    assert {k: v for k, v in by_id.items() if k != "@odata.context"} == app
    assert gh.get(f"/v1.0/applications(appId='{sim.client_id}')").json()["id"] == app["id"]


@pytest.mark.azcli
def test_the_azure_cli_reads_graph(sim: Sim, deployer: dict[str, Any], tmp_path: Path) -> None:
    """`az ad …` configured exactly as clients.md §5 says; az also sends the Graph token for its own URL."""
    if az_executable() is None:
        pytest.skip("Azure CLI not found: set ARM_SIM_AZ, install it in /work/main/.venv-az or put az on PATH")
    az = AzCli(sim, tmp_path / "azcfg")
    az.configure()
    az.login()
    assert az.json("ad", "sp", "show", "--id", sim.client_id)["id"] == deployer["id"]
    assert [sp["id"] for sp in az.json("ad", "sp", "list", "--display-name", "arm-sim-deployer")] == [deployer["id"]]
    secrets = az.json("ad", "app", "credential", "list", "--id", sim.client_id)
    assert [c["hint"] for c in secrets] == [sim.client_secret[:3]]
    me = az.fails("ad", "signed-in-user", "show")
    assert "/me request is only valid with delegated authentication flow." in me.stderr
    assert az.fails("ad", "sp", "show", "--id", str(uuid.uuid4())).returncode == 3  # az's "resource not found"


# --- what is not simulated, and authentication -------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1.0/groups"), ("GET", "/v1.0/groups/x/members"), ("PATCH", "/v1.0/users/x"),
    ("GET", "/v1.0/servicePrincipals/00000000-0000-0000-0000-000000000000/oauth2PermissionGrants"),
    ("POST", "/v1.0/servicePrincipals/00000000-0000-0000-0000-000000000000/addPassword"),
    ("DELETE", "/v1.0/applications/00000000-0000-0000-0000-000000000000/owners"),
])
def test_unsimulated_paths_fail_in_graph_envelope(gh: httpx.Client, method: str, path: str) -> None:
    err = assert_graph_error(gh.request(method, path), 400, "BadRequest")
    assert "arm-sim" in err["message"]


def _auth_failure(r: httpx.Response, message: str) -> None:
    assert_graph_error(r, 401, "InvalidAuthenticationToken", message)
    assert r.headers["www-authenticate"].startswith("Bearer ")


def test_token_failures(sim: Sim) -> None:
    header, payload, signature = sim.token(GRAPH).split(".")
    claims = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).replace(b'"app"', b'"xpp"')
    forged = f"{header}.{base64.urlsafe_b64encode(claims).rstrip(b'=').decode()}.{signature}"
    for token, message in ((None, "Access token is empty."), (forged, "Access token validation failure."),
                           (sim.token(), "Access token validation failure. Invalid audience.")):  # an ARM token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with httpx.Client(base_url=sim.url, verify=sim.ca, headers=headers) as client:
            for path in ("/v1.0/servicePrincipals", "/v1.0/users"):  # the token is checked before the path
                _auth_failure(client.get(path), message)


def test_expired_token_on_the_simulated_clock(fresh_sim: Sim) -> None:
    token = fresh_sim.token(GRAPH)
    with fresh_sim.http(fresh_sim.token()) as arm:
        assert arm.post("/_sim/clock/advance", params={"by": "2h"}).status_code == 200
    with fresh_sim.http(token) as gh:
        _auth_failure(gh.get("/v1.0/servicePrincipals"), "Lifetime validation failed, the token is expired.")


def _bootstrapped(settings: Settings) -> Runtime:
    """A database built by the migrations, with the bootstrap tenant and deployer."""
    migrate.upgrade(settings.db_url)
    rt = Runtime(settings, make_sessionmaker(make_engine(settings.db_url)))
    with rt.unit() as ctx:
        tenancy.bootstrap(ctx)
    return rt


def test_next_link_pages_over_http(tmp_path: Path) -> None:
    """No API creates principals yet, so seed the database before the server starts, then page over HTTP."""
    server = Sim(home=tmp_path / "sim", database_url=fresh_database_url())
    server.home.mkdir(parents=True)
    seeded = _bootstrapped(Settings(home=server.home, database_url=server.database_url, tenant_id=server.tenant,
                                    subscription_id=server.subscription, client_id=server.client_id,
                                    client_secret=server.client_secret))
    with seeded.unit() as ctx:
        for i in range(4):
            directory.create_application(ctx, server.tenant, f"seeded-{i}")
    server.start()
    try:
        with server.http(server.token(GRAPH)) as gh:
            pages: list[list[dict[str, Any]]] = []
            url: str | None = "/v1.0/servicePrincipals?$top=2&$select=id,displayName"
            while url:
                body = gh.get(url).json()
                pages.append(body["value"])
                url = body.get("@odata.nextLink")
                assert url is None or url.startswith(f"{server.url}/v1.0/servicePrincipals?$top=2&")
            ids = [sp["id"] for page in pages for sp in page if set(sp) == {"id", "displayName"}]
            # 4 seeded, the deployer and Microsoft Graph's own principal, which every tenant has
            assert [len(p) for p in pages] == [2, 2, 2] and len(set(ids)) == 6
            first = gh.get("/v1.0/servicePrincipals", params={"$filter": "startsWith(displayName,'seeded-')",
                                                               "$top": 3}).json()
            assert len(first["value"]) == 3 and "$filter=startsWith(displayName,'seeded-')" in first["@odata.nextLink"]
            rest = gh.get(first["@odata.nextLink"]).json()
            names = sorted(sp["displayName"] for sp in first["value"] + rest["value"])
            assert names == [f"seeded-{i}" for i in range(4)] and "@odata.nextLink" not in rest
    finally:
        server.stop()


# --- domain level: paging, certificates, managed identities -------------------------------------


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    return _bootstrapped(Settings(home=tmp_path))


def test_paging_visits_every_match_once(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graph, "_CHUNK", 2)  # so pages end and resume inside and across SQL chunks
    with runtime.unit() as ctx:
        tid = tenancy.bootstrap(ctx).tenant_id
        for i in range(7):
            directory.create_application(ctx, tid, f"paged-{i}")
    with runtime.unit() as ctx:
        flt = graph.parse_filter(graph.SERVICE_PRINCIPALS, "startsWith(displayName,'paged-')")
        seen: list[str] = []
        after: str | None = None
        for expected in (3, 3, 1):
            page = graph.list_page(ctx, graph.SERVICE_PRINCIPALS, tid, flt, 3, after, ("id", "displayName"))
            assert len(page.value) == expected and all(set(d) == {"id", "displayName"} for d in page.value)
            seen += [d["id"] for d in page.value]
            after = graph.parse_skiptoken(graph.skiptoken(page.next_after)) if page.next_after else None
        assert after is None and len(seen) == 7 and seen == sorted(seen)
        everything = graph.list_page(ctx, graph.SERVICE_PRINCIPALS, tid, None, 999, None)
        assert len(everything.value) == 9 and everything.next_after is None  # 7 + the deployer + Microsoft Graph
        assert graph.list_page(ctx, graph.SERVICE_PRINCIPALS, str(uuid.uuid4()), None, 10, None).value == []


def test_managed_identity_shape_and_certificate(runtime: Runtime) -> None:
    app_id, rid = str(uuid.uuid4()), "/subscriptions/s/resourcegroups/rg/providers/Microsoft.Compute/virtualMachines/v"
    with runtime.unit() as ctx:
        tid = tenancy.bootstrap(ctx).tenant_id
        der = certs.self_signed(certs.new_rsa_key(), "mi-cert", ctx.now - 60, ctx.now + 90 * 86400)
        sp = ServicePrincipal(object_id=str(uuid.uuid4()), app_id=app_id, tenant_id=tid, display_name="vm1",
                              service_principal_type="ManagedIdentity", alternative_names=["isExplicit=False", rid],
                              service_principal_names=[app_id, "https://identity.azure.net/abc="], created_at=ctx.now)
        ctx.session.add(sp)
        cred = directory.add_certificate(ctx, app_id, der)
    with runtime.unit() as ctx:
        flt = graph.parse_filter(graph.SERVICE_PRINCIPALS, "servicePrincipalType eq 'ManagedIdentity' and "
                                 "alternativeNames/any(x:startsWith(x,'/subscriptions/s/resourcegroups/rg/'))")
        [doc] = graph.list_page(ctx, graph.SERVICE_PRINCIPALS, tid, flt, 100, None).value
        assert doc["id"] == sp.object_id and doc["signInAudience"] is None and doc["passwordCredentials"] == []
        [kc] = doc["keyCredentials"]
        assert kc["customKeyIdentifier"] == certs.sha1_thumbprint(der).hex().upper() == cred.thumbprint_sha1
        assert (kc["keyId"], kc["type"], kc["usage"], kc["key"]) == (cred.key_id, "AsymmetricX509Cert", "Verify", None)
        assert kc["startDateTime"].endswith("Z") and kc["displayName"] == "CN=mi-cert"
        # The public key is only returned when keyCredentials is $select-ed on a single object.
        one = graph.get(ctx, graph.SERVICE_PRINCIPALS, tid, object_id=sp.object_id,
                        selected=graph.parse_select(graph.SERVICE_PRINCIPALS, "id,keyCredentials"))
        assert set(one) == {"id", "keyCredentials"} and base64.b64decode(one["keyCredentials"][0]["key"]) == der
        with pytest.raises(DomainError) as e:
            graph.get(ctx, graph.SERVICE_PRINCIPALS, str(uuid.uuid4()), object_id=sp.object_id)
        assert e.value.status == 404  # another tenant's principal does not exist for this caller


# --- directoryObjects/getByIds (what `az role assignment list --assignee …` asks) ------------------------------


def test_directory_objects_get_by_ids(gh: httpx.Client, sim: Sim, deployer: dict[str, Any],
                                      app: dict[str, Any]) -> None:
    [application] = gh.get("/v1.0/applications", params={"$filter": f"appId eq '{sim.client_id}'"}).json()["value"]
    missing = str(uuid.uuid4())
    ids = [deployer["id"].upper(), missing, application["id"], app["servicePrincipalObjectId"]]
    r = gh.post("/v1.0/directoryObjects/getByIds", json={"ids": ids})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.context"] == f"{sim.url}/v1.0/$metadata#directoryObjects"
    # every object found, each with its @odata.type and its full shape; an id naming nothing is left out
    assert [(o["@odata.type"], o["id"]) for o in body["value"]] == [
        ("#microsoft.graph.servicePrincipal", deployer["id"]), ("#microsoft.graph.application", application["id"]),
        ("#microsoft.graph.servicePrincipal", app["servicePrincipalObjectId"])]
    assert {k: v for k, v in body["value"][0].items() if k != "@odata.type"} == {
        k: v for k, v in deployer.items() if not k.startswith("@")}
    # `types` narrows the search (case-insensitive, with or without the namespace); as the Azure CLI sends it
    az_types = ["user", "group", "servicePrincipal", "directoryObjectPartnerReference"]
    found = gh.post("/v1.0/directoryObjects/getByIds", json={"ids": ids, "types": az_types}).json()["value"]
    assert [o["id"] for o in found] == [deployer["id"], app["servicePrincipalObjectId"]]
    only_apps = gh.post("/v1.0/directoryObjects/getByIds", json={"ids": ids, "types": ["microsoft.graph.Application"]})
    assert [o["id"] for o in only_apps.json()["value"]] == [application["id"]]
    assert gh.post("/v1.0/directoryObjects/getByIds", json={"ids": [missing]}).json()["value"] == []
    # refusals in Graph's envelope
    for bad in ({"ids": ["not-a-guid"]}, {"ids": []}, {}, {"ids": ids, "types": ["spaceship"]},
                {"ids": [str(uuid.uuid4()) for _ in range(1001)]}):
        assert_graph_error(gh.post("/v1.0/directoryObjects/getByIds", json=bad), 400, "Request_BadRequest")
    assert_graph_error(gh.post("/v1.0/directoryObjects/getByIds", content=b"{", headers={
        "content-type": "application/json"}), 400, "BadRequest")


def test_get_by_ids_needs_a_directory_read_permission(sim: Sim, app: dict[str, Any]) -> None:
    r = httpx.post(f"{sim.url}/{sim.tenant}/oauth2/v2.0/token", verify=sim.ca, data={
        "grant_type": "client_credentials", "client_id": app["appId"], "client_secret": app["clientSecret"],
        "scope": GRAPH})
    with sim.http(r.json()["access_token"]) as graph_client:
        denied = graph_client.post("/v1.0/directoryObjects/getByIds", json={"ids": [app["servicePrincipalObjectId"]]})
        assert_graph_error(denied, 403, "Authorization_RequestDenied")
