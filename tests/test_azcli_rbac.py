"""The real Azure CLI (2.91.0) and RBAC: `az role definition list`, `az role assignment create/list/delete`.

az is slow to start, so the module logs in once, makes principals and the group over REST and checks the server's
state with `sim.http()`; about ten az calls in all. Assignees are given both ways az knows: `--assignee-object-id`
with `--assignee-principal-type` (no Graph call), and `--assignee <appId>` (az resolves it through Graph's
`/v1.0/servicePrincipals?$filter=servicePrincipalNames/any(c:c eq '<appId>')`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.azcli import AzCli, logged_in, require_az
from tests.simserver import Sim

AZ = require_az()

pytestmark = pytest.mark.azcli

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
VM_CONTRIBUTOR = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c"
RG_API = "2024-11-01"
AUTH_API = "2022-04-01"
ASSIGNMENT_TYPE = "Microsoft.Authorization/roleAssignments"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def az(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> AzCli:
    return logged_in(sim, tmp_path_factory.mktemp("azcfg-rbac"), AZ)


@pytest.fixture(scope="module")
def rg_id(sim: Sim, arm: httpx.Client) -> Iterator[str]:
    """A resource group made over REST (saves an az call), deleted afterwards."""
    path = f"/subscriptions/{sim.subscription}/resourceGroups/{unique('azrbac-')}"
    r = arm.put(path, params={"api-version": RG_API}, json={"location": "eastus"})
    assert r.status_code == 201, r.text
    yield path
    arm.delete(path, params={"api-version": RG_API})


def application(arm: httpx.Client, name: str) -> dict[str, Any]:
    r = arm.post("/_sim/applications", json={"displayName": name})
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def role_id(sim: Sim, guid: str) -> str:
    return f"/subscriptions/{sim.subscription}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def rest_assignments(arm: httpx.Client, scope: str, principal: str) -> list[dict[str, Any]]:
    r = arm.get(f"{scope}/providers/Microsoft.Authorization/roleAssignments",
                params={"api-version": AUTH_API, "$filter": f"principalId eq '{principal}'"})
    assert r.status_code == 200, r.text
    return list(r.json()["value"])


def test_role_definition_list(az: AzCli, sim: Sim) -> None:
    [reader] = az.json("role", "definition", "list", "--name", "Reader")
    assert reader["name"] == READER and reader["roleName"] == "Reader"
    assert reader["id"].lower() == role_id(sim, READER).lower()
    assert reader["roleType"] == "BuiltInRole" and reader["type"] == "Microsoft.Authorization/roleDefinitions"
    assert reader["permissions"][0]["actions"] == ["*/read"] and "/" in reader["assignableScopes"]
    # the built-in is not a custom role
    assert az.json("role", "definition", "list", "--name", "Reader", "--custom-role-only", "true") == []


def test_assignment_by_object_id(az: AzCli, sim: Sim, arm: httpx.Client, rg_id: str) -> None:
    oid = application(arm, unique("az-rbac-oid-"))["servicePrincipalObjectId"]
    args = ("--assignee-object-id", oid, "--assignee-principal-type", "ServicePrincipal", "--role", "Reader",
            "--scope", rg_id)
    created = az.json("role", "assignment", "create", *args)
    assert created["principalId"] == oid and created["principalType"] == "ServicePrincipal"
    assert created["roleDefinitionId"].lower() == role_id(sim, READER).lower()
    assert created["scope"] == rg_id and created["type"] == ASSIGNMENT_TYPE
    assert created["id"].lower() == f"{rg_id}/providers/{ASSIGNMENT_TYPE}/{created['name']}".lower()
    assert uuid.UUID(created["name"])
    [stored] = rest_assignments(arm, rg_id, oid)
    assert stored["id"] == created["id"] and stored["properties"]["createdBy"]

    # again: the server answers 409 RoleAssignmentExists, which az turns into the existing assignment
    assert az.json("role", "assignment", "create", *args)["id"] == created["id"]
    assert len(rest_assignments(arm, rg_id, oid)) == 1

    listed = [a for a in az.json("role", "assignment", "list", "--scope", rg_id) if a["principalId"] == oid]
    assert [a["id"] for a in listed] == [created["id"]]
    assert listed[0]["roleDefinitionName"] == "Reader" and listed[0]["scope"] == rg_id

    assert az.json("role", "assignment", "delete", "--ids", created["id"]) is None
    assert rest_assignments(arm, rg_id, oid) == []
    r = arm.get(created["id"], params={"api-version": AUTH_API})
    assert r.status_code == 404, r.text


def test_assignment_by_app_id_through_graph(az: AzCli, sim: Sim, arm: httpx.Client, rg_id: str) -> None:
    app = application(arm, unique("az-rbac-app-"))
    app_id, oid = app["appId"], app["servicePrincipalObjectId"]
    created = az.json("role", "assignment", "create", "--assignee", app_id, "--role", "Virtual Machine Contributor",
                      "--scope", rg_id)
    # az found the service principal through Graph and sent its object id and type
    assert created["principalId"] == oid and created["principalType"] == "ServicePrincipal"
    assert created["roleDefinitionId"].lower() == role_id(sim, VM_CONTRIBUTOR).lower()

    listed = az.json("role", "assignment", "list", "--scope", rg_id, "--assignee", app_id)
    assert [(a["id"], a["principalId"], a["roleDefinitionName"]) for a in listed] == [
        (created["id"], oid, "Virtual Machine Contributor")]

    assert az.json("role", "assignment", "delete", "--assignee", app_id, "--role", "Virtual Machine Contributor",
                   "--scope", rg_id) is None
    assert rest_assignments(arm, rg_id, oid) == []
