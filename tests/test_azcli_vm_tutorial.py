"""The compute tutorials through the real Azure CLI (2.91.0), run as written (issue 16 point 1).

`az vm create --image Ubuntu2204` resolves the alias from az's own alias document, reads the image from the
Marketplace catalogue (`…/publishers/Canonical/…/versions?$orderby=name desc&$top=1`, then the version), and deploys
the template it builds (VNet, subnet, NSG, public IP, NIC, VM, and with `--role` the role assignment). az is slow
(2-4 s a command): the module logs in once and checks server-side state over REST and Graph instead of more az.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.azcli import AzCli, logged_in, require_az, resource_group
from tests.simserver import Sim

AZ = require_az()

pytestmark = pytest.mark.azcli

RG_API = "2024-11-01"
MSI_API = "2024-11-30"
VM_API = "2024-11-01"
AUTH_API = "2022-04-01"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"  # the built-in Reader role's id


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


class TutorialAz(AzCli):
    """az with a home of its own: `--generate-ssh-keys` writes `~/.ssh/id_rsa[.pub]` there, not in the user's."""

    def env(self) -> dict[str, str]:
        return dict(super().env(), HOME=str(self.config_dir.parent / "home"))


@pytest.fixture(scope="module")
def az(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> AzCli:
    base = tmp_path_factory.mktemp("az-vm-tutorial")
    (base / "home").mkdir()
    cli = logged_in(sim, base / "config", AZ)
    return TutorialAz(sim, Path(cli.config_dir), executable=AZ)


@pytest.fixture(scope="module")
def rg(sim: Sim, arm: httpx.Client) -> Iterator[str]:
    yield from resource_group(sim, arm)


def rg_id(sim: Sim, rg: str) -> str:
    return f"/subscriptions/{sim.subscription}/resourceGroups/{rg}"


def user_assigned(sim: Sim, arm: httpx.Client, rg: str) -> dict[str, Any]:
    path = f"{rg_id(sim, rg)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{unique('uai-')}"
    r = arm.put(path, params={"api-version": MSI_API}, json={"location": "eastus"})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def sp_exists(graph: httpx.Client, object_id: str) -> bool:
    r = graph.get(f"/v1.0/servicePrincipals/{object_id}")
    assert r.status_code in (200, 404), r.text
    return r.status_code == 200


def lower_keys(d: dict[str, Any]) -> set[str]:
    return {k.lower() for k in d}


def test_vm_create_system_identity_with_role_then_identity_and_delete(az: AzCli, sim: Sim, arm: httpx.Client,
                                                                      graph: httpx.Client, rg: str) -> None:
    scope = rg_id(sim, rg)
    vm = az.json("vm", "create", "-g", rg, "-n", "vm1", "--image", "Ubuntu2204", "--assign-identity",
                 "--role", "Reader", "--scope", scope, "--admin-username", "azureuser", "--generate-ssh-keys")
    assert vm["powerState"] == "VM running" and vm["location"] == "eastus" and vm["publicIpAddress"]
    principal = vm["identity"]["systemAssignedIdentity"]
    assert sp_exists(graph, principal)
    shown = arm.get(vm["id"], params={"api-version": VM_API}).json()
    assert shown["identity"]["type"] == "SystemAssigned" and shown["identity"]["principalId"] == principal
    assert shown["properties"]["storageProfile"]["imageReference"] == {
        "publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2", "version": "latest",
        "exactVersion": "1.0.20261207"}  # `latest` resolved to the catalogue's version, as CRP answers
    # the template az generated made the network around the VM
    for kind, name in (("virtualNetworks", "vm1VNET"), ("networkSecurityGroups", "vm1NSG"),
                       ("publicIPAddresses", "vm1PublicIP"), ("networkInterfaces", "vm1VMNic")):
        r = arm.get(f"{scope}/providers/Microsoft.Network/{kind}/{name}", params={"api-version": "2024-05-01"})
        assert r.status_code == 200, (kind, r.text)
    # --role/--scope: the VM's principal is a Reader of the group
    assignments = arm.get(f"{scope}/providers/Microsoft.Authorization/roleAssignments", params={
        "api-version": AUTH_API, "$filter": f"principalId eq '{principal}'"}).json()["value"]
    assert [(a["properties"]["scope"].lower(), a["properties"]["roleDefinitionId"].rsplit("/", 1)[1])
            for a in assignments] == [(scope.lower(), READER)]

    uai = user_assigned(sim, arm, rg)
    assigned = az.json("vm", "identity", "assign", "-g", rg, "-n", "vm1", "--identities", uai["id"])
    assert assigned["systemAssignedIdentity"] == principal
    assert lower_keys(assigned["userAssignedIdentities"]) == {uai["id"].lower()}
    az.run("vm", "identity", "remove", "-g", rg, "-n", "vm1", "--identities", uai["id"])
    got = arm.get(vm["id"], params={"api-version": VM_API}).json()["identity"]
    assert got["type"] == "SystemAssigned" and got["principalId"] == principal

    az.run("vm", "delete", "-g", rg, "-n", "vm1", "--yes")
    assert arm.get(vm["id"], params={"api-version": VM_API}).status_code == 404
    err = az.fails("ad", "sp", "show", "--id", principal)
    assert "does not exist" in err.stderr, err
    assert not sp_exists(graph, principal)


def test_vm_create_user_assigned_identity(az: AzCli, sim: Sim, arm: httpx.Client, graph: httpx.Client,
                                          rg: str) -> None:
    uai = user_assigned(sim, arm, rg)
    vm = az.json("vm", "create", "-g", rg, "-n", "vm2", "--image", "Ubuntu2204", "--assign-identity", uai["id"],
                 "--admin-username", "azureuser", "--generate-ssh-keys")
    assert vm["identity"]["systemAssignedIdentity"] == ""
    assert {k.lower(): v for k, v in vm["identity"]["userAssignedIdentities"].items()} == {uai["id"].lower(): {
        "clientId": uai["properties"]["clientId"], "principalId": uai["properties"]["principalId"]}}
    got = arm.get(vm["id"], params={"api-version": VM_API}).json()["identity"]
    assert got["type"] == "UserAssigned" and "principalId" not in got


@pytest.mark.parametrize("mode", ["Uniform", "Flexible"])
def test_vmss_create_with_identity(az: AzCli, sim: Sim, arm: httpx.Client, graph: httpx.Client, rg: str,
                                   mode: str) -> None:
    # az's template outputs `reference(…, providers('Microsoft.Compute', 'virtualMachineScaleSets').apiVersions[0])`
    # as `VMSS`, and reads it back as `outputs['vmss']` (ARM camel-cases output names)
    name = unique("ss")
    out = az.json("vmss", "create", "-g", rg, "-n", name, "--image", "Ubuntu2204", "--assign-identity",
                  "--orchestration-mode", mode, "--admin-username", "azureuser", "--generate-ssh-keys")
    got = arm.get(f"{rg_id(sim, rg)}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}",
                  params={"api-version": VM_API}).json()
    assert got["properties"]["orchestrationMode"] == mode and got["identity"]["type"] == "SystemAssigned"
    assert sp_exists(graph, got["identity"]["principalId"])
    if mode == "Uniform":  # az adds the identity to its output for Uniform scale sets only
        assert out["vmss"]["identity"]["systemAssignedIdentity"] == got["identity"]["principalId"]


def test_vmss_identity_assign_and_remove(az: AzCli, sim: Sim, arm: httpx.Client, graph: httpx.Client,
                                         rg: str) -> None:
    """On a scale set made over REST, so that these commands are covered whatever `vmss create` does."""
    path = f"{rg_id(sim, rg)}/providers/Microsoft.Compute/virtualMachineScaleSets/{unique('ss')}"
    r = arm.put(path, params={"api-version": VM_API}, json={
        "location": "eastus", "sku": {"name": "Standard_D2s_v5", "capacity": 1},
        "properties": {"orchestrationMode": "Uniform", "upgradePolicy": {"mode": "Manual"}}})
    assert r.status_code == 201, r.text
    name = path.rsplit("/", 1)[1]
    # `az vmss update-instances` (POST manualupgrade, a long-running operation): instance 0 of a capacity-1 set
    az.run("vmss", "update-instances", "-g", rg, "-n", name, "--instance-ids", "0")
    bad = arm.post(f"{path}/manualupgrade", params={"api-version": VM_API}, json={"instanceIds": ["7"]})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidParameter", bad.text
    uai = user_assigned(sim, arm, rg)
    assigned = az.json("vmss", "identity", "assign", "-g", rg, "-n", name, "--identities", "[system]", uai["id"])
    principal = assigned["systemAssignedIdentity"]
    assert sp_exists(graph, principal) and lower_keys(assigned["userAssignedIdentities"]) == {uai["id"].lower()}
    az.run("vmss", "identity", "remove", "-g", rg, "-n", name, "--identities", uai["id"])
    got = arm.get(path, params={"api-version": VM_API}).json()["identity"]
    assert got["type"] == "SystemAssigned" and got["principalId"] == principal
    az.run("vmss", "identity", "remove", "-g", rg, "-n", name, "--identities", "[system]")
    assert (arm.get(path, params={"api-version": VM_API}).json().get("identity") or {}).get("type", "None") == "None"
    assert not sp_exists(graph, principal)
