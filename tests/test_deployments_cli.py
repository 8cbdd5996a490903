"""Deployments from the command line: `arm-sim deploy` (progress, outputs, what-if, failures) and the Azure CLI's
request body (`template:` unquoted, the file's comments kept) over raw REST."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

from tests.simserver import Sim
from tests.test_deployments_api import API, TEMPLATES, deployment_path, group, resource, rid

STORAGE = "Microsoft.Storage/storageAccounts"


def _deploy(sim: Sim, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "arm_sim", "deploy", *args], env=sim.env(), capture_output=True,
                          text=True, timeout=180, check=False)


def test_arm_sim_deploy_shows_progress_outputs_what_if_and_failures(sim: Sim, rg_name: str, tmp_path: Path) -> None:
    group(sim, rg_name)
    storage = str(TEMPLATES / "storage.json")
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"$schema": "https://schema.management.azure.com/schemas/2019-04-01/"
                                  "deploymentParameters.json#", "contentVersion": "1.0.0.0",
                                  "parameters": {"prefix": {"value": "cli"}}}))
    done = _deploy(sim, "-g", rg_name, storage, "-p", f"@{params}", "-p", "count=1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("ok ") and "Created" in line and STORAGE in line for line in lines), done.stdout
    assert "Succeeded" in done.stdout
    table = lines[lines.index(next(x for x in lines if x.startswith("Name"))):]
    assert any(row.split()[:2] == ["tls", "String"] and row.split()[2] == "TLS1_2" for row in table)
    assert any(row.startswith("names") and '"cli' in row for row in table)
    with sim.http() as c:
        dep = c.get(deployment_path(sim, rg_name, "storage"), params=API).json()  # named after the file
    assert dep["properties"]["parameters"]["count"]["value"] == 1

    plan = _deploy(sim, "-g", rg_name, storage, "-p", "prefix=cli", "-p", "count=2", "--what-if")
    assert plan.returncode == 0, plan.stderr
    marks = [line.split()[1] for line in plan.stdout.splitlines() if line[:1] in "+~=-*!"]
    assert sorted(marks) == ["Create", "NoChange"], plan.stdout

    failed = _deploy(sim, "-g", rg_name, str(TEMPLATES / "failing.json"), "-p", "prefix=clifail")
    assert failed.returncode == 1
    assert "DeploymentFailed" in failed.stderr and "PrincipalNotFound" in failed.stderr
    assert any(line.startswith("ERR") and "BadRequest" in line for line in failed.stdout.splitlines())
    bad = _deploy(sim, "-g", rg_name, storage, "-p", "prefix=x")
    assert bad.returncode == 1 and "InvalidTemplate" in bad.stderr and "Length of the value" in bad.stderr
    missing = _deploy(sim, "-g", f"nope-{uuid.uuid4().hex[:6]}", storage, "-p", "prefix=abc")
    assert missing.returncode == 1 and "ResourceGroupNotFound" in missing.stderr


def _az_body(template_text: str, parameters: dict[str, object]) -> bytes:
    """What azure-cli's JsonCTemplatePolicy sends: the file's raw text after an unquoted `template:` key."""
    params = json.dumps({k: {"value": v} for k, v in parameters.items()})
    return f'{{"properties": {{"parameters": {params}, "mode": "Incremental", template:{template_text}}}}}'.encode()


def test_the_azure_cli_body_form_over_raw_rest(sim: Sim, rg_name: str) -> None:
    group(sim, rg_name)
    text = (TEMPLATES / "failing.json").read_text()  # has // comments
    assert "//" in text
    path = deployment_path(sim, rg_name, "azbody")
    raw = _az_body(text, {"prefix": "azb"})
    headers = {"Content-Type": "application/json"}
    with sim.http() as c:
        validated = c.post(f"{path}/validate", params=API, content=raw, headers=headers)
        assert validated.status_code == 200, validated.text
        assert [v["id"].rsplit("/", 1)[-1] for v in validated.json()["properties"]["validatedResources"]][0] == "azba"
        r = c.put(path, params=API, content=raw, headers=headers)
        assert r.status_code == 201, r.text
        dep = c.get(path, params=API).json()
    assert dep["properties"]["provisioningState"] == "Failed"  # the template's role assignment names nobody
    assert resource(sim, rid(sim, rg_name, STORAGE, "azbc")) is not None
    with sim.http() as c:
        broken = c.put(path, params=API, content=b'{"properties": {"mode": "Incremental", template:{"a": [1,}}',
                       headers=headers)
    assert broken.status_code == 400
