"""Graph app-only reads need application permissions: the `roles` claim of the token decides, as in Azure."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
from alembic import command
from sqlalchemy import select

from arm_sim.db.engine import make_engine
from arm_sim.db.migrate import alembic_config
from arm_sim.db.models import Bootstrap, GraphAppRoleAssignment, ServicePrincipal, Tenant
from tests.simserver import Sim, fresh_database_url
from tests.test_imds import endpoint
from tests.webspec import plan

GRAPH = "https://graph.microsoft.com/.default"
ARM = "https://management.azure.com/.default"
WEB_API = "2024-04-01"


def claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def app_token(sim: Sim, app: dict[str, Any], scope: str = GRAPH) -> str:
    r = httpx.post(f"{sim.url}/{sim.tenant}/oauth2/v2.0/token", verify=sim.ca, data={
        "grant_type": "client_credentials", "client_id": app["appId"], "client_secret": app["clientSecret"],
        "scope": scope})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def assert_denied(r: httpx.Response) -> None:
    assert r.status_code == 403, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "innerError"}
    assert body["error"]["code"] == "Authorization_RequestDenied"
    assert body["error"]["message"] == "Insufficient privileges to complete the operation."
    inner = body["error"]["innerError"]
    assert set(inner) == {"date", "request-id", "client-request-id"}
    assert inner["request-id"] == r.headers["request-id"]


def grant(sim: Sim, app_id: str, *permissions: str, token: str | None = None) -> httpx.Response:
    with sim.http(token) as arm:
        return arm.post(f"/_sim/applications/{app_id}/graphPermissions", json={"permissions": list(permissions)})


def test_an_app_without_permissions_is_refused_then_granted_reads(sim: Sim, app: dict[str, Any]) -> None:
    token = app_token(sim, app)
    assert "roles" not in claims(token)
    with sim.http(token) as graph:
        for path in ("/v1.0/servicePrincipals", "/v1.0/applications",
                     f"/v1.0/servicePrincipals/{app['servicePrincipalObjectId']}",
                     f"/v1.0/servicePrincipals(appId='{app['appId']}')",
                     f"/v1.0/applications/{app['applicationObjectId']}"):
            assert_denied(graph.get(path))
        me = graph.get("/v1.0/me")  # unchanged: /me is refused for app-only tokens whatever they hold
        assert me.status_code == 400 and me.json()["error"]["code"] == "BadRequest"
        assert_denied(graph.get(f"/v1.0/servicePrincipals/{app['servicePrincipalObjectId']}/appRoleAssignments"))
        # and so are the paths arm-sim does not simulate
        other = graph.get(f"/v1.0/servicePrincipals/{app['servicePrincipalObjectId']}/oauth2PermissionGrants")
        assert other.status_code == 400 and other.json()["error"]["code"] == "BadRequest"

    r = grant(sim, app["appId"], "Application.Read.All")
    assert r.status_code == 200, r.text
    assert r.json()["permissions"] == ["Application.Read.All"]
    with sim.http(token) as graph:  # the old token still carries no roles
        assert_denied(graph.get("/v1.0/servicePrincipals"))

    token = app_token(sim, app)
    assert claims(token)["roles"] == ["Application.Read.All"]
    with sim.http(token) as graph:
        r = graph.get("/v1.0/servicePrincipals", params={"$filter": f"appId eq '{app['appId']}'"})
        assert r.status_code == 200 and [sp["id"] for sp in r.json()["value"]] == [app["servicePrincipalObjectId"]]
        assert graph.get("/v1.0/applications").status_code == 200
        assert graph.get(f"/v1.0/applications/{app['applicationObjectId']}").json()["appId"] == app["appId"]

    # tokens for other audiences are unchanged
    assert "roles" not in claims(app_token(sim, app, ARM))


def test_granting_is_idempotent_validated_and_bootstrap_only(sim: Sim, app: dict[str, Any]) -> None:
    assert grant(sim, app["appId"], "Directory.Read.All").json()["permissions"] == ["Directory.Read.All"]
    r = grant(sim, app["appId"], "Directory.Read.All", "Application.ReadWrite.All")
    assert r.json()["permissions"] == ["Application.ReadWrite.All", "Directory.Read.All"]
    assert claims(app_token(sim, app))["roles"] == ["Application.ReadWrite.All", "Directory.Read.All"]
    assert grant(sim, app["appId"], "Mail.Send").status_code == 400
    assert grant(sim, str(uuid.uuid4()), "Directory.Read.All").status_code == 404
    with sim.http() as arm:
        assert arm.post(f"/_sim/applications/{app['appId']}/graphPermissions", json={}).status_code == 400

    other = app_token(sim, app, ARM)  # even an app that may read the directory may not grant
    r = grant(sim, app["appId"], "Directory.ReadWrite.All", token=other)
    assert r.status_code == 403 and r.json()["error"]["code"] == "AuthorizationFailed"


def test_the_bootstrap_principal_reads_as_before(sim: Sim) -> None:
    token = sim.token(GRAPH)
    held = ["AppRoleAssignment.ReadWrite.All", "Application.Read.All", "Application.ReadWrite.All",
            "Directory.Read.All", "User.ReadWrite.All"]
    assert claims(token)["roles"] == held
    with sim.http(token) as graph:
        r = graph.get("/v1.0/servicePrincipals", params={"$filter": f"appId eq '{sim.client_id}'"})
        assert r.status_code == 200 and r.json()["value"][0]["appId"] == sim.client_id
    # the simulator's own URL is a Graph audience too (the Azure CLI uses it)
    assert claims(sim.token(f"{sim.url}/.default"))["roles"] == held
    assert "roles" not in claims(sim.token(ARM))


def test_a_managed_identity_needs_a_grant_too(sim: Sim) -> None:
    rg = f"rg-gp-{uuid.uuid4().hex[:8]}"
    with sim.http() as arm:
        sub = f"/subscriptions/{sim.subscription}"
        assert arm.put(f"{sub}/resourcegroups/{rg}", params={"api-version": "2025-04-01"},
                       json={"location": "westeurope"}).status_code == 201
        r = arm.put(f"{sub}/resourceGroups/{rg}/providers/Microsoft.Web/sites/app-{uuid.uuid4().hex[:8]}",
                    params={"api-version": WEB_API},
                    json={"location": "westeurope", "kind": "app",
                          "properties": {"serverFarmId": plan(arm, f"{sub}/resourceGroups/{rg}")},
                          "identity": {"type": "SystemAssigned"}})
        assert r.status_code in (200, 201), r.text
        site = r.json()
    ep = endpoint(sim, site["id"])

    def mi_token(resource: str) -> str:
        r = httpx.get(ep["endpoint"], params={"api-version": "2019-08-01", "resource": resource},
                      headers={"X-IDENTITY-HEADER": ep["header"]})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    token = mi_token("https://graph.microsoft.com")
    assert "roles" not in claims(token)
    with sim.http(token) as graph:
        assert_denied(graph.get("/v1.0/servicePrincipals"))
        assert_denied(graph.get(f"/v1.0/servicePrincipals/{site['identity']['principalId']}"))

    client_id = claims(token)["appid"]
    assert grant(sim, client_id, "Application.Read.All").status_code == 200
    # IMDS caches tokens per resource as Azure's does; another spelling of Graph's resource gets a new one
    token = mi_token("https://graph.microsoft.com/")
    assert claims(token)["roles"] == ["Application.Read.All"]
    with sim.http(token) as graph:
        r = graph.get(f"/v1.0/servicePrincipals/{site['identity']['principalId']}")
        assert r.status_code == 200 and r.json()["servicePrincipalType"] == "ManagedIdentity"


def test_migration_0010_grants_the_existing_bootstrap_principal(tmp_path: Path) -> None:
    url = fresh_database_url() or f"sqlite:///{tmp_path / 'm.db'}"
    command.upgrade(alembic_config(url), "0009")
    engine = make_engine(url)
    boot_sp, other_sp = str(uuid.uuid4()), str(uuid.uuid4())
    tenant = str(uuid.uuid4())
    try:
        with engine.begin() as conn:
            conn.execute(Tenant.__table__.insert().values(id=tenant, display_name="t", default_domain="t.example",
                                                          created_at=0.0))
            conn.execute(ServicePrincipal.__table__.insert(), [
                {"object_id": oid, "app_id": app_id, "tenant_id": tenant, "display_name": name,
                 "service_principal_type": "Application", "alternative_names": [], "service_principal_names": [],
                 "application_object_id": None, "resource_key": None, "created_at": 0.0}
                for oid, app_id, name in ((boot_sp, "boot-app", "deployer"), (other_sp, "other-app", "other"))])
            conn.execute(Bootstrap.__table__.insert().values(
                id=1, tenant_id=tenant, subscription_id=str(uuid.uuid4()), client_id="boot-app", client_secret="s",
                created_at=0.0))
        command.upgrade(alembic_config(url), "0010")
        with engine.connect() as conn:
            rows = conn.execute(select(GraphAppRoleAssignment.__table__.c.principal_id,
                                       GraphAppRoleAssignment.__table__.c.app_role_id,
                                       GraphAppRoleAssignment.__table__.c.tenant_id)).all()
        assert {(r.principal_id, r.app_role_id, r.tenant_id) for r in rows} == {
            (boot_sp, "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30", tenant),
            (boot_sp, "7ab1d382-f21e-4acd-a863-ba3e13f7da61", tenant)}
        command.downgrade(alembic_config(url), "0009")
    finally:
        engine.dispose()
