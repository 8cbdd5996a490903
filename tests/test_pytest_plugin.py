"""The pytest plugin (entry point `arm_sim`): its fixtures used directly (the plugin is installed with arm-sim),
the README's example test, and a pytester run in a subprocess for what only a whole session shows (options, a
given database, groups deleted after their test)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity import ManagedIdentityCredential
from azure.mgmt.resource import ResourceManagementClient, SubscriptionClient

from arm_sim.testing import ArmError, ArmSim, DeploymentFailed
from arm_sim.testing.vm import nic, properties

pytest_plugins = ["pytester"]

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
# What would make azure-identity pick another credential source than the one a test sets up.
IDENTITY_VARIABLES = ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                      "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT",
                      "MSI_ENDPOINT", "MSI_SECRET", "AZURE_FEDERATED_TOKEN_FILE")


@pytest.fixture
def inside(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`inside(variables)`: the rest of the test runs as code inside a VM or site with those variables."""
    for name in IDENTITY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield lambda variables: [monkeypatch.setenv(k, v) for k, v in variables.items()]


def put(arm_sim: ArmSim, resource_id: str, api_version: str, body: dict[str, Any]) -> dict[str, Any]:
    r = arm_sim.request("PUT", f"{resource_id}?api-version={api_version}", body)
    assert r.status in (200, 201), r.body
    return r.body


# --- the fixture's connection details and client factories ------------------------------------------------------

def test_connection_details_are_what_arm_sim_env_prints(arm_sim: ArmSim) -> None:
    assert arm_sim.url.startswith("https://localhost:") and arm_sim.imds_url.startswith("http://localhost:")
    assert Path(arm_sim.ca).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert Path(arm_sim.ca_bundle).read_text().startswith(Path(arm_sim.ca).read_text())
    out = arm_sim.server.cli("env", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == arm_sim.env()
    assert arm_sim.env()["AZURE_SUBSCRIPTION_ID"] == arm_sim.subscription


def test_credential_client_and_token(arm_sim: ArmSim, arm_sim_rg: str) -> None:
    with arm_sim.client(ResourceManagementClient) as rm:
        group = rm.resource_groups.get(arm_sim_rg)
        assert group.name == arm_sim_rg and group.location == "eastus"
        assert group.id.lower() == arm_sim.group_id(arm_sim_rg).lower()
    with arm_sim.client(SubscriptionClient) as subscriptions:  # a client without a subscription_id parameter
        assert [s.subscription_id for s in subscriptions.subscriptions.list()] == [arm_sim.subscription]
    claims = jwt.decode(arm_sim.token(), options={"verify_signature": False})
    assert claims["tid"] == arm_sim.tenant


def test_each_test_gets_an_empty_group_of_its_own(arm_sim: ArmSim, arm_sim_rg: str) -> None:
    assert arm_sim_rg.startswith("test_each_test_gets_an_empty_group_of_its_own-")
    r = arm_sim.request("GET", f"{arm_sim.group_id(arm_sim_rg)}/resources?api-version=2025-04-01")
    assert r.status == 200 and r.body["value"] == []


def test_errors_carry_the_arm_error(arm_sim: ArmSim) -> None:
    with pytest.raises(ArmError) as caught:
        arm_sim.managed_identity_env(f"/subscriptions/{arm_sim.subscription}/resourceGroups/nowhere/providers/"
                                     "Microsoft.Compute/virtualMachines/none")
    assert caught.value.status == 404 and caught.value.code == "IdentityEndpointNotFound"
    assert "IdentityEndpointNotFound" in str(caught.value)


# --- identity endpoints: code "inside" a VM and a site ----------------------------------------------------------

def test_managed_identity_env_of_a_vm_with_a_granted_identity(arm_sim: ArmSim, arm_sim_rg: str, inside: Any) -> None:
    rg = arm_sim.group_id(arm_sim_rg)
    uai = put(arm_sim, f"{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-id", "2023-01-31",
              {"location": "eastus"})
    put(arm_sim, f"{rg}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}", "2022-04-01",
        {"properties": {"roleDefinitionId": f"/subscriptions/{arm_sim.subscription}/providers/"
                        f"Microsoft.Authorization/roleDefinitions/{READER}",
                        "principalId": uai["properties"]["principalId"], "principalType": "ServicePrincipal"}})
    with arm_sim.http() as c:
        nic_id = nic(c, rg)
    vm = put(arm_sim, f"{rg}/providers/Microsoft.Compute/virtualMachines/vm1", "2024-07-01", {
        "location": "eastus", "identity": {"type": "UserAssigned", "userAssignedIdentities": {uai["id"]: {}}},
        "properties": properties(nic_id, "vm1")})
    env = arm_sim.managed_identity_env(vm["id"])
    assert set(env) == {"AZURE_POD_IDENTITY_AUTHORITY_HOST"}
    base, _, key = env["AZURE_POD_IDENTITY_AUTHORITY_HOST"].rpartition("/vms/")
    # the VM's secret IMDS key, never its public vmId
    assert base == arm_sim.imds_url and len(key) >= 32 and key != vm["properties"]["vmId"]

    inside(env)
    credential = ManagedIdentityCredential(client_id=uai["properties"]["clientId"])
    with arm_sim.client(ResourceManagementClient, credential=credential) as rm:
        assert {"app-id", "vm1"} <= {r.name for r in rm.resources.list_by_resource_group(arm_sim_rg)}
        with pytest.raises(HttpResponseError) as refused:  # Reader: no writes
            rm.resource_groups.create_or_update(arm_sim_rg, {"location": "eastus", "tags": {"x": "y"}})
        assert refused.value.status_code == 403


def test_managed_identity_env_of_a_site(arm_sim: ArmSim, arm_sim_rg: str, inside: Any) -> None:
    rg = arm_sim.group_id(arm_sim_rg)
    plan = put(arm_sim, f"{rg}/providers/Microsoft.Web/serverfarms/plan", "2024-04-01",
               {"location": "eastus", "sku": {"name": "B1"}})
    site = put(arm_sim, f"{rg}/providers/Microsoft.Web/sites/app-{uuid.uuid4().hex[:10]}", "2024-04-01", {
        "location": "eastus", "identity": {"type": "SystemAssigned"}, "properties": {"serverFarmId": plan["id"]}})
    env = arm_sim.managed_identity_env(site["id"])
    assert set(env) == {"IDENTITY_ENDPOINT", "IDENTITY_HEADER"}
    assert env["IDENTITY_ENDPOINT"].startswith(f"{arm_sim.imds_url}/sites/")

    inside(env)
    token = ManagedIdentityCredential().get_token("https://vault.azure.net/.default").token
    assert jwt.decode(token, options={"verify_signature": False})["oid"] == site["identity"]["principalId"]


# --- clock, events, reset ---------------------------------------------------------------------------------------

def test_clock_events_and_reset(arm_sim: ArmSim, request: pytest.FixtureRequest) -> None:
    kept = {"tenant": arm_sim.tenant, "subscription": arm_sim.subscription, "client": arm_sim.client_id}
    group = arm_sim.create_resource_group()
    first = arm_sim.advance_clock("1h")
    second = arm_sim.advance_clock(90)
    assert second["offsetSeconds"] - first["offsetSeconds"] == pytest.approx(90)
    assert [e["details"]["by"] for e in arm_sim.events(kind="clock.advanced")][-2:] == ["1h", "90"]

    # the arm_sim_reset fixture (a test would normally just ask for it), which also leaves the clock at real time
    # for the tests that follow on this worker
    assert request.getfixturevalue("arm_sim_reset") is arm_sim
    assert {"tenant": arm_sim.tenant, "subscription": arm_sim.subscription, "client": arm_sim.client_id} == kept
    assert arm_sim.request("GET", f"{arm_sim.group_id(group)}?api-version=2025-04-01").status == 404
    assert arm_sim.request("GET", "/_sim/clock").body["offsetSeconds"] == 0
    assert arm_sim.events(kind="clock.advanced") == []


# --- deploy(): the README's example, run as it is written there -------------------------------------------------

def readme_example() -> dict[str, Any]:
    """The python block of the README's pytest section, executed: its TEMPLATE and its test function."""
    readme = Path(__file__).resolve().parent.parent / "README.md"
    section = readme.read_text().split("## Testing your infrastructure code with pytest", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's pytest section has no python example"
    namespace: dict[str, Any] = {}
    exec(compile(match.group(1), str(readme), "exec"), namespace)
    return namespace


EXAMPLE = readme_example()
TEMPLATE: dict[str, Any] = EXAMPLE["TEMPLATE"]


def test_the_readme_example(arm_sim: ArmSim, arm_sim_rg: str, monkeypatch: pytest.MonkeyPatch, inside: Any) -> None:
    EXAMPLE["test_the_vm_identity_can_read_its_group"](arm_sim, arm_sim_rg, monkeypatch)
    first = arm_sim.events(kind="servicePrincipal.created")
    again = arm_sim.deploy(TEMPLATE, {"vmName": "web-1"}, resource_group=arm_sim_rg)
    assert again["assignedTo"] == again["principalId"]
    assert arm_sim.events(kind="servicePrincipal.created") == first  # idempotent: no new principal the second time


def test_deploy_raises_the_arm_error(arm_sim: ArmSim, arm_sim_rg: str) -> None:
    with pytest.raises(ArmError) as refused:  # refused before it runs: a required parameter is missing
        arm_sim.deploy(TEMPLATE, {}, resource_group=arm_sim_rg)
    assert refused.value.status == 400 and refused.value.code == "InvalidTemplate"
    assert "vmName" in refused.value.message and not isinstance(refused.value, DeploymentFailed)

    assignment = TEMPLATE["resources"][1]  # to a principal that does not exist (without principalType, the
    properties = {"roleDefinitionId": assignment["properties"]["roleDefinitionId"],  # directory is consulted)
                  "principalId": str(uuid.uuid4())}
    failing = {**TEMPLATE, "resources": [{**assignment, "dependsOn": [], "properties": properties}], "outputs": {}}
    with pytest.raises(DeploymentFailed) as failed:  # ran, and a resource failed
        arm_sim.deploy(failing, {"vmName": "web-1"}, resource_group=arm_sim_rg)
    assert failed.value.status is None and failed.value.code == "DeploymentFailed"
    assert "PrincipalNotFound" in str(failed.value)


SUBSCRIPTION_TEMPLATE = """{
  "$schema": "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {"name": {"type": "string"}},  // JSON with comments, as Bicep and people write it
  "resources": [{"type": "Microsoft.Resources/resourceGroups", "apiVersion": "2025-04-01",
                 "name": "[parameters('name')]", "location": "[deployment().location]"}],
  "outputs": {"location": {"type": "string", "value": "[deployment().location]"}}
}"""


def test_deploy_a_file_at_the_subscription(arm_sim: ArmSim, tmp_path: Path) -> None:
    template = tmp_path / "main.json"
    template.write_text(SUBSCRIPTION_TEMPLATE)
    name = f"rg-made-{uuid.uuid4().hex[:8]}"
    try:
        assert arm_sim.deploy(template, {"name": name}, location="westeurope") == {"location": "westeurope"}
        group = arm_sim.request("GET", f"{arm_sim.group_id(name)}?api-version=2025-04-01")
        assert group.status == 200 and group.body["location"] == "westeurope"
    finally:
        arm_sim.delete_resource_group(name)


# --- a whole session in a subprocess: options, a given database, per-test groups -------------------------------

SESSION = '''
created = []


def test_first(arm_sim, arm_sim_rg):
    assert arm_sim.tenant == "{tenant}"  # the bootstrap of the database it was given
    created.append(arm_sim_rg)
    other = arm_sim.create_resource_group()
    r = arm_sim.request("DELETE", arm_sim.group_id(other) + "?api-version=2025-04-01")
    assert r.status == 202 and "azure-asyncoperation" in r.headers  # --arm-sim-lro async: as Azure


def test_second(arm_sim, arm_sim_rg):
    assert arm_sim_rg != created[0]
    gone = arm_sim.request("GET", arm_sim.group_id(created[0]) + "?api-version=2025-04-01")
    assert gone.status == 404  # the first test's group went when the test ended
'''


def test_a_session_with_the_plugin(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # a database that already has a bootstrap (another tenant than the plugin would pin): the plugin adopts it
    url, tenant = f"sqlite:///{pytester.path / 'given.db'}", str(uuid.uuid4())
    out = subprocess.run([sys.executable, "-m", "arm_sim", "--home", str(pytester.path / "given"), "--database-url",
                          url, "migrate"], env={**os.environ, "ARM_SIM_TENANT_ID": tenant}, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    monkeypatch.setenv("ARM_SIM_LRO", "sync")  # the shell's ARM_SIM_* settings do not reach the plugin's simulator
    pytester.makepyfile(test_session=SESSION.replace("{tenant}", tenant))
    result = pytester.runpytest_subprocess("--arm-sim-lro", "async", "--arm-sim-database-url", url,
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_bad_settings_are_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\narm_sim_env =\n    NOT_A_SETTING\n")
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*arm_sim_env lines are ARM_SIM_NAME=value*"])
