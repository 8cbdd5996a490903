"""The real Azure CLI and Microsoft Graph writes: `az ad app`, `az ad sp` (create, show, list, delete,
create-for-rbac) and `az ad user`, signed in as the deployer (which holds Application.ReadWrite.All and
User.ReadWrite.All, as a tenant's administrator would grant a deployment principal).

az is slow to start, so each test does one flow end to end and checks the server's state over REST.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.azcli import AzCli, logged_in, require_az
from tests.simserver import Sim

AZ = require_az()

pytestmark = pytest.mark.azcli

RG_API = "2024-11-01"
AUTH_API = "2022-04-01"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
GRAPH = "https://graph.microsoft.com/.default"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def az(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> AzCli:
    return logged_in(sim, tmp_path_factory.mktemp("azcfg-ad"), AZ)


@pytest.fixture(scope="module")
def gh(sim: Sim) -> Iterator[httpx.Client]:
    with sim.http(sim.token(GRAPH)) as client:
        yield client


@pytest.fixture(scope="module")
def rg_id(sim: Sim, arm: httpx.Client) -> Iterator[str]:
    path = f"/subscriptions/{sim.subscription}/resourceGroups/{unique('azad-')}"
    r = arm.put(path, params={"api-version": RG_API}, json={"location": "eastus"})
    assert r.status_code == 201, r.text
    yield path
    arm.delete(path, params={"api-version": RG_API})


def assignments(arm: httpx.Client, scope: str, principal: str) -> list[dict[str, object]]:
    r = arm.get(f"{scope}/providers/Microsoft.Authorization/roleAssignments",
                params={"api-version": AUTH_API, "$filter": f"principalId eq '{principal}'"})
    assert r.status_code == 200, r.text
    return list(r.json()["value"])


def test_app_and_service_principal_lifecycle(az: AzCli, gh: httpx.Client) -> None:
    name = unique("azad-app-")
    app = az.json("ad", "app", "create", "--display-name", name, "--identifier-uris", f"api://{name}")
    assert app["displayName"] == name and app["identifierUris"] == [f"api://{name}"]
    app_id = app["appId"]
    assert az.json("ad", "app", "show", "--id", app_id)["id"] == app["id"]
    assert [a["appId"] for a in az.json("ad", "app", "list", "--display-name", name)] == [app_id]
    # az ad app create again patches the app of that name rather than making a second one
    assert az.json("ad", "app", "create", "--display-name", name)["id"] == app["id"]

    sp = az.json("ad", "sp", "create", "--id", app_id)
    assert sp["appId"] == app_id and sp["servicePrincipalType"] == "Application"
    assert sp["servicePrincipalNames"] == [app_id, f"api://{name}"]
    assert az.json("ad", "sp", "show", "--id", app_id)["id"] == sp["id"]
    assert [s["id"] for s in az.json("ad", "sp", "list", "--display-name", name)] == [sp["id"]]
    assert gh.get(f"/v1.0/servicePrincipals/{sp['id']}").status_code == 200

    assert az.json("ad", "sp", "delete", "--id", app_id) is None
    assert gh.get(f"/v1.0/servicePrincipals/{sp['id']}").status_code == 404
    assert az.fails("ad", "sp", "show", "--id", app_id).returncode != 0
    assert gh.get(f"/v1.0/applications/{app['id']}").status_code == 200  # the app stays

    assert az.json("ad", "app", "delete", "--id", app_id) is None
    assert gh.get(f"/v1.0/applications/{app['id']}").status_code == 404
    assert az.fails("ad", "app", "show", "--id", app_id).returncode == 3  # az's "resource not found"


def test_create_for_rbac_then_sign_in_as_it(az: AzCli, sim: Sim, arm: httpx.Client, gh: httpx.Client,
                                            rg_id: str, tmp_path: Path) -> None:
    name = unique("azad-rbac-")
    out = az.json("ad", "sp", "create-for-rbac", "--name", name, "--role", "Reader", "--scopes", rg_id)
    assert out["displayName"] == name and out["tenant"] == sim.tenant and out["password"]
    [sp] = gh.get("/v1.0/servicePrincipals", params={"$filter": f"appId eq '{out['appId']}'"}).json()["value"]
    [app] = gh.get("/v1.0/applications", params={"$filter": f"appId eq '{out['appId']}'"}).json()["value"]
    assert [c["displayName"] for c in app["passwordCredentials"]] == ["rbac"]
    [assignment] = assignments(arm, rg_id, sp["id"])
    props = assignment["properties"]
    assert isinstance(props, dict) and props["principalType"] == "ServicePrincipal"
    assert str(props["roleDefinitionId"]).lower().endswith(READER)

    # the new principal signs in with the password az printed, and reads (only) what Reader allows
    other = AzCli(sim, tmp_path / "azcfg-rbac-sp", executable=AZ)
    other.configure()
    other.json("login", "--service-principal", "-u", out["appId"], "-p", out["password"], "--tenant", sim.tenant)
    group = rg_id.rsplit("/", 1)[1]
    assert other.json("group", "show", "-n", group)["id"].lower() == rg_id.lower()
    denied = other.fails("group", "update", "-n", group, "--tags", "a=b")
    assert "AuthorizationFailed" in denied.stderr

    # create-for-rbac with the same name again resets the password of the same application
    again = az.json("ad", "sp", "create-for-rbac", "--name", name)
    assert again["appId"] == out["appId"] and again["password"] != out["password"]
    assert az.json("ad", "app", "delete", "--id", out["appId"]) is None
    assert gh.get(f"/v1.0/servicePrincipals/{sp['id']}").status_code == 404
    assert assignments(arm, rg_id, sp["id"]) != []  # the grant stays behind, an orphan


def test_user_create_show_assign_delete(az: AzCli, sim: Sim, arm: httpx.Client, gh: httpx.Client,
                                        rg_id: str) -> None:
    domain = az.json("ad", "app", "create", "--display-name", unique("azad-dom-"))["publisherDomain"]
    upn = f"{unique('azuser')}@{domain}"
    user = az.json("ad", "user", "create", "--display-name", "tester123", "--password", "Test123456789",
                   "--user-principal-name", upn)
    assert user["userPrincipalName"] == upn and user["displayName"] == "tester123"
    assert az.json("ad", "user", "show", "--id", upn)["id"] == user["id"]
    refused = az.fails("ad", "user", "create", "--display-name", "x", "--password", "Test123456789",
                       "--user-principal-name", f"{unique('azuser')}@contoso.com")
    assert "verified domain" in refused.stderr

    created = az.json("role", "assignment", "create", "--assignee", upn, "--role", "Reader", "--scope", rg_id)
    assert created["principalId"] == user["id"] and created["principalType"] == "User"

    assert az.json("ad", "user", "delete", "--id", upn) is None
    assert gh.get(f"/v1.0/users/{user['id']}").status_code == 404
    assert az.json("role", "assignment", "delete", "--ids", created["id"]) is None
