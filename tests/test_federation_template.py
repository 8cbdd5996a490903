"""The GitHub Actions flow through an ARM template (issue 20): one deployment, through azure-mgmt-resource's
ResourceManagementClient, creates a user-assigned identity, its federated credential for
`repo:ORG/REPO:ref:refs/heads/main` (issuer https://token.actions.githubusercontent.com) and a Reader role assignment
on the resource group. A job on `main` (an assertion arm-sim's GitHub issuer signs, exchanged by azure-identity's
WorkloadIdentityCredential) lists the group's resources; a job on another branch is refused with AADSTS700213."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.simserver import Sim
from tests.test_deployments_api import body, group

GITHUB = "https://token.actions.githubusercontent.com"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
UAI = "Microsoft.ManagedIdentity/userAssignedIdentities"

TEMPLATE: dict[str, Any] = {
    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "parameters": {"identityName": {"type": "string"}, "repository": {"type": "string"},
                   "branch": {"type": "string", "defaultValue": "main"}},
    "variables": {"identityId": f"[resourceId('{UAI}', parameters('identityName'))]"},
    "resources": [
        {"type": UAI, "apiVersion": "2023-01-31", "name": "[parameters('identityName')]",
         "location": "[resourceGroup().location]"},
        {"type": f"{UAI}/federatedIdentityCredentials", "apiVersion": "2023-01-31",
         "name": "[format('{0}/github-{1}', parameters('identityName'), parameters('branch'))]",
         "dependsOn": ["[variables('identityId')]"],
         "properties": {"issuer": GITHUB, "audiences": ["api://AzureADTokenExchange"],
                        "subject": "[format('repo:{0}:ref:refs/heads/{1}', parameters('repository'), "
                                   "parameters('branch'))]"}},
        {"type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01",
         "name": "[guid(resourceGroup().id, variables('identityId'), 'Reader')]",
         "dependsOn": ["[variables('identityId')]"],
         "properties": {"principalId": "[reference(variables('identityId'), '2023-01-31').principalId]",
                        "principalType": "ServicePrincipal",
                        "roleDefinitionId": f"[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', "
                                            f"'{READER}')]"}}],
    "outputs": {"clientId": {"type": "string",
                             "value": "[reference(variables('identityId'), '2023-01-31').clientId]"},
                "principalId": {"type": "string",
                                "value": "[reference(variables('identityId'), '2023-01-31').principalId]"},
                "tenantId": {"type": "string", "value": "[subscription().tenantId]"}},
}


@pytest.fixture(scope="module")
def rm(sim: Sim) -> Any:
    with sim.resource_client() as client:
        yield client


def github_job(sim: Sim, arm: httpx.Client, tmp_path: Path, subject: str) -> Path:
    """The token file a GitHub Actions job holds (azure/login writes its OIDC token the same way)."""
    r = arm.post("/_sim/oidc/token", json={"issuer": GITHUB, "subject": subject})
    assert r.status_code == 200, r.text
    path = tmp_path / f"token-{uuid.uuid4().hex[:6]}"
    path.write_text(r.json()["token"])
    return path


def test_a_template_federates_an_identity_with_a_github_branch(sim: Sim, rm: Any, arm: httpx.Client,
                                                               tmp_path: Path) -> None:
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import WorkloadIdentityCredential

    rg = f"rg-gh-{uuid.uuid4().hex[:8]}"
    group(sim, rg)
    repo = f"contoso/app-{uuid.uuid4().hex[:6]}"
    out = rm.deployments.begin_create_or_update(rg, "github-oidc", body(
        TEMPLATE, identityName="github-deployer", repository=repo)).result().properties.outputs
    client_id, tenant = out["clientId"]["value"], out["tenantId"]["value"]
    assert tenant == sim.tenant

    def as_job(subject: str) -> Any:
        cred = WorkloadIdentityCredential(tenant_id=tenant, client_id=client_id, authority=sim.url,
                                          token_file_path=str(github_job(sim, arm, tmp_path, subject)),
                                          disable_instance_discovery=True, connection_verify=sim.ca)
        return sim.resource_client(cred)

    with as_job(f"repo:{repo}:ref:refs/heads/main") as job:
        names = sorted(r.name for r in job.resources.list_by_resource_group(rg))
        assert names == ["github-deployer"]
        assert job.resource_groups.get(rg).name == rg
    with as_job(f"repo:{repo}:ref:refs/heads/feature") as other, pytest.raises(
            ClientAuthenticationError, match="AADSTS700213"):
        list(other.resources.list_by_resource_group(rg))
    # the refusal is on the record, with the credential that came closest and the field that differed
    refusal = arm.get("/_sim/events", params={"kind": "federation.refused", "principal": out["principalId"]["value"]}
                      ).json()["value"][-1]["details"]
    assert refusal["reason"] == "AADSTS700213" and refusal["differingField"] == "subject"
    assert refusal["closestCredential"].endswith("/federatedIdentityCredentials/github-main")
    # and `arm-sim oidc explain` shows it beside what the credential holds
    shown = sim.cli("oidc", "explain", "github-deployer", "-g", rg, "-o", "json")
    assert shown.returncode == 0, shown.stderr
    last = json.loads(shown.stdout)[-1]
    assert last["reason"] == "AADSTS700213" and last["differingField"] == "subject"
    assert last["credentialHas"] == f"repo:{repo}:ref:refs/heads/main"
    assert last["presented"]["subject"] == f"repo:{repo}:ref:refs/heads/feature"
    text = sim.cli("oidc", "explain", "github-deployer", "-g", rg).stdout
    assert "differs on  subject: the credential has" in text and "federation.exchanged" in text
