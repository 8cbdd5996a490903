"""What-if: the prediction (typed changes) matches what a deployment then does, and changes nothing itself."""

from __future__ import annotations

from typing import Any

from arm_sim.testing import ArmSim
from tests.examples.infra import PARAMETERS, TEMPLATE, resources_in

KINDS = ["Microsoft.ManagedIdentity/userAssignedIdentities", "Microsoft.Storage/storageAccounts",
         "Microsoft.Storage/storageAccounts/blobServices/containers", "Microsoft.Network/virtualNetworks",
         "Microsoft.Network/networkInterfaces", "Microsoft.Compute/virtualMachines", "Microsoft.KeyVault/vaults",
         "Microsoft.KeyVault/vaults/secrets", "Microsoft.Authorization/roleAssignments"]


def kind(resource_id: str) -> str:
    """`Microsoft.Storage/storageAccounts/blobServices/containers` of a resource id."""
    provider = resource_id.rsplit("/providers/", 1)[1].split("/")
    return "/".join([provider[0], *provider[1::2]])


def test_on_an_empty_group_everything_is_created_and_nothing_is(arm_sim: ArmSim, arm_sim_rg: str) -> None:
    prediction = arm_sim.what_if(TEMPLATE, PARAMETERS, resource_group=arm_sim_rg)
    assert {c.change_type for c in prediction.changes} == {"Create"} and len(prediction.changes) == 10
    assert sorted({kind(c.resource_id) for c in prediction.changes}) == sorted(KINDS)
    assert resources_in(arm_sim, arm_sim_rg) == []  # a prediction deploys nothing

    out = arm_sim.deploy(TEMPLATE, PARAMETERS, resource_group=arm_sim_rg)
    assert prediction.ids("Create") >= {out["vmId"].lower(), out["vaultId"].lower(), out["identityId"].lower()}


def test_once_deployed_nothing_changes(arm_sim: ArmSim, infra: dict[str, Any]) -> None:
    prediction = arm_sim.what_if(TEMPLATE, PARAMETERS, resource_group=infra["group"])
    assert {c.change_type for c in prediction.changes} == {"NoChange"} and len(prediction.changes) == 10


def test_a_changed_parameter_is_a_modify_with_its_delta(arm_sim: ArmSim, infra: dict[str, Any]) -> None:
    prediction = arm_sim.what_if(TEMPLATE, {**PARAMETERS, "vmSize": "Standard_B2s"}, resource_group=infra["group"])
    vm = prediction[infra["vmId"]]
    assert vm.change_type == "Modify" and vm.paths == ["properties.hardwareProfile.vmSize"]
    assert (vm.delta[0].before, vm.delta[0].after) == ("Standard_B1s", "Standard_B2s")
    assert arm_sim.request("GET", f"{infra['vmId']}?api-version=2024-07-01").body["properties"][
        "hardwareProfile"]["vmSize"] == "Standard_B1s"  # still
