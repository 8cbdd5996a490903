"""Custom role definitions are what they say: one definition per GUID in a tenant, written only by whoever may
write roles at every scope it is assignable at, and assignable only inside its assignableScopes. REST with the
tokens of real principals, and azure-mgmt-authorization."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.identity import ClientSecretCredential
from azure.mgmt.authorization import AuthorizationManagementClient

from tests.simserver import Sim
from tests.test_rbac import _app

API = {"api-version": "2022-04-01"}
UAA = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"  # User Access Administrator
WRITE = "Microsoft.Authorization/roleDefinitions/write"


def _definition_url(scope: str, guid: str) -> str:
    return f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def _definition(name: str, actions: list[str], *scopes: str) -> dict[str, Any]:
    return {"properties": {"roleName": name, "assignableScopes": list(scopes),
                           "permissions": [{"actions": actions}]}}


def _assign(c: httpx.Client, scope: str, role_id: str, principal: str) -> httpx.Response:
    return c.put(f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}", params=API,
                 json={"properties": {"roleDefinitionId": role_id, "principalId": principal,
                                      "principalType": "ServicePrincipal"}})


def _error(r: httpx.Response, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text
    return str(r.json()["error"]["message"])


@pytest.fixture
def groups(sim: Sim) -> Iterator[tuple[str, str]]:
    """Two fresh resource groups: the delegated one and another."""
    made = [f"rg-{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with sim.http() as c:
        for name in made:
            assert c.put(f"/subscriptions/{sim.subscription}/resourcegroups/{name}", params={
                "api-version": "2025-04-01"}, json={"location": "eastus"}).status_code == 201
    yield made[0], made[1]


def _allowed(sim: Sim, principal: str, action: str, scope: str) -> bool:
    with sim.http() as c:
        r = c.get("/_sim/explain", params={"principalId": principal, "action": action, "scope": scope})
    assert r.status_code == 200, r.text
    return bool(r.json()["allowed"])


def test_a_resource_group_admin_cannot_escalate_through_a_role_definition(sim: Sim,
                                                                          groups: tuple[str, str]) -> None:
    sub = f"/subscriptions/{sim.subscription}"
    rg1, rg2 = (f"{sub}/resourceGroups/{g}" for g in groups)
    admin, admin_token = _app(sim, "rg1-admin")
    worker, _ = _app(sim, "worker")
    with sim.http() as owner:
        assert _assign(owner, rg1, f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{UAA}",
                       admin["servicePrincipalObjectId"]).status_code == 201
    x = str(uuid.uuid4())
    everything = _definition(f"everything {x[:8]}", ["*"], sub)
    with sim.http(admin_token) as c:
        # the definition would be assignable at the subscription, where the admin may not write roles
        message = _error(c.put(_definition_url(rg1, x), params=API, json=everything), 403, "AuthorizationFailed")
        assert WRITE in message and f"over scope '{sub}'" in message and admin["appId"] in message
        # within its own resource group it may
        r = c.put(_definition_url(rg1, x), params=API, json=_definition(f"everything {x[:8]}", ["*"], rg1))
        assert r.status_code == 201, r.text
        # …and may update it there (the same id at the same scope is an update, which ARM too answers 201)
        r = c.put(_definition_url(rg1, x), params=API, json=_definition(f"everything {x[:8]}", ["*"], rg1))
        assert r.status_code == 201, r.text
        # widening it to the subscription needs write there
        r = c.put(_definition_url(rg1, x), params=API, json=_definition(f"everything {x[:8]}", ["*"], rg1, sub))
        assert f"over scope '{sub}'" in _error(r, 403, "AuthorizationFailed")

    with sim.http() as owner:
        # the GUID is unique in the directory: no second definition of it at the subscription
        narrow = _definition(f"narrow {x[:8]}", ["Microsoft.Storage/*/read"], sub)
        r = owner.put(_definition_url(sub, x), params=API, json=narrow)
        assert x in _error(r, 409, "RoleDefinitionWithSameNameExists")
        assert owner.get(_definition_url(sub, x), params=API).status_code == 404
        # the rg1 definition is not assignable at the subscription, under either id form
        for role_id in (_definition_url(sub, x), _definition_url(rg1, x), x):
            message = _error(_assign(owner, sub, role_id, worker["servicePrincipalObjectId"]), 400,
                             "RoleAssignmentScopeNotAssignableToRoleDefinition")
            assert message == f"The role everything {x[:8]} is not available for assignment at the requested scope."
        # nor in the other group
        _error(_assign(owner, rg2, _definition_url(sub, x), worker["servicePrincipalObjectId"]), 400,
               "RoleAssignmentScopeNotAssignableToRoleDefinition")
        # a GUID no definition of this directory has is not found at all
        missing = str(uuid.uuid4())
        assert missing in _error(_assign(owner, rg1, _definition_url(sub, missing), worker["servicePrincipalObjectId"]),
                                 400, "RoleDefinitionDoesNotExist")
        # where it is assignable, it grants what it says, there only
        assert _assign(owner, rg1, _definition_url(sub, x), worker["servicePrincipalObjectId"]).status_code == 201
    oid = worker["servicePrincipalObjectId"]
    storage = "providers/Microsoft.Storage/storageAccounts/st1"
    assert _allowed(sim, oid, "Microsoft.Storage/storageAccounts/write", f"{rg1}/{storage}")
    assert not _allowed(sim, oid, "Microsoft.Storage/storageAccounts/write", f"{rg2}/{storage}")
    assert not _allowed(sim, oid, "Microsoft.Resources/subscriptions/resourceGroups/write", rg2)


def test_rewriting_a_definition_needs_write_where_it_was_assignable(sim: Sim, groups: tuple[str, str]) -> None:
    """A definition stored in rg1 but assignable at the subscription: rg1's admin may not narrow it to rg1 and
    widen its actions (what it grants at the subscription is not theirs to decide)."""
    sub = f"/subscriptions/{sim.subscription}"
    rg1 = f"{sub}/resourceGroups/{groups[0]}"
    admin, admin_token = _app(sim, "rg1-admin")
    z = str(uuid.uuid4())
    with sim.http() as owner:
        assert _assign(owner, rg1, f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{UAA}",
                       admin["servicePrincipalObjectId"]).status_code == 201
        r = owner.put(_definition_url(rg1, z), params=API, json=_definition(f"readers {z[:8]}", ["*/read"], sub))
        assert r.status_code == 201, r.text
    with sim.http(admin_token) as c:
        r = c.put(_definition_url(rg1, z), params=API, json=_definition(f"readers {z[:8]}", ["*"], rg1))
        assert f"over scope '{sub}'" in _error(r, 403, "AuthorizationFailed")
        # nor delete it (that takes away what it grants at the subscription)
        message = _error(c.delete(_definition_url(rg1, z), params=API), 403, "AuthorizationFailed")
        assert "Microsoft.Authorization/roleDefinitions/delete" in message and f"over scope '{sub}'" in message
    with sim.http() as owner:
        kept = owner.get(_definition_url(rg1, z), params=API).json()["properties"]
    assert kept["permissions"][0]["actions"] == ["*/read"] and kept["assignableScopes"] == [sub]


def test_definition_names_and_bad_bodies(sim: Sim) -> None:
    sub = f"/subscriptions/{sim.subscription}"
    name = f"unique role {uuid.uuid4().hex[:8]}"
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    with sim.http() as c:
        assert c.put(_definition_url(sub, first), params=API, json=_definition(name, ["*/read"], sub)) \
            .status_code == 201
        # a role name is unique in the directory too
        r = c.put(_definition_url(sub, second), params=API, json=_definition(name.upper(), ["*/read"], sub))
        _error(r, 409, "RoleDefinitionWithSameNameExists")
        for body in (_definition(name, ["*/read"], "/subscriptions/" + str(uuid.uuid4())),
                     _definition(name, ["*/read"], "not-a-scope"),
                     _definition(name, ["*/read"], f"{sub}/resourceGroups"),
                     _definition(name, "*/read", sub),  # type: ignore[arg-type]
                     {"properties": {"roleName": 7, "assignableScopes": [sub], "permissions": [{}]}},
                     {"properties": {"roleName": name, "assignableScopes": [42], "permissions": [{}]}}):
            _error(c.put(_definition_url(sub, first), params=API, json=body), 400, "BadRequest")
        assert c.get(_definition_url(sub, first), params=API).json()["properties"]["roleName"] == name
        r = c.put(f"{sub}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}", params=API,
                  json={"properties": {"roleDefinitionId": {"id": first}, "principalId": str(uuid.uuid4())}})
        assert r.status_code == 400, r.text
        assert c.delete(_definition_url(sub, first), params=API).status_code == 200


def test_escalation_refused_through_azure_mgmt_authorization(sim: Sim, groups: tuple[str, str]) -> None:
    sub = f"/subscriptions/{sim.subscription}"
    rg1 = f"{sub}/resourceGroups/{groups[0]}"
    admin, _ = _app(sim, "rg1-admin-sdk")
    worker, _ = _app(sim, "worker-sdk")
    owner = AuthorizationManagementClient(sim.credential(), sim.subscription, **sim.mgmt_kwargs())
    owner.role_assignments.create(rg1, str(uuid.uuid4()), {
        "role_definition_id": f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{UAA}",
        "principal_id": admin["servicePrincipalObjectId"], "principal_type": "ServicePrincipal"})
    x = str(uuid.uuid4())

    def body(actions: list[str], *scopes: str) -> dict[str, Any]:
        return {"role_name": f"sdk role {x[:8]}", "role_type": "CustomRole", "assignable_scopes": list(scopes),
                "permissions": [{"actions": actions}]}

    with ClientSecretCredential(sim.tenant, admin["appId"], admin["clientSecret"], authority=sim.url,
                                disable_instance_discovery=True, connection_verify=sim.ca) as cred, \
            AuthorizationManagementClient(cred, sim.subscription, **sim.mgmt_kwargs()) as delegated:
        with pytest.raises(HttpResponseError) as e:
            delegated.role_definitions.create_or_update(rg1, x, body(["*"], sub))
        assert e.value.status_code == 403 and e.value.error.code == "AuthorizationFailed"
        assert WRITE in e.value.error.message and sub in e.value.error.message
        made = delegated.role_definitions.create_or_update(rg1, x, body(["*"], rg1))
        assert made.name == x and made.assignable_scopes == [rg1] and made.permissions[0].actions == ["*"]

    with pytest.raises(ResourceExistsError) as conflict:
        owner.role_definitions.create_or_update(sub, x, body(["Microsoft.Storage/*/read"], sub))
    assert conflict.value.error.code == "RoleDefinitionWithSameNameExists"
    with pytest.raises(HttpResponseError) as e:
        owner.role_assignments.create(sub, str(uuid.uuid4()), {
            "role_definition_id": f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{x}",
            "principal_id": worker["servicePrincipalObjectId"], "principal_type": "ServicePrincipal"})
    assert e.value.status_code == 400 and e.value.error.code == "RoleAssignmentScopeNotAssignableToRoleDefinition"
    assert not [a for a in owner.role_assignments.list_for_scope(sub, filter="atScope()")
                if a.principal_id == worker["servicePrincipalObjectId"]]
    owner.close()


def test_the_same_rules_hold_for_a_template(sim: Sim, groups: tuple[str, str]) -> None:
    sub = f"/subscriptions/{sim.subscription}"
    rg1 = f"{sub}/resourceGroups/{groups[0]}"
    admin, admin_token = _app(sim, "rg1-deployer")
    with sim.http() as owner:
        for role in (UAA, "b24988ac-6180-42a0-ab88-20f7382dd24c"):  # and Contributor, to deploy at all
            assert _assign(owner, rg1, f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}",
                           admin["servicePrincipalObjectId"]).status_code == 201

    def deploy(name: str, guid: str, scope_expression: str) -> dict[str, Any]:
        template = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                    "contentVersion": "1.0.0.0", "resources": [{
                        "type": "Microsoft.Authorization/roleDefinitions", "apiVersion": "2022-04-01", "name": guid,
                        "properties": {"roleName": f"templated {guid[:8]}", "assignableScopes": [scope_expression],
                                       "permissions": [{"actions": ["*"]}]}}]}
        with sim.http(admin_token) as c:
            r = c.put(f"{rg1}/providers/Microsoft.Resources/deployments/{name}", params={"api-version": "2025-04-01"},
                      json={"properties": {"mode": "Incremental", "template": template}})
            assert r.status_code in (200, 201), r.text
            return dict(c.get(f"{rg1}/providers/Microsoft.Resources/deployments/{name}",
                              params={"api-version": "2025-04-01"}).json())

    x, y = str(uuid.uuid4()), str(uuid.uuid4())
    wide = deploy("wide", x, "[subscription().id]")
    assert wide["properties"]["provisioningState"] == "Failed"
    assert "AuthorizationFailed" in str(wide["properties"]["error"]) and WRITE in str(wide["properties"]["error"])
    with sim.http() as owner:
        assert owner.get(_definition_url(rg1, x), params=API).status_code == 404
    assert deploy("narrow", y, "[resourceGroup().id]")["properties"]["provisioningState"] == "Succeeded"


def test_a_built_in_roles_id_and_a_taken_name_are_refused(sim: Sim) -> None:
    sub = f"/subscriptions/{sim.subscription}"
    reader = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
    with sim.http() as owner:
        r = owner.put(_definition_url(sub, reader), params=API, json=_definition("my reader", ["*/read"], sub))
        assert _error(r, 409, "RoleDefinitionExists") == "The role definition ID is already in use by a built-in role."
        x, y = str(uuid.uuid4()), str(uuid.uuid4())
        assert owner.put(_definition_url(sub, x), params=API,
                         json=_definition(f"taken {x[:8]}", ["*/read"], sub)).status_code == 201
        r = owner.put(_definition_url(sub, y), params=API, json=_definition(f"TAKEN {x[:8]}", ["*/read"], sub))
        assert _error(r, 409, "RoleDefinitionWithSameNameExists") == (
            "A custom role with the same name already exists in this directory.")
        assert owner.delete(_definition_url(sub, x), params=API).status_code == 200


def test_who_created_and_updated_a_definition(sim: Sim, groups: tuple[str, str]) -> None:
    """createdOn/updatedOn and createdBy/updatedBy (object ids) as Azure's GET shows them (the az CLI's custom role
    recording); an update answers 201 too; built-in roles carry null for both."""
    sub = f"/subscriptions/{sim.subscription}"
    rg1 = f"{sub}/resourceGroups/{groups[0]}"
    admin, admin_token = _app(sim, "definition-editor")
    x = str(uuid.uuid4())
    body = _definition(f"audited {x[:8]}", ["*/read"], rg1)
    with sim.http() as owner:
        assert _assign(owner, rg1, f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{UAA}",
                       admin["servicePrincipalObjectId"]).status_code == 201
        r = owner.put(_definition_url(rg1, x), params=API, json=body)
        assert r.status_code == 201, r.text
        created = r.json()["properties"]
    assert created["createdBy"] == created["updatedBy"] and created["createdBy"]
    assert created["createdOn"] and created["updatedOn"]
    with sim.http(admin_token) as c:
        r = c.put(_definition_url(rg1, x), params=API, json=_definition(f"audited {x[:8]}", ["*/read", "*/write"],
                                                                         rg1))
        assert r.status_code == 201, r.text
        updated = c.get(_definition_url(rg1, x), params=API).json()["properties"]
    assert updated["createdBy"] == created["createdBy"] and updated["createdOn"] == created["createdOn"]
    assert updated["updatedBy"] == admin["servicePrincipalObjectId"] != created["createdBy"]
    with sim.http() as owner:
        reader = owner.get(_definition_url(sub, "acdd72a7-3385-48ef-bd42-f606fba81ae7"), params=API).json()
        assert reader["properties"]["createdBy"] is None and reader["properties"]["updatedBy"] is None
        assert owner.delete(_definition_url(rg1, x), params=API).status_code == 200
