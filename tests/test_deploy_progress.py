"""`arm-sim deploy` shows progress per resource from ARM's deployment operations (cli/deploy_progress.py): piped, a
plain line per resource state change, then the outputs and the managed identities the deployment created; on a
terminal, lines rewritten in place. The same operations, listed by the real Azure CLI
(`az deployment operation group list`)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from arm_sim.cli.deploy_progress import Progress
from tests.azcli import AzCli, az_executable
from tests.simserver import Sim
from tests.test_deployments_api import group

GRAPH = "https://graph.microsoft.com/.default"
TEMPLATE = {
    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "parameters": {"prefix": {"type": "string"}},
    "resources": [
        {"type": "Microsoft.ManagedIdentity/userAssignedIdentities", "apiVersion": "2023-01-31",
         "name": "[concat(parameters('prefix'), '-id')]", "location": "[resourceGroup().location]"},
        {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-05-01",
         "name": "[concat(parameters('prefix'), 'st')]", "location": "[resourceGroup().location]",
         "sku": {"name": "Standard_LRS"}, "kind": "StorageV2", "identity": {"type": "SystemAssigned"},
         "properties": {}},
    ],
    "outputs": {"account": {"type": "string", "value": "[concat(parameters('prefix'), 'st')]"}},
}


@pytest.fixture(scope="module")
def az(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzCli | None]:
    executable = az_executable()
    if executable is None:
        yield None
        return
    cli = AzCli(sim, tmp_path_factory.mktemp("azcfg"), executable=executable)
    cli.configure()
    cli.login()
    yield cli


def _deploy(sim: Sim, rg_name: str, tmp_path: Path, prefix: str) -> subprocess.CompletedProcess[str]:
    """`arm-sim deploy` of TEMPLATE as `ids.json` (the deployment is named after the file), output piped."""
    template = tmp_path / "ids.json"
    template.write_text(json.dumps(TEMPLATE))
    return subprocess.run([sys.executable, "-m", "arm_sim", "deploy", "-g", rg_name, str(template), "-p",
                           f"prefix={prefix}"], env=sim.env(), capture_output=True, text=True, timeout=180)


def test_piped_deploy_prints_a_line_per_resource_then_outputs_and_identities(
        sim: Sim, rg_name: str, tmp_path: Path) -> None:
    group(sim, rg_name)
    prefix = f"p{uuid.uuid4().hex[:8]}"
    done = _deploy(sim, rg_name, tmp_path, prefix)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "\x1b[" not in done.stdout  # piped: no terminal control
    progress = [x for x in lines if x.startswith(("ok ", "ERR"))]
    assert [x.split()[:4] for x in progress] == [["ok", "Succeeded", "Create", "Created"]] * 2, done.stdout
    assert progress[0].split()[5] == f"Microsoft.ManagedIdentity/userAssignedIdentities/{prefix}-id"
    assert progress[1].split()[5] == f"Microsoft.Storage/storageAccounts/{prefix}st"
    assert all(x.split()[4].startswith("PT") for x in progress)  # each operation's duration
    outputs = lines.index("Outputs:")
    assert lines[outputs + 3].split() == ["account", "String", f"{prefix}st"]
    made = lines[lines.index("Managed identities created:") + 3:]
    group_id = f"/subscriptions/{sim.subscription}/resourceGroups/{rg_name}/providers"
    with sim.http() as arm:
        uai = arm.get(f"{group_id}/Microsoft.ManagedIdentity/userAssignedIdentities/{prefix}-id",
                      params={"api-version": "2023-01-31"}).json()["properties"]
        account = arm.get(f"{group_id}/Microsoft.Storage/storageAccounts/{prefix}st",
                          params={"api-version": "2023-05-01"}).json()["identity"]
    with sim.http(sim.token(GRAPH)) as graph:
        app_id = graph.get(f"/v1.0/servicePrincipals/{account['principalId']}").json()["appId"]
    assert sorted(x.split() for x in made) == sorted([
        [f"Microsoft.ManagedIdentity/userAssignedIdentities/{prefix}-id", "UserAssigned", uai["principalId"],
         uai["clientId"]],
        [f"Microsoft.Storage/storageAccounts/{prefix}st", "SystemAssigned", account["principalId"], app_id]])

    # a redeployment changes nothing and creates no identity: the lines say so, and no identity is listed
    again = _deploy(sim, rg_name, tmp_path, prefix)
    assert again.returncode == 0, again.stderr
    assert len([x for x in again.stdout.splitlines() if x.startswith("ok ")]) == 2
    assert "Managed identities created:" not in again.stdout



@pytest.mark.azcli
def test_the_azure_cli_lists_the_operations_arm_sim_deploy_showed(
        sim: Sim, rg_name: str, tmp_path: Path, az: AzCli | None) -> None:
    if az is None:
        pytest.skip("Azure CLI not found: set ARM_SIM_AZ or install it in /work/main/.venv-az")
    group(sim, rg_name)
    prefix = f"p{uuid.uuid4().hex[:8]}"
    done = _deploy(sim, rg_name, tmp_path, prefix)
    assert done.returncode == 0, done.stdout + done.stderr
    shown = sorted(x.split()[5] for x in done.stdout.splitlines() if x.startswith("ok "))
    ops = az.json("deployment", "operation", "group", "list", "-g", rg_name, "-n", "ids")
    group_id = f"/subscriptions/{sim.subscription}/resourceGroups/{rg_name}/providers"
    assert sorted(f"{o['properties']['targetResource']['resourceType']}/"
                  f"{o['properties']['targetResource']['resourceName']}" for o in ops) == shown
    for o in ops:
        p = o["properties"]
        assert p["provisioningState"] == "Succeeded" and p["statusCode"] == "Created"
        assert p["provisioningOperation"] == "Create" and p["timestamp"] and p["duration"].startswith("PT")
        assert p["targetResource"]["id"].lower().startswith(group_id.lower())
        assert o["id"].endswith(f"/deployments/ids/operations/{o['operationId']}")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_lines_are_rewritten_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    out = _Terminal()
    vault = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1"
    child = f"{vault}/secrets/s1"
    progress = Progress(out, live=out.isatty())
    progress.expect([vault, child])
    first = out.getvalue()
    assert "Waiting" in first and "Microsoft.KeyVault/vaults/secrets/kv1/s1" in first
    assert "\x1b[2F" not in first  # nothing to go back over yet
    op = {"properties": {"provisioningState": "Succeeded", "provisioningOperation": "Create", "statusCode": "Created",
                         "duration": "PT0.5S", "targetResource": {"id": vault, "resourceType": "Microsoft.KeyVault/"
                                                                  "vaults", "resourceName": "kv1"}}}
    failed = {"properties": {"provisioningState": "Failed", "provisioningOperation": "Create",
                             "statusCode": "BadRequest", "duration": "PT0.1S",
                             "statusMessage": {"status": "Failed", "error": {"code": "BadRequest", "message": "no"}},
                             "targetResource": {"id": child, "resourceType": "Microsoft.KeyVault/vaults/secrets",
                                                "resourceName": "kv1/s1"}}}
    progress.update([op])
    progress.update([op, failed])
    progress.close()
    screens = out.getvalue()[len(first):].split("\x1b[2F")  # each drawing moves up over the two lines
    assert len(screens) == 4 and screens[0] == ""
    final = screens[-1]
    assert "ok  Succeeded Create  Created         PT0.5S  Microsoft.KeyVault/vaults/kv1\n" in final
    assert "ERR Failed    Create  BadRequest      PT0.1S  Microsoft.KeyVault/vaults/secrets/kv1/s1\n" in final
    assert final.rstrip().endswith("Microsoft.KeyVault/vaults/secrets/kv1/s1: BadRequest: no")
    assert progress.succeeded() == {vault.lower()}
    monkeypatch.setenv("COLUMNS", "40")  # a line the terminal would wrap would break the rewriting: it is cut
    progress.update([op])
    assert all(len(line) <= len("\x1b[2K") + 39 for line in out.getvalue().rsplit("\x1b[2F", 1)[1].splitlines())
