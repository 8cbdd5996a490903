"""Microsoft Graph writes against a live simulator: applications (create, change, delete, addPassword,
removePassword), service principals made from an appId, users; their refusals, and who may make them."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from tests.simserver import Sim
from tests.test_graph_permissions import app_token, assert_denied, grant
from tests.test_imds import endpoint
from tests.webspec import plan

GRAPH = "https://graph.microsoft.com/.default"
WEB_API = "2024-04-01"
MI_API = "2023-01-31"
RG_API = "2025-04-01"


@pytest.fixture(scope="module")
def gh(sim: Sim) -> Iterator[httpx.Client]:
    with sim.http(sim.token(GRAPH)) as client:
        yield client


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def graph_error(r: httpx.Response, status: int, code: str, contains: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code, err
    assert contains is None or contains in err["message"], err
    assert set(err["innerError"]) == {"date", "request-id", "client-request-id"}
    return dict(err)


def secret_token(sim: Sim, app_id: str, secret: str) -> httpx.Response:
    return httpx.post(f"{sim.url}/{sim.tenant}/oauth2/v2.0/token", verify=sim.ca, data={
        "grant_type": "client_credentials", "client_id": app_id, "client_secret": secret,
        "scope": "https://management.azure.com/.default"})


def create_app(gh: httpx.Client, **body: Any) -> dict[str, Any]:
    r = gh.post("/v1.0/applications", json={"displayName": unique("gw-app-"), **body})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_application_lifecycle_with_a_secret_and_a_service_principal(gh: httpx.Client, sim: Sim) -> None:
    name = unique("gw-life-")
    r = gh.post("/v1.0/applications", json={"displayName": name, "identifierUris": [f"api://{name}"],
                                            "keyCredentials": []})
    assert r.status_code == 201, r.text
    app = r.json()
    assert app["@odata.context"] == f"{sim.url}/v1.0/$metadata#applications/$entity"
    assert app["displayName"] == name and app["identifierUris"] == [f"api://{name}"]
    assert app["signInAudience"] == "AzureADandPersonalMicrosoftAccount"  # Graph's default, as recorded
    assert app["api"]["requestedAccessTokenVersion"] == 2 and app["api"]["oauth2PermissionScopes"] == []
    assert app["passwordCredentials"] == app["keyCredentials"] == [] and app["publisherDomain"].endswith(
        ".onmicrosoft.com")
    uuid.UUID(app["appId"]), uuid.UUID(app["id"])
    # reads: by id, by appId, and the filters az uses
    assert gh.get(f"/v1.0/applications/{app['id']}").json()["appId"] == app["appId"]
    assert gh.get(f"/v1.0/applications(appId='{app['appId']}')").json()["id"] == app["id"]
    for flt in (f"startswith(displayName,'{name}')", f"appId eq '{app['appId']}'",
                f"identifierUris/any(s:s eq 'api://{name}')"):
        found = gh.get("/v1.0/applications", params={"$filter": flt}).json()["value"]
        assert [a["id"] for a in found] == [app["id"]], flt
    # no service principal yet: Graph's POST /applications makes none
    assert gh.get("/v1.0/servicePrincipals", params={"$filter": f"appId eq '{app['appId']}'"}).json()["value"] == []

    r = gh.post(f"/v1.0/applications/{app['id']}/addPassword", json={"passwordCredential": {"displayName": "rbac"}})
    assert r.status_code == 200, r.text
    cred = r.json()
    assert cred["@odata.context"].endswith("$metadata#microsoft.graph.passwordCredential")
    secret = cred["secretText"]
    assert isinstance(secret, str) and cred["hint"] == secret[:3]
    # Entra's form (never a leading '-', which `az login -p` would read as an option)
    assert re.fullmatch(r"[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{34}", secret), secret
    assert cred["displayName"] == "rbac" and uuid.UUID(cred["keyId"])
    shown = gh.get(f"/v1.0/applications/{app['id']}").json()["passwordCredentials"]
    assert [(c["keyId"], c["secretText"], c["hint"]) for c in shown] == [(cred["keyId"], None, secret[:3])]
    # an app without a service principal cannot sign in
    assert secret_token(sim, app["appId"], secret).status_code == 400

    r = gh.post("/v1.0/servicePrincipals", json={"appId": app["appId"], "accountEnabled": True})
    assert r.status_code == 201, r.text
    sp = r.json()
    assert sp["@odata.context"] == f"{sim.url}/v1.0/$metadata#servicePrincipals/$entity"
    assert sp["appId"] == app["appId"] and sp["displayName"] == sp["appDisplayName"] == name
    assert sp["servicePrincipalNames"] == [app["appId"], f"api://{name}"]
    assert sp["servicePrincipalType"] == "Application" and sp["appOwnerOrganizationId"] == sim.tenant
    by_spn = gh.get("/v1.0/servicePrincipals",
                    params={"$filter": f"servicePrincipalNames/any(c:c eq '{app['appId']}')"}).json()["value"]
    assert [s["id"] for s in by_spn] == [sp["id"]]
    graph_error(gh.post("/v1.0/servicePrincipals", json={"appId": app["appId"]}), 409,
                "Request_MultipleObjectsWithSameKeyValue", "servicePrincipalNames")

    # the secret from addPassword signs the new principal in at arm-sim's token endpoint
    r = secret_token(sim, app["appId"], secret)
    assert r.status_code == 200, r.text
    assert jwt.decode(r.json()["access_token"], options={"verify_signature": False})["oid"] == sp["id"]

    r = gh.post(f"/v1.0/applications/{app['id']}/removePassword", json={"keyId": cred["keyId"]})
    assert r.status_code == 204, r.text
    assert gh.get(f"/v1.0/applications/{app['id']}").json()["passwordCredentials"] == []
    assert secret_token(sim, app["appId"], secret).status_code == 401
    graph_error(gh.post(f"/v1.0/applications/{app['id']}/removePassword", json={"keyId": cred["keyId"]}), 404,
                "Request_ResourceNotFound")

    # deleting the service principal leaves the application; a new principal can be made from it
    assert gh.delete(f"/v1.0/servicePrincipals/{sp['id']}").status_code == 204
    graph_error(gh.get(f"/v1.0/servicePrincipals/{sp['id']}"), 404, "Request_ResourceNotFound")
    assert gh.get(f"/v1.0/applications/{app['id']}").status_code == 200
    again = gh.post("/v1.0/servicePrincipals", json={"appId": app["appId"]}).json()
    assert again["id"] != sp["id"]

    # deleting the application deletes its service principal too
    assert gh.delete(f"/v1.0/applications/{app['id']}").status_code == 204
    graph_error(gh.get(f"/v1.0/applications/{app['id']}"), 404, "Request_ResourceNotFound", app["id"])
    graph_error(gh.get(f"/v1.0/servicePrincipals/{again['id']}"), 404, "Request_ResourceNotFound")
    graph_error(gh.delete(f"/v1.0/applications/{app['id']}"), 404, "Request_ResourceNotFound")


def test_patch_application_and_service_principal(gh: httpx.Client) -> None:
    app = create_app(gh, signInAudience="AzureADMyOrg")
    assert app["signInAudience"] == "AzureADMyOrg" and app["api"]["requestedAccessTokenVersion"] is None
    new_name = unique("gw-renamed-")
    r = gh.patch(f"/v1.0/applications(appId='{app['appId']}')", json={
        "displayName": new_name, "tags": ["a", "b"], "web": {"redirectUris": ["https://localhost/cb"]},
        "identifierUris": [f"api://{app['appId']}"]})
    assert r.status_code == 204, r.text
    got = gh.get(f"/v1.0/applications/{app['id']}").json()
    assert got["displayName"] == new_name and got["tags"] == ["a", "b"]
    assert got["web"]["redirectUris"] == ["https://localhost/cb"]
    assert got["web"]["implicitGrantSettings"] == {"enableAccessTokenIssuance": False,
                                                   "enableIdTokenIssuance": False}  # merged, not replaced
    sp = gh.post("/v1.0/servicePrincipals", json={"appId": app["appId"], "tags": ["x"]}).json()
    assert sp["tags"] == ["x"] and sp["servicePrincipalNames"] == [app["appId"], f"api://{app['appId']}"]
    assert gh.patch(f"/v1.0/servicePrincipals/{sp['id']}", json={"notes": "n", "tags": []}).status_code == 204
    got_sp = gh.get(f"/v1.0/servicePrincipals/{sp['id']}").json()
    assert got_sp["notes"] == "n" and got_sp["tags"] == []
    assert gh.delete(f"/v1.0/applications/{app['id']}").status_code == 204


def test_bad_input_is_refused_in_graphs_envelope_and_writes_nothing(gh: httpx.Client, sim: Sim) -> None:
    name = unique("gw-bad-")
    graph_error(gh.post("/v1.0/applications", content=b"{nope", headers={"content-type": "application/json"}),
                400, "BadRequest", "JSON")
    graph_error(gh.post("/v1.0/applications", json=[]), 400, "Request_BadRequest")
    graph_error(gh.post("/v1.0/applications", json={}), 400, "Request_BadRequest", "displayName")
    graph_error(gh.post("/v1.0/applications", json={"displayName": 5}), 400, "Request_BadRequest", "displayName")
    graph_error(gh.post("/v1.0/applications", json={"displayName": name, "nope": 1}), 400, "Request_BadRequest",
                "'nope'")
    graph_error(gh.post("/v1.0/applications", json={"displayName": name, "tags": "x"}), 400, "Request_BadRequest",
                "tags")
    graph_error(gh.post("/v1.0/applications", json={"displayName": name, "signInAudience": "Everyone"}), 400,
                "Request_BadRequest", "signInAudience")
    graph_error(gh.post("/v1.0/applications", json={"displayName": name, "identifierUris": ["https://example.com"]}),
                400, "Request_BadRequest", "verified domain")
    graph_error(gh.post("/v1.0/applications", json={"displayName": name, "identifierUris": ["no-scheme"]}),
                400, "Request_BadRequest", "identifierUris")
    graph_error(gh.post("/v1.0/applications", json={"displayName": name, "identifierUris": ["https://[::1"]}),
                400, "Request_BadRequest", "identifierUris")  # (no URL at all: an unclosed IPv6 bracket)
    graph_error(gh.post("/v1.0/applications", json={"displayName": name, "passwordCredentials": [{}]}), 400,
                "Request_BadRequest", "passwordCredentials")
    graph_error(gh.post("/v1.0/applications", json={"displayName": name, "keyCredentials": [{"key": "bm9wZQ=="}]}),
                400, "Request_BadRequest", "certificate")
    assert gh.get("/v1.0/applications", params={"$filter": f"startswith(displayName,'{name}')"}).json()["value"] == []

    taken = create_app(gh, identifierUris=[f"api://{name}"])
    graph_error(gh.post("/v1.0/applications", json={"displayName": name, "identifierUris": [f"api://{name}"]}),
                400, "Request_BadRequest", "identifierUris already exists")
    graph_error(gh.patch(f"/v1.0/applications/{taken['id']}", json={"tags": ["ok"], "signInAudience": 1}), 400,
                "Request_BadRequest", "signInAudience")
    assert gh.get(f"/v1.0/applications/{taken['id']}").json()["tags"] == []  # nothing of the refused PATCH
    graph_error(gh.post(f"/v1.0/applications/{taken['id']}/addPassword", json={"passwordCredential": {
        "startDateTime": "2030-01-01T00:00:00Z", "endDateTime": "2029-01-01T00:00:00Z"}}), 400,
        "Request_BadRequest", "endDateTime")
    graph_error(gh.post(f"/v1.0/applications/{taken['id']}/addPassword", json={"passwordCredential": {
        "endDateTime": "soon"}}), 400, "Request_BadRequest", "endDateTime")
    graph_error(gh.post(f"/v1.0/applications/{taken['id']}/removePassword", json={"keyId": "x"}), 400,
                "Request_BadRequest", "keyId")
    assert gh.get(f"/v1.0/applications/{taken['id']}").json()["passwordCredentials"] == []
    graph_error(gh.patch(f"/v1.0/applications/{uuid.uuid4()}", json={"tags": []}), 404, "Request_ResourceNotFound")
    graph_error(gh.patch("/v1.0/applications/not-a-guid", json={"tags": []}), 400, "Request_BadRequest")

    missing = str(uuid.uuid4())
    graph_error(gh.post("/v1.0/servicePrincipals", json={"appId": missing}), 400, "Request_BadRequest",
                f"The appId '{missing}' of the service principal does not reference a valid application object.")
    graph_error(gh.post("/v1.0/servicePrincipals", json={"appId": "nope"}), 400, "Request_BadRequest", "appId")
    graph_error(gh.post("/v1.0/servicePrincipals", json={}), 400, "Request_BadRequest", "appId")
    graph_error(gh.delete(f"/v1.0/servicePrincipals/{missing}"), 404, "Request_ResourceNotFound", missing)
    graph_error(gh.put("/v1.0/applications", json={}), 400, "BadRequest", "arm-sim")
    assert gh.delete(f"/v1.0/applications/{taken['id']}").status_code == 204


def _uai(sim: Sim) -> dict[str, Any]:
    rg = f"/subscriptions/{sim.subscription}/resourcegroups/{unique('rg-gw-')}"
    with sim.http() as arm:
        assert arm.put(rg, params={"api-version": RG_API}, json={"location": "westeurope"}).status_code == 201
        r = arm.put(f"{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{unique('id-')}",
                    params={"api-version": MI_API}, json={"location": "westeurope"})
        assert r.status_code in (200, 201), r.text
        return dict(r.json())


def test_managed_identity_principals_are_not_deleted_through_graph(gh: httpx.Client, sim: Sim) -> None:
    identity = _uai(sim)
    principal = identity["properties"]["principalId"]
    graph_error(gh.delete(f"/v1.0/servicePrincipals/{principal}"), 400, "Request_BadRequest", "managed identity")
    graph_error(gh.patch(f"/v1.0/servicePrincipals/{principal}", json={"notes": "x"}), 400, "Request_BadRequest")
    assert gh.get(f"/v1.0/servicePrincipals/{principal}").json()["servicePrincipalType"] == "ManagedIdentity"
    # nor is a managed identity's appId an application a principal can be made from
    graph_error(gh.post("/v1.0/servicePrincipals", json={"appId": identity["properties"]["clientId"]}), 409,
                "Request_MultipleObjectsWithSameKeyValue")


def test_app_only_callers_need_write_permissions(sim: Sim, app: dict[str, Any], gh: httpx.Client) -> None:
    token = app_token(sim, app)
    target = create_app(gh)
    with sim.http(token) as graph:
        assert_denied(graph.post("/v1.0/applications", json={"displayName": unique("gw-denied-")}))
        assert_denied(graph.post("/v1.0/servicePrincipals", json={"appId": target["appId"]}))
        assert_denied(graph.delete(f"/v1.0/applications/{target['id']}"))
        assert_denied(graph.post(f"/v1.0/applications/{target['id']}/addPassword", json={}))
        assert_denied(graph.post("/v1.0/users", json={}))
    assert grant(sim, app["appId"], "Application.Read.All").status_code == 200
    with sim.http(app_token(sim, app)) as graph:  # reading is not writing
        assert graph.get(f"/v1.0/applications/{target['id']}").status_code == 200
        assert_denied(graph.patch(f"/v1.0/applications/{target['id']}", json={"tags": ["x"]}))
    assert grant(sim, app["appId"], "Application.ReadWrite.All").status_code == 200
    with sim.http(app_token(sim, app)) as graph:
        made = graph.post("/v1.0/applications", json={"displayName": unique("gw-allowed-")})
        assert made.status_code == 201, made.text
        assert graph.post("/v1.0/servicePrincipals", json={"appId": made.json()["appId"]}).status_code == 201
        assert graph.delete(f"/v1.0/applications/{made.json()['id']}").status_code == 204
        assert_denied(graph.post("/v1.0/users", json={}))  # applications only
        # but never the simulator's own administrator (its token opens /_sim): found in review, an app with
        # Application.ReadWrite.All could add a password to it and take the simulator over
        deployer = f"/v1.0/applications(appId='{sim.client_id}')"
        r = graph.post(f"{deployer}/addPassword", json={})
        assert r.status_code == 403 and r.json()["error"]["code"] == "Authorization_RequestDenied", r.text
        assert graph.delete(deployer).status_code == 403
        assert graph.patch(f"/v1.0/servicePrincipals(appId='{sim.client_id}')", json={"tags": ["x"]}
                           ).status_code == 403
    assert gh.delete(f"/v1.0/applications/{target['id']}").status_code == 204
    # and no one deletes it, not even itself (the fuzz's stateful phase once did, and every later call failed)
    assert gh.delete(f"/v1.0/applications(appId='{sim.client_id}')").status_code == 403
    assert gh.delete(f"/v1.0/servicePrincipals(appId='{sim.client_id}')").status_code == 403


def test_a_managed_identity_creates_applications_only_with_a_grant(sim: Sim) -> None:
    rg = f"/subscriptions/{sim.subscription}/resourceGroups/{unique('rg-gwmi-')}"
    with sim.http() as arm:
        assert arm.put(rg, params={"api-version": RG_API}, json={"location": "westeurope"}).status_code == 201
        r = arm.put(f"{rg}/providers/Microsoft.Web/sites/{unique('app-')}", params={"api-version": WEB_API},
                    json={"location": "westeurope", "kind": "app", "properties": {"serverFarmId": plan(arm, rg)},
                          "identity": {"type": "SystemAssigned"}})
        assert r.status_code in (200, 201), r.text
        site = r.json()
    ep = endpoint(sim, site["id"])

    def mi_token(resource: str) -> str:
        r = httpx.get(ep["endpoint"], params={"api-version": "2019-08-01", "resource": resource},
                      headers={"X-IDENTITY-HEADER": ep["header"]})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    with sim.http(mi_token("https://graph.microsoft.com")) as graph:
        assert_denied(graph.post("/v1.0/applications", json={"displayName": unique("gw-mi-")}))
    client_id = jwt.decode(mi_token("https://graph.microsoft.com"), options={"verify_signature": False})["appid"]
    assert grant(sim, client_id, "Application.ReadWrite.All").status_code == 200
    with sim.http(mi_token("https://graph.microsoft.com/")) as graph:  # a new token carries the role
        made = graph.post("/v1.0/applications", json={"displayName": unique("gw-mi-")})
        assert made.status_code == 201, made.text
        # even with the role, its own principal is the resource's to remove
        graph_error(graph.delete(f"/v1.0/servicePrincipals/{site['identity']['principalId']}"), 400,
                    "Request_BadRequest")
        assert graph.delete(f"/v1.0/applications/{made.json()['id']}").status_code == 204


def _domain(gh: httpx.Client) -> str:
    return str(create_app(gh)["publisherDomain"])


def test_user_lifecycle(gh: httpx.Client, sim: Sim) -> None:
    domain = _domain(gh)
    nick = unique("gwuser")
    upn = f"{nick}@{domain}"
    body = {"userPrincipalName": upn, "displayName": "tester123", "mailNickname": nick, "accountEnabled": True,
            "passwordProfile": {"password": "Test123456789", "forceChangePasswordNextSignIn": False}}
    r = gh.post("/v1.0/users", json=body)
    assert r.status_code == 201, r.text
    user = r.json()
    # Graph's default user properties, exactly as recorded for az ad user create
    assert set(user) == {"@odata.context", "id", "businessPhones", "displayName", "givenName", "jobTitle", "mail",
                         "mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName"}
    assert user["@odata.context"] == f"{sim.url}/v1.0/$metadata#users/$entity"
    assert user["userPrincipalName"] == upn and user["displayName"] == "tester123" and user["businessPhones"] == []
    graph_error(gh.post("/v1.0/users", json=body), 400, "Request_BadRequest", "userPrincipalName already exists")

    assert gh.get(f"/v1.0/users/{user['id']}").json()["userPrincipalName"] == upn
    assert gh.get(f"/v1.0/users/{upn}").json()["id"] == user["id"]
    assert gh.get(f"/v1.0/users/{user['id']}", params={"$select": "accountEnabled,mailNickname"}).json()[
        "mailNickname"] == nick
    listed = gh.get("/v1.0/users", params={"$filter": f"userPrincipalName eq '{upn}'"}).json()["value"]
    assert [u["id"] for u in listed] == [user["id"]]
    found = gh.post("/v1.0/directoryObjects/getByIds", json={"ids": [user["id"]], "types": ["user"]}).json()
    assert [(o["@odata.type"], o["id"]) for o in found["value"]] == [("#microsoft.graph.user", user["id"])]

    # a role assignment naming the user is no orphan while the user exists, and is one once it is deleted
    scope = f"/subscriptions/{sim.subscription}"
    assignment = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    reader = f"{scope}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"
    with sim.http() as arm:
        r = arm.put(assignment, params={"api-version": "2022-04-01"}, json={"properties": {
            "roleDefinitionId": reader, "principalId": user["id"], "principalType": "User"}})
        assert r.status_code == 201, r.text

        def orphaned() -> bool:
            audit = arm.get("/_sim/audit").json()["orphanedRoleAssignments"]
            return any(o["principalId"] == user["id"] for o in audit)

        assert not orphaned()
        assert gh.delete(f"/v1.0/users/{upn}").status_code == 204
        assert orphaned()
        assert arm.delete(assignment, params={"api-version": "2022-04-01"}).status_code == 200
    graph_error(gh.get(f"/v1.0/users/{user['id']}"), 404, "Request_ResourceNotFound")
    graph_error(gh.delete(f"/v1.0/users/{user['id']}"), 404, "Request_ResourceNotFound")


def test_user_refusals(gh: httpx.Client, sim: Sim, app: dict[str, Any]) -> None:
    domain = _domain(gh)
    nick = unique("gwbad")
    good = {"userPrincipalName": f"{nick}@{domain}", "displayName": "d", "mailNickname": nick,
            "accountEnabled": True, "passwordProfile": {"password": "Test123456789"}}
    graph_error(gh.post("/v1.0/users", json={**good, "userPrincipalName": f"{nick}@contoso.com"}), 400,
                "Request_BadRequest", "verified domain")
    for missing in ("passwordProfile", "mailNickname", "accountEnabled", "displayName", "userPrincipalName"):
        body = {k: v for k, v in good.items() if k != missing}
        graph_error(gh.post("/v1.0/users", json=body), 400, "Request_BadRequest", missing)
    graph_error(gh.post("/v1.0/users", json={**good, "passwordProfile": {"password": "short"}}), 400,
                "Request_BadRequest", "password complexity")
    graph_error(gh.post("/v1.0/users", json={**good, "mailNickname": "a b"}), 400, "Request_BadRequest",
                "mailNickname")
    graph_error(gh.post("/v1.0/users", json={**good, "shoeSize": 9}), 400, "Request_BadRequest", "shoeSize")
    graph_error(gh.get("/v1.0/users/not-a-guid"), 400, "Request_BadRequest")
    graph_error(gh.get(f"/v1.0/users/{nick}@{domain}"), 404, "Request_ResourceNotFound")  # nothing was written

    # Directory.ReadWrite.All creates users but does not delete them; User.ReadWrite.All does both
    assert grant(sim, app["appId"], "Directory.ReadWrite.All").status_code == 200
    with sim.http(app_token(sim, app)) as graph:
        made = graph.post("/v1.0/users", json=good)
        assert made.status_code == 201, made.text
        assert graph.get(f"/v1.0/users/{made.json()['id']}").status_code == 200
        assert_denied(graph.delete(f"/v1.0/users/{made.json()['id']}"))
    assert grant(sim, app["appId"], "User.ReadWrite.All").status_code == 200
    with sim.http(app_token(sim, app)) as graph:
        assert graph.delete(f"/v1.0/users/{made.json()['id']}").status_code == 204


def test_the_same_service_principal_at_once_is_made_once(sim: Sim, gh: httpx.Client) -> None:
    import threading

    app = create_app(gh)
    token = sim.token(GRAPH)
    answers: list[int] = []

    def create() -> None:
        with sim.http(token) as graph:
            answers.append(graph.post("/v1.0/servicePrincipals", json={"appId": app["appId"]}).status_code)

    threads = [threading.Thread(target=create) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [201, 409, 409, 409, 409]
    found = gh.get("/v1.0/servicePrincipals", params={"$filter": f"appId eq '{app['appId']}'"}).json()["value"]
    assert len(found) == 1
    assert gh.delete(f"/v1.0/applications/{app['id']}").status_code == 204
