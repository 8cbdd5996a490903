"""Wiring: what the template's outputs (`reference()`, `listKeys()`, a `copy` loop) say is what was deployed, and
each identity is granted what the template grants it, and nothing more."""

from __future__ import annotations

from typing import Any

from arm_sim.testing import ArmSim
from tests.examples.infra import BLOB_READER, READER, get


def test_outputs_name_the_deployed_identities(arm_sim: ArmSim, infra: dict[str, Any]) -> None:
    identity = get(arm_sim, infra["identityId"], "2023-01-31")
    assert infra["identityPrincipalId"] == identity["properties"]["principalId"]
    assert infra["identityClientId"] == identity["properties"]["clientId"]
    vm = get(arm_sim, infra["vmId"], "2024-07-01")
    assert infra["vmPrincipalId"] == vm["identity"]["principalId"] != infra["identityPrincipalId"]


def test_the_vm_has_both_identity_kinds(arm_sim: ArmSim, infra: dict[str, Any]) -> None:
    identity = get(arm_sim, infra["vmId"], "2024-07-01")["identity"]
    assert identity["type"] == "SystemAssigned, UserAssigned"
    assert [k.lower() for k in identity["userAssignedIdentities"]] == [infra["identityId"].lower()]
    attached = next(iter(identity["userAssignedIdentities"].values()))
    assert attached == {"principalId": infra["identityPrincipalId"], "clientId": infra["identityClientId"]}


def test_the_copy_loop_grants_each_role_to_the_user_assigned_identity(arm_sim: ArmSim, infra: dict[str, Any]) -> None:
    assert len(infra["assignments"]) == 2
    roles = []
    for assignment_id in infra["assignments"]:
        props = get(arm_sim, assignment_id, "2022-04-01")["properties"]
        assert props["principalId"] == infra["identityPrincipalId"]
        assert props["scope"].lower() == arm_sim.group_id(infra["group"]).lower()
        roles.append(props["roleDefinitionId"].rsplit("/", 1)[1])
    assert roles == [READER, BLOB_READER]


def test_the_vault_grants_secrets_to_both_identities(arm_sim: ArmSim, infra: dict[str, Any]) -> None:
    vault = get(arm_sim, infra["vaultId"], "2023-07-01")
    policies = {p["objectId"]: p["permissions"] for p in vault["properties"]["accessPolicies"]}
    assert policies == {infra["vmPrincipalId"]: {"secrets": ["get", "list"]},
                        infra["identityPrincipalId"]: {"secrets": ["get"]}}
    assert infra["vaultUri"] == vault["properties"]["vaultUri"]


def test_the_list_keys_output_is_the_accounts_key(arm_sim: ArmSim, infra: dict[str, Any]) -> None:
    keys = arm_sim.request("POST", f"{infra['storageId']}/listKeys?api-version=2023-05-01")
    assert keys.status == 200 and infra["storageKey"] == keys.body["keys"][0]["value"]


def test_graph_knows_both_principals(arm_sim: ArmSim, infra: dict[str, Any]) -> None:
    # a Graph path: request() sends a Graph token, not an ARM one
    for principal in (infra["identityPrincipalId"], infra["vmPrincipalId"]):
        sp = arm_sim.request("GET", f"/v1.0/servicePrincipals/{principal}")
        assert sp.status == 200 and sp.body["servicePrincipalType"] == "ManagedIdentity"
    assert arm_sim.request("GET", f"/v1.0/servicePrincipals/{infra['vmPrincipalId']}", audience="arm").status == 401
