"""Code running on the VM: its identities' tokens come from IMDS, and Key Vault enforces the template's access
policies on them (azure-identity's ManagedIdentityCredential and azure-keyvault-secrets, unmodified)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt
import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity import ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient
from azure.mgmt.resource import ResourceManagementClient

from arm_sim.testing import ArmSim
from tests.examples.infra import SECRET

VAULT = "https://vault.azure.net/.default"


def secrets(arm_sim: ArmSim, vault_uri: str, credential: Any) -> SecretClient:
    # the simulator's vaults are at https://localhost:PORT, not *.vault.azure.net: skip that challenge check
    return SecretClient(vault_uri, credential, verify_challenge_resource=False, connection_verify=arm_sim.ca)


def test_the_vm_reads_the_secret_with_its_system_assigned_identity(arm_sim: ArmSim, infra: dict[str, Any],
                                                                   inside: Callable[[str], None]) -> None:
    inside(infra["vmId"])
    with ManagedIdentityCredential() as credential, secrets(arm_sim, infra["vaultUri"], credential) as client:
        assert client.get_secret("db-password").value == SECRET
        claims = jwt.decode(credential.get_token(VAULT).token, options={"verify_signature": False})
        assert claims["oid"] == infra["vmPrincipalId"]
        assert [p.name for p in client.list_properties_of_secrets()] == ["db-password"]  # its policy has "list"


def test_the_vm_reads_the_secret_with_its_user_assigned_identity(arm_sim: ArmSim, infra: dict[str, Any],
                                                                 inside: Callable[[str], None]) -> None:
    inside(infra["vmId"])
    credential = ManagedIdentityCredential(client_id=infra["identityClientId"])
    with credential, secrets(arm_sim, infra["vaultUri"], credential) as client:
        assert client.get_secret("db-password").value == SECRET
        with pytest.raises(HttpResponseError) as refused:  # its policy has "get" only
            next(iter(client.list_properties_of_secrets()))
        assert refused.value.status_code == 403


def test_the_user_assigned_identity_reads_the_group_and_writes_nothing(arm_sim: ArmSim, infra: dict[str, Any],
                                                                       inside: Callable[[str], None]) -> None:
    inside(infra["vmId"])
    credential = ManagedIdentityCredential(client_id=infra["identityClientId"])
    with arm_sim.client(ResourceManagementClient, credential=credential) as rm:
        names = {r.name for r in rm.resources.list_by_resource_group(infra["group"])}  # Reader on the group
        assert {"app-id", "app-vnet", "app-nic", "app-vm"} < names and len(names) == 6  # (+ the account, the vault)
        with pytest.raises(HttpResponseError) as refused:
            rm.resource_groups.create_or_update(infra["group"], {"location": "eastus", "tags": {"x": "y"}})
        assert refused.value.status_code == 403


def test_the_deployer_cannot_read_the_secret(arm_sim: ArmSim, infra: dict[str, Any]) -> None:
    # an Owner of the subscription, but the vault uses access policies and names only the two identities
    # (a vault URL: request() sends a Key Vault token)
    r = arm_sim.request("GET", f"{infra['vaultUri']}secrets/db-password?api-version=7.4")
    assert r.status == 403 and r.code == "Forbidden"
