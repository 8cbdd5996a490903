"""Graph application permissions granted as Graph grants them: appRoleAssignments of Microsoft Graph's own
service principal, which every tenant has. A new principal holds none; a grant shows in its next token's
`roles` claim; a revocation takes it away again."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
from alembic import command
from sqlalchemy import select

from arm_sim.db.engine import make_engine
from arm_sim.db.migrate import alembic_config, upgrade
from arm_sim.db.models import Bootstrap, GraphAppRoleAssignment, ServicePrincipal, Tenant
from tests.simserver import Sim, fresh_database_url
from tests.test_graph_permissions import GRAPH, app_token, assert_denied, claims

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
APPLICATION_READ_ALL = "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30"
APP_ROLE_ASSIGNMENT_READWRITE_ALL = "06b708a9-e830-4db3-a914-8e69da51d44f"
ASSIGNMENT_KEYS = {"@odata.context", "id", "deletedDateTime", "appRoleId", "createdDateTime", "principalDisplayName",
                   "principalId", "principalType", "resourceDisplayName", "resourceId"}


def graph_principal(sim: Sim) -> dict[str, Any]:
    with sim.http(sim.token(GRAPH)) as gh:
        r = gh.get(f"/v1.0/servicePrincipals(appId='{GRAPH_APP_ID}')")
    assert r.status_code == 200, r.text
    return dict(r.json())


def app_name(sim: Sim, object_id: str) -> str:
    with sim.http(sim.token(GRAPH)) as gh:
        return str(gh.get(f"/v1.0/servicePrincipals/{object_id}").json()["displayName"])


def assign(sim: Sim, principal: str, resource: str, role: str, *, via: str = "appRoleAssignments",
           token: str | None = None, at: str | None = None) -> httpx.Response:
    with sim.http(token or sim.token(GRAPH)) as gh:
        return gh.post(f"/v1.0/servicePrincipals/{at or (principal if via == 'appRoleAssignments' else resource)}"
                       f"/{via}", json={"principalId": principal, "resourceId": resource, "appRoleId": role})


def test_every_tenant_has_microsoft_graphs_principal_with_its_app_roles(sim: Sim) -> None:
    sp = graph_principal(sim)
    assert sp["displayName"] == "Microsoft Graph" and sp["appId"] == GRAPH_APP_ID
    assert sp["appOwnerOrganizationId"] == "f8cdef31-a31e-4b4a-93e4-5f571e91255a"  # Microsoft's own tenant
    roles = {r["value"]: r for r in sp["appRoles"]}
    assert roles["Application.Read.All"]["id"] == APPLICATION_READ_ALL
    assert roles["AppRoleAssignment.ReadWrite.All"]["allowedMemberTypes"] == ["Application"]
    with sim.http(sim.token(GRAPH)) as gh:
        found = gh.get("/v1.0/servicePrincipals", params={"$filter": f"appId eq '{GRAPH_APP_ID}'"}).json()["value"]
        assert [s["id"] for s in found] == [sp["id"]]
        # the deployer's grants are assignments of Graph's roles like any other
        mine = gh.get("/v1.0/servicePrincipals", params={"$filter": f"appId eq '{sim.client_id}'"}).json()["value"]
        held = gh.get(f"/v1.0/servicePrincipals/{mine[0]['id']}/appRoleAssignments").json()["value"]
    assert {a["appRoleId"] for a in held} >= {APPLICATION_READ_ALL, APP_ROLE_ASSIGNMENT_READWRITE_ALL}
    assert all(a["resourceId"] == sp["id"] and a["resourceDisplayName"] == "Microsoft Graph" for a in held)

    with sim.http() as c:  # another tenant has a principal of its own for the same app
        other = c.post("/_sim/tenants", json={"displayName": "other"}).json()["tenantId"]
        foreign = c.post("/_sim/applications", json={"displayName": "foreign", "tenantId": other}).json()
        r = c.post(f"/_sim/applications/{foreign['appId']}/graphPermissions",
                   json={"permissions": ["Application.Read.All"]})
        assert r.status_code == 200, r.text
    r = httpx.post(f"{sim.url}/{other}/oauth2/v2.0/token", verify=sim.ca, data={
        "grant_type": "client_credentials", "client_id": foreign["appId"], "client_secret": foreign["clientSecret"],
        "scope": GRAPH})
    with sim.http(r.json()["access_token"]) as gh:
        theirs = gh.get(f"/v1.0/servicePrincipals(appId='{GRAPH_APP_ID}')").json()
        assert theirs["appId"] == GRAPH_APP_ID and theirs["id"] != sp["id"]
        assert gh.get(f"/v1.0/servicePrincipals/{sp['id']}").status_code == 404  # not in its tenant


def test_grant_list_and_revoke_through_graph(sim: Sim, app: dict[str, Any]) -> None:
    graph_sp = graph_principal(sim)["id"]
    me = app["servicePrincipalObjectId"]
    token = app_token(sim, app)
    assert "roles" not in claims(token)
    with sim.http(token) as gh:
        assert_denied(gh.get("/v1.0/servicePrincipals"))

    r = assign(sim, me, graph_sp, APPLICATION_READ_ALL)
    assert r.status_code == 201, r.text
    grant = r.json()
    assert set(grant) == ASSIGNMENT_KEYS and len(grant["id"]) == 43
    assert grant["@odata.context"].endswith("/v1.0/$metadata#appRoleAssignments/$entity")
    assert (grant["principalId"], grant["resourceId"], grant["appRoleId"]) == (me, graph_sp, APPLICATION_READ_ALL)
    assert grant["principalDisplayName"] == app_name(sim, me) and grant["principalType"] == "ServicePrincipal"
    assert grant["createdDateTime"].endswith("Z") and grant["deletedDateTime"] is None

    with sim.http(sim.token(GRAPH)) as gh:
        held = gh.get(f"/v1.0/servicePrincipals/{me}/appRoleAssignments").json()["value"]
        assert [a["id"] for a in held] == [grant["id"]]
        to = gh.get(f"/v1.0/servicePrincipals/{graph_sp}/appRoleAssignedTo").json()["value"]
        assert grant["id"] in [a["id"] for a in to]
        one = gh.get(f"/v1.0/servicePrincipals/{me}/appRoleAssignments/{grant['id']}")
        assert one.status_code == 200 and one.json()["appRoleId"] == APPLICATION_READ_ALL

    with sim.http(token) as gh:  # an issued token keeps the roles it was issued with, as in Azure
        assert_denied(gh.get("/v1.0/servicePrincipals"))
    token = app_token(sim, app)
    assert claims(token)["roles"] == ["Application.Read.All"]
    with sim.http(token) as gh:
        assert gh.get(f"/v1.0/servicePrincipals/{me}").status_code == 200
        # reading is not granting: this app may not grant itself more
        assert_denied(gh.post(f"/v1.0/servicePrincipals/{me}/appRoleAssignments", json={
            "principalId": me, "resourceId": graph_sp, "appRoleId": APP_ROLE_ASSIGNMENT_READWRITE_ALL}))
        assert_denied(gh.delete(f"/v1.0/servicePrincipals/{me}/appRoleAssignments/{grant['id']}"))

    with sim.http(sim.token(GRAPH)) as gh:
        r = gh.delete(f"/v1.0/servicePrincipals/{me}/appRoleAssignments/{grant['id']}")
        assert r.status_code == 204 and r.content == b"" and r.headers["request-id"]
        assert gh.get(f"/v1.0/servicePrincipals/{me}/appRoleAssignments").json()["value"] == []
        again = gh.delete(f"/v1.0/servicePrincipals/{me}/appRoleAssignments/{grant['id']}")
        assert again.status_code == 404 and again.json()["error"]["code"] == "Request_ResourceNotFound"
    assert "roles" not in claims(app_token(sim, app))


def test_granting_from_the_resource_end(sim: Sim, app: dict[str, Any]) -> None:
    graph_sp = graph_principal(sim)["id"]
    me = app["servicePrincipalObjectId"]
    r = assign(sim, me, graph_sp, APP_ROLE_ASSIGNMENT_READWRITE_ALL, via="appRoleAssignedTo")
    assert r.status_code == 201, r.text
    assert r.json()["@odata.context"].endswith("/v1.0/$metadata#appRoleAssignments/$entity")
    # granting also reads the objects it links: AppRoleAssignment.ReadWrite.All alone is not enough
    token = app_token(sim, app)
    assert claims(token)["roles"] == ["AppRoleAssignment.ReadWrite.All"]
    assert_denied(assign(sim, me, graph_sp, APPLICATION_READ_ALL, token=token))
    with sim.http(token) as gh:
        assert_denied(gh.get(f"/v1.0/servicePrincipals/{me}/appRoleAssignments"))
    assert assign(sim, me, graph_sp, "7ab1d382-f21e-4acd-a863-ba3e13f7da61").status_code == 201  # Directory.Read.All
    token = app_token(sim, app)
    # now this app may grant, to itself, from its own end
    assert assign(sim, me, graph_sp, APPLICATION_READ_ALL, token=token).status_code == 201
    assert claims(app_token(sim, app))["roles"] == ["AppRoleAssignment.ReadWrite.All", "Application.Read.All",
                                                    "Directory.Read.All"]
    with sim.http(sim.token(GRAPH)) as gh:  # revoked from the resource's end
        r = gh.delete(f"/v1.0/servicePrincipals/{graph_sp}/appRoleAssignedTo/{r.json()['id']}")
        assert r.status_code == 204
    assert claims(app_token(sim, app))["roles"] == ["Application.Read.All", "Directory.Read.All"]


def test_graph_refuses_bad_grants(sim: Sim, app: dict[str, Any]) -> None:
    graph_sp = graph_principal(sim)["id"]
    me = app["servicePrincipalObjectId"]

    def refused(r: httpx.Response, status: int, code: str, words: str) -> None:
        assert r.status_code == status, r.text
        assert r.json()["error"]["code"] == code and words in r.json()["error"]["message"], r.text

    assert assign(sim, me, graph_sp, APPLICATION_READ_ALL).status_code == 201
    refused(assign(sim, me, graph_sp, APPLICATION_READ_ALL), 400, "Request_BadRequest",
            "Permission being assigned already exists on the object")
    refused(assign(sim, me, graph_sp, str(uuid.uuid4())), 400, "Request_BadRequest",
            f"Permission being assigned was not found on application '{GRAPH_APP_ID}'")
    # an app with no app roles of its own: nothing can be assigned on it
    refused(assign(sim, me, me, APPLICATION_READ_ALL), 400, "Request_BadRequest",
            f"Permission being assigned was not found on application '{app['appId']}'")
    other = str(uuid.uuid4())
    refused(assign(sim, other, graph_sp, APPLICATION_READ_ALL, at=me), 400, "Request_BadRequest", "principalId")
    refused(assign(sim, other, graph_sp, APPLICATION_READ_ALL, at=me, via="appRoleAssignedTo"), 400,
            "Request_BadRequest", "resourceId")
    refused(assign(sim, other, graph_sp, APPLICATION_READ_ALL), 404, "Request_ResourceNotFound", other)  # the URL's
    refused(assign(sim, me, other, APPLICATION_READ_ALL), 400, "Request_BadRequest", "Not a valid reference update.")
    refused(assign(sim, me, graph_sp, "not-a-guid"), 400, "Request_BadRequest", "appRoleId")
    with sim.http(sim.token(GRAPH)) as gh:
        refused(gh.post(f"/v1.0/servicePrincipals/{me}/appRoleAssignments", json={"principalId": me}), 400,
                "Request_BadRequest", "resourceId")
        refused(gh.post(f"/v1.0/servicePrincipals/{me}/appRoleAssignments", content=b"{nope",
                        headers={"content-type": "application/json"}), 400, "BadRequest", "JSON")
        refused(gh.patch(f"/v1.0/servicePrincipals/{me}/appRoleAssignments/x", json={}), 400, "Request_BadRequest",
                "does not simulate")
        refused(gh.get(f"/v1.0/servicePrincipals/{me}/appRoleAssignments/nope"), 404, "Request_ResourceNotFound",
                "nope")
        held = gh.get(f"/v1.0/servicePrincipals/{me}/appRoleAssignments").json()["value"]
    assert [a["appRoleId"] for a in held] == [APPLICATION_READ_ALL]  # nothing refused was written


def test_the_same_grant_at_once_is_made_once(sim: Sim, app: dict[str, Any]) -> None:
    graph_sp = graph_principal(sim)["id"]
    me = app["servicePrincipalObjectId"]
    token = sim.token(GRAPH)
    answers: list[int] = []
    start = threading.Barrier(6)

    def grant() -> None:
        start.wait()
        answers.append(assign(sim, me, graph_sp, APPLICATION_READ_ALL, token=token).status_code)

    threads = [threading.Thread(target=grant) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [201, 400, 400, 400, 400, 400]
    with sim.http(token) as gh:
        assert len(gh.get(f"/v1.0/servicePrincipals/{me}/appRoleAssignments").json()["value"]) == 1


def test_migration_0011_gives_every_tenant_graphs_principal(tmp_path: Path) -> None:
    url = fresh_database_url() or f"sqlite:///{tmp_path / 'm.db'}"
    command.upgrade(alembic_config(url), "0010")
    engine = make_engine(url)
    tenants, boot_sp = [str(uuid.uuid4()), str(uuid.uuid4())], str(uuid.uuid4())
    try:
        with engine.begin() as conn:
            conn.execute(Tenant.__table__.insert(), [
                {"id": t, "display_name": "t", "default_domain": f"{t}.example", "created_at": 0.0} for t in tenants])
            conn.execute(ServicePrincipal.__table__.insert().values(
                object_id=boot_sp, app_id="boot-app", tenant_id=tenants[0], display_name="deployer",
                service_principal_type="Application", alternative_names=[], service_principal_names=[],
                application_object_id=None, resource_key=None, created_at=0.0))
            conn.execute(Bootstrap.__table__.insert().values(
                id=1, tenant_id=tenants[0], subscription_id=str(uuid.uuid4()), client_id="boot-app",
                client_secret="s", created_at=0.0))
            conn.execute(GraphAppRoleAssignment.__table__.insert().values(  # as 0010 left it
                id=str(uuid.uuid4()), tenant_id=tenants[0], principal_id=boot_sp, app_role_id=APPLICATION_READ_ALL,
                created_at=0.0))
        upgrade(url)
        with engine.connect() as conn:
            graph = {r.tenant_id: r.object_id for r in conn.execute(
                select(ServicePrincipal.__table__).where(ServicePrincipal.__table__.c.app_id == GRAPH_APP_ID))}
            grants = conn.execute(select(GraphAppRoleAssignment.__table__)).all()
        assert set(graph) == set(tenants) and len(set(graph.values())) == 2
        assert {(g.principal_id, g.resource_id, g.app_role_id) for g in grants} == {
            (boot_sp, graph[tenants[0]], APPLICATION_READ_ALL),
            (boot_sp, graph[tenants[0]], APP_ROLE_ASSIGNMENT_READWRITE_ALL),
            # 0015: Application.ReadWrite.All and User.ReadWrite.All (Graph writes: az ad app/sp/user create)
            (boot_sp, graph[tenants[0]], "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9"),
            (boot_sp, graph[tenants[0]], "741f803b-c850-494e-b5df-cde7c675a1ca")}
        command.downgrade(alembic_config(url), "0010")
        with engine.connect() as conn:
            assert conn.execute(select(ServicePrincipal.__table__.c.object_id)).scalars().all() == [boot_sp]
    finally:
        engine.dispose()
