"""The AKS workload-identity tutorial end to end (issue 20), as a new user follows it: the real Azure CLI on its
default cloud through the simulator's proxy (only `arm-sim env --proxy`'s variables, as tests/test_proxy_azcli.py
does), then a "pod" — `arm-sim exec --proxy --workload-identity` — whose script reads the Key Vault secret with the
Azure SDK for Python's `DefaultAzureCredential()` and no arguments at all.

learn.microsoft.com/azure/aks/workload-identity-deploy-cluster: `az aks create --enable-oidc-issuer
--enable-workload-identity`, `az aks show --query oidcIssuerProfile.issuerUrl`, `az identity create`, `az keyvault
create` + `secret set`, an access policy for the identity, `az identity federated-credential create --issuer
<the cluster's issuer> --subject system:serviceaccount:NS:SA`; the pod reads the secret. Then the credential is
deleted and the next pod is refused with Entra's AADSTS700211 (domain/federation.py). az is slow to start: the module
keeps to about a dozen az calls and runs its own simulator. Between the two pods, az itself signs in with the
cluster's token (`az login --service-principal --federated-token`) and reads the group and the secret as the identity.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.azcli import az_executable
from tests.simserver import Sim
from tests.test_proxy_azcli import ProxiedAz, proxied_az

AZ = az_executable()
if AZ is None:
    pytest.skip("Azure CLI not found: set ARM_SIM_AZ, install it in .venv-az (make az) or put az on PATH",
                allow_module_level=True)

pytestmark = pytest.mark.azcli

NAMESPACE, SERVICE_ACCOUNT = "default", "workload-identity-sa"
SUBJECT = f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"
# what the tutorial's pod runs (azure-identity picks WorkloadIdentityCredential from the webhook's variables)
POD_SCRIPT = """
    import os, sys
    from azure.identity import DefaultAzureCredential
    from azure.keyvault.secrets import SecretClient
    assert os.environ["AZURE_FEDERATED_TOKEN_FILE"] and "AZURE_CLIENT_SECRET" not in os.environ
    client = SecretClient(sys.argv[1], DefaultAzureCredential())
    print(client.get_secret(sys.argv[2]).value)
"""


@pytest.fixture(scope="module")
def az(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxiedAz]:
    with proxied_az(tmp_path_factory, "aks-wi", login=True) as cli:
        yield cli


def pod(sim: Sim, identity: str, group: str, issuer: str, script: Path, *args: str
        ) -> subprocess.CompletedProcess[str]:
    """`arm-sim exec --proxy --workload-identity`: the pod, with no simulator-specific variable in its code."""
    return sim.cli("exec", "--proxy", "--workload-identity", identity, "-g", group, "--issuer", issuer,
                   "--subject", SUBJECT, "--", sys.executable, str(script), *args, timeout=180)


def test_the_aks_workload_identity_tutorial(az: ProxiedAz, tmp_path: Path) -> None:
    sim = az.sim
    group, cluster = f"rg-aks-wi-{uuid.uuid4().hex[:6]}", "myAKSCluster"
    vault, identity = f"kvwi{uuid.uuid4().hex[:10]}", "myIdentity"
    az.json("group", "create", "-n", group, "-l", "eastus")

    # the cluster, with its OIDC issuer and workload identity
    created = az.json("aks", "create", "-g", group, "-n", cluster, "--node-count", "1", "--enable-oidc-issuer",
                      "--enable-workload-identity", "--no-ssh-key")
    assert created["provisioningState"] == "Succeeded"
    assert created["securityProfile"]["workloadIdentity"]["enabled"] is True
    assert created["kubernetesVersion"] and created["agentPoolProfiles"][0]["vmSize"]
    issuer = az.run("aks", "show", "-g", group, "-n", cluster, "--query", "oidcIssuerProfile.issuerUrl",
                    "-o", "tsv").stdout.strip()
    assert issuer.startswith("https://eastus.oic.prod-aks.azure.com/") and issuer.endswith("/")

    # the identity, the vault and its secret, and the identity's access to it
    ident = az.json("identity", "create", "-g", group, "-n", identity, "-l", "eastus")
    az.json("keyvault", "create", "-g", group, "-n", vault, "-l", "eastus", "--enable-rbac-authorization", "false")
    az.json("keyvault", "secret", "set", "--vault-name", vault, "-n", "my-secret", "--value", "Hello!")
    az.json("keyvault", "set-policy", "-n", vault, "--secret-permissions", "get", "--object-id",
            ident["principalId"])

    # the federated credential for the cluster's service account
    fic = az.json("identity", "federated-credential", "create", "-g", group, "--identity-name", identity,
                  "-n", "myFedIdentity", "--issuer", issuer, "--subject", SUBJECT,
                  "--audience", "api://AzureADTokenExchange")
    assert (fic["issuer"], fic["subject"], fic["audiences"]) == (issuer, SUBJECT, ["api://AzureADTokenExchange"])

    # the pod reads the secret as the identity
    script = tmp_path / "pod.py"
    script.write_text(textwrap.dedent(POD_SCRIPT))
    uri = f"https://{vault}.vault.azure.net/"
    read = pod(sim, identity, group, issuer, script, uri, "my-secret")
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == "Hello!"

    # the cluster's token signs az in as the identity too (`az login --federated-token`), on Azure's default cloud
    az.json("role", "assignment", "create", "--assignee-object-id", ident["principalId"], "--assignee-principal-type",
            "ServicePrincipal", "--role", "Reader", "--scope", created["id"].split("/providers/")[0])
    printed = sim.cli("oidc", "token", "--issuer", issuer, "--subject", SUBJECT)
    assert printed.returncode == 0, printed.stderr
    workload = ProxiedAz(sim, tmp_path / "workload-az", executable=str(AZ), proxy_env=az.proxy_env)
    subs = workload.json("login", "--service-principal", "-u", ident["clientId"], "-t", sim.tenant,
                         "--federated-token", printed.stdout.strip())
    assert [s["id"] for s in subs] == [sim.subscription]
    assert workload.json("account", "show")["user"] == {"name": ident["clientId"], "type": "servicePrincipal"}
    assert [g["name"] for g in workload.json("group", "list")] == [group]
    shown = workload.json("keyvault", "secret", "show", "--vault-name", vault, "-n", "my-secret")
    assert shown["value"] == "Hello!"

    # the credential deleted: the next pod is refused by Entra, at once
    az.run("identity", "federated-credential", "delete", "-g", group, "--identity-name", identity,
           "-n", "myFedIdentity", "--yes")
    refused = pod(sim, identity, group, issuer, script, uri, "my-secret")
    assert refused.returncode != 0
    assert "AADSTS700211" in refused.stderr, refused.stderr
    assert "Hello!" not in refused.stdout
