"""What deleting leaves behind: a VM's system-assigned principal goes with the VM, but the vault's access policy
that names it stays (as in Azure), and the audit finds it; so do role assignments of a deleted identity."""

from __future__ import annotations

import pytest

from arm_sim.testing import ArmSim
from tests.examples.infra import PARAMETERS, TEMPLATE


def delete(arm_sim: ArmSim, resource_id: str, api_version: str) -> None:
    r = arm_sim.request("DELETE", f"{resource_id}?api-version={api_version}")
    assert r.status in (200, 202, 204), r.body


def test_deleting_the_vm_orphans_its_access_policy(arm_sim: ArmSim, arm_sim_rg: str) -> None:
    out = arm_sim.deploy(TEMPLATE, PARAMETERS, resource_group=arm_sim_rg)
    arm_sim.assert_no_orphans(arm_sim_rg)  # freshly deployed: every grant names a live principal

    delete(arm_sim, out["vmId"], "2024-07-01")
    assert arm_sim.request("GET", f"/v1.0/servicePrincipals/{out['vmPrincipalId']}").status == 404
    orphans = arm_sim.audit(scope=arm_sim_rg)["orphanedAccessPolicies"]
    assert [(o["vault"].lower(), o["objectId"], o["vaultState"]) for o in orphans] == [
        (out["vaultId"].lower(), out["vmPrincipalId"], "active")]
    assert orphans[0]["permissions"] == {"secrets": ["get", "list"]} and orphans[0]["principalDeletedAt"]
    with pytest.raises(AssertionError, match=out["vmPrincipalId"]):
        arm_sim.assert_no_orphans(arm_sim_rg)
    arm_sim.assert_no_orphans(arm_sim.group_id("some-other-group"))  # the audit is scoped


def test_deleting_the_identity_orphans_its_grants(arm_sim: ArmSim, arm_sim_rg: str) -> None:
    out = arm_sim.deploy(TEMPLATE, PARAMETERS, resource_group=arm_sim_rg)
    delete(arm_sim, out["identityId"], "2023-01-31")

    report = arm_sim.audit(scope=arm_sim_rg)
    assert sorted(o["id"].lower() for o in report["orphanedRoleAssignments"]) == sorted(
        a.lower() for a in out["assignments"])
    assert [o["objectId"] for o in report["orphanedAccessPolicies"]] == [out["identityPrincipalId"]]
    assert [(d["resourceId"].lower(), d["identityId"].lower()) for d in report["danglingUserAssignedIdentities"]] == [
        (out["vmId"].lower(), out["identityId"].lower())]  # the VM still names the identity
    assert report["expiredCredentials"] == []
