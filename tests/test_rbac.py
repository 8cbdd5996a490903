"""Azure RBAC: role definitions, role assignments and their enforcement on ARM, through azure-mgmt-authorization."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.mgmt.authorization import AuthorizationManagementClient

from tests.simserver import Sim, fresh_database_url

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
MI_OPERATOR = "f1a07417-d97a-45cb-824c-7a7467783830"
API = "api-version=2022-04-01"


def _auth(sim: Sim) -> AuthorizationManagementClient:
    return AuthorizationManagementClient(sim.credential(), sim.subscription, **sim.mgmt_kwargs())


def _role(sim: Sim, guid: str) -> str:
    return f"/subscriptions/{sim.subscription}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def _app(sim: Sim, name: str = "worker") -> tuple[dict[str, Any], str]:
    """A new principal with no role at all, and an ARM token for it."""
    with sim.http() as c:
        app = c.post("/_sim/applications", json={"displayName": name}).json()
    r = httpx.post(f"{sim.url}/{sim.tenant}/oauth2/v2.0/token", verify=sim.ca, data={
        "grant_type": "client_credentials", "client_id": app["appId"], "client_secret": app["clientSecret"],
        "scope": "https://management.azure.com/.default"})
    return app, r.json()["access_token"]


def _assign(sim: Sim, scope: str, role: str, principal: str, principal_type: str | None = "ServicePrincipal",
            name: str | None = None) -> httpx.Response:
    props = {"roleDefinitionId": _role(sim, role), "principalId": principal}
    if principal_type:
        props["principalType"] = principal_type
    with sim.http() as c:
        return c.put(f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name or uuid.uuid4()}?{API}",
                     json={"properties": props})


def test_role_definitions(sim: Sim) -> None:
    az = _auth(sim)
    scope = f"/subscriptions/{sim.subscription}"
    readers = list(az.role_definitions.list(scope, filter="roleName eq 'Reader'"))
    assert [r.name for r in readers] == [READER] and readers[0].permissions[0].actions == ["*/read"]
    builtins = list(az.role_definitions.list(scope, filter="type eq 'BuiltInRole'"))
    assert {"Owner", "Contributor", "Key Vault Secrets User", "Managed Identity Operator"} <= {
        r.role_name for r in builtins}
    got = az.role_definitions.get(f"{scope}/resourceGroups/any", CONTRIBUTOR)
    assert got.role_name == "Contributor" and "Microsoft.Authorization/*/Write" in got.permissions[0].not_actions


def test_custom_role_lifecycle(sim: Sim, rg_name: str) -> None:
    guid = str(uuid.uuid4())
    scope = f"/subscriptions/{sim.subscription}"
    url = f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}?{API}"
    with sim.http() as c:
        bad = c.put(url, json={"properties": {"roleName": "x", "assignableScopes": [], "permissions": []}})
        assert bad.status_code == 400
        r = c.put(url, json={"properties": {"roleName": f"VM starter {guid[:6]}", "assignableScopes": [scope],
                                            "permissions": [{"actions": ["Microsoft.Compute/*/read"]}]}})
        assert r.status_code == 201, r.text
        assert r.json()["properties"]["type"] == "CustomRole"
        app, _ = _app(sim)
        assert _assign(sim, scope, guid, app["servicePrincipalObjectId"]).status_code == 201
        r = c.delete(url)
        assert r.status_code == 409 and r.json()["error"]["code"] == "RoleDefinitionHasAssignments"


def test_assignment_create_list_errors_with_the_sdk(sim: Sim) -> None:
    az = _auth(sim)
    app, _ = _app(sim)
    scope = f"/subscriptions/{sim.subscription}"
    name = str(uuid.uuid4())
    ra = az.role_assignments.create(scope, name, {"role_definition_id": _role(sim, READER),
                                                  "principal_id": app["servicePrincipalObjectId"],
                                                  "principal_type": "ServicePrincipal"})
    assert ra.name == name and ra.scope == scope and ra.principal_id == app["servicePrincipalObjectId"]
    listed = list(az.role_assignments.list_for_scope(scope, filter=f"principalId eq '{ra.principal_id}'"))
    assert [x.name for x in listed] == [name]
    with pytest.raises(ResourceExistsError) as e:
        az.role_assignments.create(scope, str(uuid.uuid4()), {"role_definition_id": _role(sim, READER),
                                                              "principal_id": ra.principal_id})
    assert e.value.error.code == "RoleAssignmentExists"
    with pytest.raises(HttpResponseError) as e:
        az.role_assignments.create(scope, name, {"role_definition_id": _role(sim, CONTRIBUTOR),
                                                 "principal_id": ra.principal_id})
    assert e.value.status_code == 400 and e.value.error.code == "RoleAssignmentUpdateNotPermitted"
    ghost = str(uuid.uuid4())
    with pytest.raises(HttpResponseError) as e:
        az.role_assignments.create(scope, str(uuid.uuid4()), {"role_definition_id": _role(sim, READER),
                                                              "principal_id": ghost})
    assert e.value.status_code == 400 and e.value.error.code == "PrincipalNotFound"
    assert ghost.replace("-", "") in e.value.error.message
    # with principalType the directory is not consulted, as in Azure
    assert _assign(sim, scope, READER, ghost).status_code == 201
    assert _assign(sim, scope, READER, app["servicePrincipalObjectId"], name="not-a-guid").status_code == 400
    az.role_assignments.delete(scope, name)
    assert not [x for x in az.role_assignments.list_for_scope(scope) if x.name == name]


def test_enforcement_reader_then_contributor(sim: Sim, rg_name: str) -> None:
    rm = sim.resource_client()
    rm.resource_groups.create_or_update(rg_name, {"location": "eastus"})
    rg = f"/subscriptions/{sim.subscription}/resourceGroups/{rg_name}"
    app, token = _app(sim)
    res = f"{rg}/providers/Microsoft.Storage/storageAccounts/st{uuid.uuid4().hex[:10]}?api-version=2023-01-01"
    with httpx.Client(base_url=sim.url, verify=sim.ca, headers={"Authorization": f"Bearer {token}"}) as c:
        r = c.get(f"{rg}?api-version=2025-04-01")
        assert r.status_code == 403 and r.json()["error"]["code"] == "AuthorizationFailed"
        msg = r.json()["error"]["message"]
        assert app["appId"] in msg and app["servicePrincipalObjectId"] in msg
        assert "Microsoft.Resources/subscriptions/resourceGroups/read" in msg and rg in msg
        assert _assign(sim, rg, READER, app["servicePrincipalObjectId"]).status_code == 201
        assert c.get(f"{rg}?api-version=2025-04-01").status_code == 200
        groups = c.get(f"/subscriptions/{sim.subscription}/resourcegroups?api-version=2025-04-01").json()["value"]
        assert [g["name"] for g in groups] == [rg_name]  # only what it can see
        r = c.put(res, json={"location": "eastus"})
        assert r.status_code == 403 and "Microsoft.Storage/storageAccounts/write" in r.json()["error"]["message"]
        assert c.get(res).status_code == 404  # nothing was written
        assert _assign(sim, rg, CONTRIBUTOR, app["servicePrincipalObjectId"]).status_code == 201
        assert c.put(res, json={"location": "eastus"}).status_code == 200  # a storage account's create: 200
        # Contributor may not grant roles
        r = c.put(f"{rg}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}?{API}",
                  json={"properties": {"roleDefinitionId": _role(sim, READER), "principalId": str(uuid.uuid4()),
                                       "principalType": "ServicePrincipal"}})
        assert r.status_code == 403 and "Microsoft.Authorization/roleAssignments/write" in r.text
    with sim.http() as c:
        denied = c.get("/_sim/events", params={"kind": "access.denied",
                                               "principal": app["servicePrincipalObjectId"]}).json()["value"]
    assert denied and all(e["details"]["reason"] for e in denied)


def test_assigning_a_user_assigned_identity_needs_managed_identity_operator(sim: Sim, rg_name: str) -> None:
    rm = sim.resource_client()
    rm.resource_groups.create_or_update(rg_name, {"location": "eastus"})
    rg = f"/subscriptions/{sim.subscription}/resourceGroups/{rg_name}"
    uai = f"{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/shared"
    with sim.http() as c:
        assert c.put(f"{uai}?api-version=2024-11-30", json={"location": "eastus"}).status_code == 201
    app, token = _app(sim)
    # Contributor ("*") may assign identities; a role limited to storage may not
    writer = str(uuid.uuid4())
    with sim.http() as c:
        r = c.put(f"/subscriptions/{sim.subscription}/providers/Microsoft.Authorization/roleDefinitions/{writer}?{API}",
                  json={"properties": {"roleName": f"storage writer {writer[:6]}",
                                       "assignableScopes": [f"/subscriptions/{sim.subscription}"],
                                       "permissions": [{"actions": ["Microsoft.Storage/*"]}]}})
        assert r.status_code == 201, r.text
    assert _assign(sim, rg, writer, app["servicePrincipalObjectId"]).status_code == 201
    body = {"location": "eastus", "identity": {"type": "UserAssigned", "userAssignedIdentities": {uai: {}}}}
    res = f"{rg}/providers/Microsoft.Storage/storageAccounts/wid{uuid.uuid4().hex[:10]}?api-version=2023-01-01"
    with httpx.Client(base_url=sim.url, verify=sim.ca, headers={"Authorization": f"Bearer {token}"}) as c:
        r = c.put(res, json=body)
        assert r.status_code == 403 and r.json()["error"]["code"] == "LinkedAuthorizationFailed"
        assert "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action" in r.json()["error"]["message"]
        assert _assign(sim, uai, MI_OPERATOR, app["servicePrincipalObjectId"]).status_code == 201
        assert c.put(res, json=body).status_code == 200  # a storage account's create: 200


def test_orphans_stay_and_scoped_assignments_go_with_their_resource(sim: Sim, rg_name: str) -> None:
    rm = sim.resource_client()
    rm.resource_groups.create_or_update(rg_name, {"location": "eastus"})
    rg = f"/subscriptions/{sim.subscription}/resourceGroups/{rg_name}"
    uai = f"{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/shortlived"
    st = f"{rg}/providers/Microsoft.Storage/storageAccounts/sc{uuid.uuid4().hex[:10]}"
    with sim.http() as c:
        principal = c.put(f"{uai}?api-version=2024-11-30", json={"location": "eastus"}).json()["properties"][
            "principalId"]
        c.put(f"{st}?api-version=2023-01-01", json={"location": "eastus"})
    orphan = str(uuid.uuid4())
    assert _assign(sim, f"/subscriptions/{sim.subscription}", READER, principal, None, orphan).status_code == 201
    on_resource = str(uuid.uuid4())
    assert _assign(sim, st, READER, principal, None, on_resource).status_code == 201
    with sim.http() as c:
        c.delete(f"{uai}?api-version=2024-11-30")
        kept = c.get(f"/subscriptions/{sim.subscription}/providers/Microsoft.Authorization/roleAssignments/{orphan}"
                     f"?{API}")
        assert kept.status_code == 200 and kept.json()["properties"]["principalId"] == principal
        audit = c.get("/_sim/audit").json()["orphanedRoleAssignments"]
        entry = next(a for a in audit if a["id"].endswith(orphan))
        assert entry["principalId"] == principal and entry["principalDeletedAt"]
        c.delete(f"{st}?api-version=2023-01-01")
        gone = c.get(f"{st}/providers/Microsoft.Authorization/roleAssignments/{on_resource}?{API}")
        assert gone.status_code == 404
        assert not [a for a in c.get("/_sim/audit").json()["orphanedRoleAssignments"] if a["id"].endswith(
            on_resource)]


def test_explain(sim: Sim, rg_name: str) -> None:
    app, _ = _app(sim)
    rg = f"/subscriptions/{sim.subscription}/resourceGroups/{rg_name}"
    oid = app["servicePrincipalObjectId"]
    q = {"principalId": oid, "action": "Microsoft.Compute/virtualMachines/write", "scope": f"{rg}/providers/"
         "Microsoft.Compute/virtualMachines/vm1"}
    with sim.http() as c:
        before = c.get("/_sim/explain", params=q).json()
        assert before["allowed"] is False and "no role assignment" in before["reason"]
        assert _assign(sim, f"/subscriptions/{sim.subscription}", READER, oid).status_code == 201
        read_only = c.get("/_sim/explain", params=q).json()
        assert read_only["allowed"] is False and read_only["considered"][0]["roleName"] == "Reader"
        allowed = c.get("/_sim/explain", params=dict(q, action="Microsoft.Compute/virtualMachines/read")).json()
        assert allowed["allowed"] is True and allowed["grantedBy"][0]["scope"] == f"/subscriptions/{sim.subscription}"
        assert c.get("/_sim/explain", params={"principalId": oid}).status_code == 400


def test_audit_mode_allows_and_records(tmp_path: Path) -> None:
    sim = Sim(home=tmp_path / "sim", database_url=fresh_database_url(), extra_env={"ARM_SIM_RBAC": "audit"}).start()
    try:
        app, token = _app(sim)
        with httpx.Client(base_url=sim.url, verify=sim.ca, headers={"Authorization": f"Bearer {token}"}) as c:
            assert c.put(f"/subscriptions/{sim.subscription}/resourcegroups/audited?api-version=2025-04-01",
                         json={"location": "eastus"}).status_code == 201
        with sim.http() as c:
            audited = c.get("/_sim/events", params={"kind": "access.audited"}).json()["value"]
        assert any(e["details"]["action"] == "Microsoft.Resources/subscriptions/resourceGroups/write"
                   for e in audited)
    finally:
        sim.stop()


def test_directory_replication_delay(tmp_path: Path) -> None:
    sim = Sim(home=tmp_path / "sim", database_url=fresh_database_url(),
              extra_env={"ARM_SIM_DIRECTORY_DELAY": "120"}).start()
    try:
        app, _ = _app(sim)
        scope = f"/subscriptions/{sim.subscription}"
        r = _assign(sim, scope, READER, app["servicePrincipalObjectId"], principal_type=None)
        assert r.status_code == 400 and r.json()["error"]["code"] == "PrincipalNotFound"
        with sim.http() as c:
            c.post("/_sim/clock/advance", json={"duration": "3m"})
        assert _assign(sim, scope, READER, app["servicePrincipalObjectId"], principal_type=None).status_code == 201
    finally:
        sim.stop()
