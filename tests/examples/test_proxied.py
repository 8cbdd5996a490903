"""Code written for Azure, not for a simulator: no authority, base URL, scope or CA in sight. The plugin's
`azure_proxy` fixture (or `with arm_sim.proxied(vm=...)`) points this process at the simulator's proxy, which
answers Azure's own host names: management.azure.com, login.microsoftonline.com, `{vault}.vault.azure.net` and
IMDS at 169.254.169.254."""

from __future__ import annotations

import os
import uuid
from typing import Any

import jwt
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.resource import ResourceManagementClient

from arm_sim.testing import ArmSim
from tests.examples.infra import SECRET


def test_unmodified_azure_code_runs_against_the_simulator(arm_sim: ArmSim, arm_sim_rg: str,
                                                          azure_proxy: dict[str, str]) -> None:
    subscription = os.environ["AZURE_SUBSCRIPTION_ID"]
    credential = DefaultAzureCredential()
    groups = [g.name for g in ResourceManagementClient(credential, subscription).resource_groups.list()]
    assert arm_sim_rg in groups
    me = jwt.decode(arm_sim.token(), options={"verify_signature": False})["oid"]  # the bootstrap principal
    name = f"kv{uuid.uuid4().hex[:10]}"
    vault = KeyVaultManagementClient(credential, subscription).vaults.begin_create_or_update(arm_sim_rg, name, {
        "location": "eastus", "properties": {
            "tenantId": os.environ["AZURE_TENANT_ID"], "sku": {"family": "A", "name": "standard"},
            "accessPolicies": [{"tenantId": os.environ["AZURE_TENANT_ID"], "objectId": me,
                                 "permissions": {"secrets": ["set", "get"]}}]}}).result()
    assert vault.properties.vault_uri == f"https://{name}.vault.azure.net/"
    with SecretClient(vault.properties.vault_uri, credential) as secrets:  # the challenge check left on
        secrets.set_secret("greeting", "hello")
        assert secrets.get_secret("greeting").value == "hello"


def test_code_on_the_vm_uses_the_real_imds_address(arm_sim: ArmSim, infra: dict[str, Any]) -> None:
    vault = infra["vaultId"].rsplit("/", 1)[1]
    with arm_sim.proxied(vm=infra["vmId"]), ManagedIdentityCredential() as credential, SecretClient(
            f"https://{vault}.vault.azure.net", credential) as secrets:
        assert "AZURE_CLIENT_SECRET" not in os.environ
        assert secrets.get_secret("db-password").value == SECRET
