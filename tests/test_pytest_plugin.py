"""The pytest plugin (entry point `arm_sim`): its fixtures and `ArmSim`'s calls used directly (the plugin is
installed with arm-sim), and the README's example test. Whole sessions in a subprocess (options, xdist, attach
mode, the example suite against a server) are in test_pytest_plugin_sessions.py."""

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

from arm_sim.testing import ArmError, ArmSim, DeploymentFailed, DeploymentRefused
from arm_sim.testing.vm import nic, properties

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
    plain = {k: v for k, v in os.environ.items() if not k.startswith("ARM_SIM_")}
    out = subprocess.run([sys.executable, "-m", "arm_sim", "--home", str(arm_sim.home), "env", "--format", "json"],
                         env=plain, capture_output=True, text=True, timeout=60)
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


# --- request(): the token for the audience, and the Reply -------------------------------------------------------

def test_request_sends_a_token_for_the_audience(arm_sim: ArmSim, arm_sim_rg: str) -> None:
    graph = arm_sim.request("GET", "/v1.0/servicePrincipals?$top=1")  # Graph's path: a Graph token
    assert graph.status == 200 and graph.ok and isinstance(graph.body["value"], list) and graph.error is None
    wrong = arm_sim.request("GET", "/v1.0/servicePrincipals?$top=1", audience="arm")
    assert wrong.status == 401 and not wrong.ok and wrong.code and wrong.text

    me = jwt.decode(arm_sim.token(), options={"verify_signature": False})["oid"]
    vault_id = f"{arm_sim.group_id(arm_sim_rg)}/providers/Microsoft.KeyVault/vaults/kv{uuid.uuid4().hex[:12]}"
    vault = put(arm_sim, vault_id, "2023-07-01", {"location": "eastus", "properties": {
        "tenantId": arm_sim.tenant, "sku": {"family": "A", "name": "standard"},
        "accessPolicies": [{"tenantId": arm_sim.tenant, "objectId": me, "permissions": {"secrets": ["all"]}}]}})
    secret = f"{vault['properties']['vaultUri']}secrets/greeting?api-version=7.4"
    written = arm_sim.request("PUT", secret, {"value": "hello"})  # another HTTPS origin: a Key Vault token
    assert written.status == 200 and written.body["value"] == "hello"
    assert arm_sim.request("GET", secret, audience="vault").body["value"] == "hello"
    assert arm_sim.request("GET", secret, audience="https://management.azure.com").status == 401


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
    vm = f"{arm_sim.group_id(arm_sim_rg)}/providers/Microsoft.Compute/virtualMachines/web-1"
    assert [d["resourceId"].lower() for d in arm_sim.audit(arm_sim_rg)["danglingUserAssignedIdentities"]] == [
        vm.lower()]  # and the VM still names the deleted identity


def test_the_readme_refusal(arm_sim: ArmSim, arm_sim_rg: str) -> None:
    EXAMPLE["test_an_unknown_location_is_refused_before_anything_is_deployed"](arm_sim, arm_sim_rg)
    assert arm_sim.request("GET", f"{arm_sim.group_id(arm_sim_rg)}/resources?api-version=2025-04-01").body[
        "value"] == []  # nothing deployed


def test_refused_and_failed_deployments_are_told_apart(arm_sim: ArmSim, arm_sim_rg: str) -> None:
    with pytest.raises(DeploymentRefused) as refused:  # refused before it runs: a required parameter is missing
        arm_sim.deploy(TEMPLATE, {}, resource_group=arm_sim_rg)
    assert refused.value.status == 400 and refused.value.code == "InvalidTemplate"
    assert "vmName" in refused.value.message and not isinstance(refused.value, DeploymentFailed)
    assert isinstance(refused.value, ArmError) and refused.value.error.codes == ["InvalidTemplate"]

    assignment = TEMPLATE["resources"][1]  # to a principal that does not exist (without principalType, the
    properties = {"roleDefinitionId": assignment["properties"]["roleDefinitionId"],  # directory is consulted)
                  "principalId": str(uuid.uuid4())}
    failing = {**TEMPLATE, "resources": [{**assignment, "dependsOn": [], "properties": properties}], "outputs": {}}
    with pytest.raises(DeploymentFailed) as failed:  # ran, and a resource failed
        arm_sim.deploy(failing, {"vmName": "web-1"}, resource_group=arm_sim_rg)
    assert failed.value.status is None and failed.value.code == "DeploymentFailed"
    assert "PrincipalNotFound" in failed.value.codes and not isinstance(failed.value, DeploymentRefused)
    assert "PrincipalNotFound" in str(failed.value)


IDENTITY = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
            "contentVersion": "1.0.0.0", "parameters": {"env": {"type": "string"}},
            "resources": [{"type": "Microsoft.ManagedIdentity/userAssignedIdentities", "apiVersion": "2023-01-31",
                           "name": "app-id", "location": "eastus", "tags": {"env": "[parameters('env')]"}}]}


def test_validate_and_what_if_are_typed(arm_sim: ArmSim, arm_sim_rg: str) -> None:
    uai = f"{arm_sim.group_id(arm_sim_rg)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-id"
    valid = arm_sim.validate(IDENTITY, {"env": "dev"}, resource_group=arm_sim_rg)
    assert valid.ok and valid.error is None and [r.lower() for r in valid.resources] == [uai.lower()]
    invalid = arm_sim.validate(IDENTITY, {}, resource_group=arm_sim_rg)
    assert not invalid.ok and invalid.status == 400 and invalid.error and invalid.error.code == "InvalidTemplate"

    created = arm_sim.what_if(IDENTITY, {"env": "dev"}, resource_group=arm_sim_rg)
    assert [(c.change_type, c.resource_id.lower()) for c in created.changes] == [("Create", uai.lower())]
    assert created[uai].after and created[uai].after["tags"] == {"env": "dev"} and created[uai].before is None
    arm_sim.deploy(IDENTITY, {"env": "dev"}, resource_group=arm_sim_rg)
    modified = arm_sim.what_if(IDENTITY, {"env": "prod"}, resource_group=arm_sim_rg)
    change = modified[uai]
    assert change.change_type == "Modify" and change.paths == ["tags.env"]
    assert (change.delta[0].change_type, change.delta[0].before, change.delta[0].after) == ("Modify", "dev", "prod")
    assert arm_sim.what_if(IDENTITY, {"env": "dev"}, resource_group=arm_sim_rg, full=False).types == {
        uai.lower(): "NoChange"}
    with pytest.raises(DeploymentRefused) as refused:
        arm_sim.what_if(IDENTITY, {}, resource_group=arm_sim_rg)
    assert refused.value.code == "InvalidTemplate"


def test_the_audit_is_scoped(arm_sim: ArmSim, arm_sim_rg: str) -> None:
    other = arm_sim.create_resource_group()
    try:
        for group in (arm_sim_rg, other):
            arm_sim.deploy({**IDENTITY, "resources": [*IDENTITY["resources"], {
                "type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01",
                "name": "[guid(resourceGroup().id, 'app-id')]", "dependsOn": ["app-id"],
                "properties": {"roleDefinitionId": f"/subscriptions/{arm_sim.subscription}/providers/"
                               f"Microsoft.Authorization/roleDefinitions/{READER}", "principalType": "ServicePrincipal",
                               "principalId": "[reference('app-id').principalId]"}}]}, {"env": "x"},
                resource_group=group)
        uai = f"{arm_sim.group_id(arm_sim_rg)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-id"
        assert arm_sim.request("DELETE", f"{uai}?api-version=2023-01-31").ok
        report = arm_sim.audit(scope=arm_sim_rg)  # a group's name, or any resource id
        assert list(report) == ["orphanedRoleAssignments", "orphanedAccessPolicies",
                                "danglingUserAssignedIdentities", "expiredCredentials"]
        assert [o["scope"].lower() for o in report["orphanedRoleAssignments"]] == [
            arm_sim.group_id(arm_sim_rg).lower()]
        assert arm_sim.audit(scope=arm_sim.group_id(other)) == {k: [] for k in report}
        arm_sim.assert_no_orphans(other)
        with pytest.raises(AssertionError, match="orphanedRoleAssignments"):
            arm_sim.assert_no_orphans(arm_sim_rg)
    finally:
        arm_sim.delete_resource_group(other)


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
