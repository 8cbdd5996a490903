"""Code written for Azure runs unchanged under the proxy mode: scripts that name no simulator setting at all
(`ClientSecretCredential(t, c, s)`, `DefaultAzureCredential()`, `ResourceManagementClient(cred, sub)`,
`SecretClient("https://{name}.vault.azure.net", cred)` with the challenge check on, `ManagedIdentityCredential()`
against the real IMDS address) run under `arm-sim exec --proxy [--vm NAME]`, which sets only the standard
variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.test_imds import identities
from tests.test_keyvault_secrets import Env, unique
from tests.test_keyvault_secrets import env as env  # noqa: F401 (the module's simulator: a fixture)
from tests.webspec import WEB_API, plan

# Variables of the calling environment that would change where a client goes (a developer's own settings).
_SCRUB = ("AZURE_", "IDENTITY_", "MSI_", "IMDS_", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_", "HTTP_PROXY",
          "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "ARM_SIM_")

AS_DEPLOYER = """
import os, sys
from azure.identity import ClientSecretCredential, DefaultAzureCredential
from azure.keyvault.secrets import SecretClient
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.resource import ResourceManagementClient

tenant, client, secret = os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"], os.environ["AZURE_CLIENT_SECRET"]
subscription, group, name, oid, vm_oid = os.environ["AZURE_SUBSCRIPTION_ID"], *sys.argv[1:5]
cred = ClientSecretCredential(tenant, client, secret)
ResourceManagementClient(cred, subscription).resource_groups.create_or_update(group, {"location": "eastus"})
policy = lambda who, what: {"tenantId": tenant, "objectId": who, "permissions": {"secrets": what}}
vault = KeyVaultManagementClient(cred, subscription).vaults.begin_create_or_update(group, name, {
    "location": "eastus", "properties": {"tenantId": tenant, "sku": {"family": "A", "name": "standard"},
                                         "accessPolicies": [policy(oid, ["all"]), policy(vm_oid, ["get"])]}}).result()
print("vaultUri", vault.properties.vault_uri)
with SecretClient(f"https://{name}.vault.azure.net", DefaultAzureCredential()) as secrets:
    print("id", secrets.set_secret("greeting", "hello from azure code").id)
    print("value", secrets.get_secret("greeting").value)
"""

INSIDE = """
import sys
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient

for credential in (ManagedIdentityCredential(), DefaultAzureCredential()):
    with SecretClient(f"https://{sys.argv[1]}.vault.azure.net", credential) as secrets:
        print("value", secrets.get_secret("greeting").value)
"""

OUTSIDE_VM = """
import time
from azure.identity import CredentialUnavailableError, ManagedIdentityCredential

started = time.monotonic()
try:
    ManagedIdentityCredential().get_token("https://vault.azure.net/.default")
    print("token")
except CredentialUnavailableError as e:
    print("unavailable", round(time.monotonic() - started, 1), str(e).splitlines()[0])
"""


def run(env: Env, tmp_path: Path, script: str, *args: str, inside: tuple[str, ...] = ()) -> dict[str, str]:
    """`arm-sim exec --proxy [--vm NAME] -- python script ARGS`, from an environment with no Azure setting; the
    lines the script prints as `key value`."""
    path = tmp_path / "app.py"
    path.write_text(textwrap.dedent(script))
    base = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    done = subprocess.run([sys.executable, "-m", "arm_sim", "--home", str(env.sim.home), "exec", "--proxy", *inside,
                           "--", sys.executable, str(path), *args], env=base, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)


def env_proxy(env: Env, *more: str) -> dict[str, Any]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    done = subprocess.run([sys.executable, "-m", "arm_sim", "--home", str(env.sim.home), "env", "--proxy",
                           "--format", "json", *more], env=base, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    values: dict[str, Any] = json.loads(done.stdout)
    return values


def test_env_proxy_prints_only_the_standard_variables(env: Env) -> None:
    values = env_proxy(env)
    proxy = f"http://localhost:{env.sim.proxy_port}"
    assert values["HTTPS_PROXY"] == values["HTTP_PROXY"] == values["https_proxy"] == values["http_proxy"] == proxy
    assert values["NO_PROXY"] == "localhost,127.0.0.1,::1"
    assert values["REQUESTS_CA_BUNDLE"] == values["SSL_CERT_FILE"] == env.sim.ca_bundle
    assert Path(values["NODE_EXTRA_CA_CERTS"]).read_text().startswith(Path(env.sim.ca).read_text())
    assert values["AZURE_CLIENT_ID"] == env.sim.client_id and values["AZURE_TENANT_ID"] == env.sim.tenant
    assert not [k for k in values if k.startswith("ARM_SIM_") or k in ("AZURE_AUTHORITY_HOST",
                                                                       "AZURE_POD_IDENTITY_AUTHORITY_HOST")]


def test_env_proxy_keeps_the_callers_bundle_and_exemptions(env: Env, tmp_path: Path) -> None:
    theirs = tmp_path / "corporate.pem"
    theirs.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    base = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    base.update(REQUESTS_CA_BUNDLE=str(theirs), NODE_EXTRA_CA_CERTS=str(theirs),
                NO_PROXY="intranet.example,.azure.com,169.254.169.254,*.vault.azure.net,db")
    done = subprocess.run([sys.executable, "-m", "arm_sim", "--home", str(env.sim.home), "env", "--proxy",
                           "--format", "json"], env=base, capture_output=True, text=True, timeout=60)
    values = json.loads(done.stdout)
    assert values["NO_PROXY"] == "intranet.example,db,localhost,127.0.0.1,::1"  # never around the proxy
    ca = Path(env.sim.ca).read_text()
    for name in ("REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"):
        text = Path(values[name]).read_text()
        assert text.startswith(ca) and theirs.read_text() in text, name


def test_code_written_for_azure_runs_unchanged_through_the_proxy(env: Env, tmp_path: Path) -> None:
    vm = env.vm(unique("vm-proxy-"), identities("SystemAssigned"))
    name, group = unique("kv"), unique("rg-proxy-")
    out = run(env, tmp_path, AS_DEPLOYER, group, name, env.deployer_oid, vm.identity.principal_id)
    assert out["vaultUri"] == f"https://{name}.vault.azure.net/"  # as Azure shows it to a client by Azure's names
    assert out["id"].startswith(f"https://{name}.vault.azure.net/secrets/greeting/")
    assert out["value"] == "hello from azure code"
    # the same vault, asked for directly (no proxy), shows an address that works without one
    direct = env.kvm.vaults.get(group, name).properties.vault_uri
    assert direct.startswith("https://localhost:")
    # code inside the VM: ManagedIdentityCredential and DefaultAzureCredential against the real IMDS address
    inside = run(env, tmp_path, INSIDE, name, inside=("--vm", vm.name))
    assert inside["value"] == "hello from azure code"


def test_code_in_an_app_service_site_through_the_proxy(env: Env, tmp_path: Path) -> None:
    """A site's identity endpoint is local (IDENTITY_ENDPOINT, not proxied: NO_PROXY has localhost); its tokens
    then open the vault by Azure's name through the proxy."""
    group = f"/subscriptions/{env.sim.subscription}/resourceGroups/{env.rg}"
    site = unique("site-proxy-")
    with env.sim.http() as arm:
        r = arm.put(f"{group}/providers/Microsoft.Web/sites/{site}?{WEB_API}", json={
            "location": "westeurope", "kind": "app", "identity": {"type": "SystemAssigned"},
            "properties": {"serverFarmId": plan(arm, group)}})
        assert r.status_code in (200, 201), r.text
        principal = r.json()["identity"]["principalId"]
    vault = env.vault([env.policy(env.deployer_oid, ("all",)), env.policy(principal, ("get",))])
    with env.secrets(vault.properties.vault_uri) as secrets:
        secrets.set_secret("greeting", "hello from the site")
    out = run(env, tmp_path, INSIDE, vault.name, inside=("--site", site))
    assert out["value"] == "hello from the site"


def test_imds_is_unreachable_outside_every_vm(env: Env, tmp_path: Path) -> None:
    out = run(env, tmp_path, OUTSIDE_VM)
    assert "unavailable" in out, out
    seconds = float(out["unavailable"].split()[0])
    assert seconds < 5, out  # refused at once, not after the SDK's retries


def test_tls_for_an_unknown_name_fails_and_never_leaves(env: Env) -> None:
    """A tunnel opened for an Azure name leads to the simulator only: TLS asking there for another name gets a
    certificate that does not name it, so the client's own verification refuses it."""
    import socket
    import ssl

    with socket.create_connection(("localhost", env.sim.proxy_port), timeout=10) as raw:
        raw.sendall(b"CONNECT management.azure.com:443 HTTP/1.1\r\nHost: management.azure.com:443\r\n\r\n")
        assert raw.recv(1024).startswith(b"HTTP/1.1 200")
        context = ssl.create_default_context(cafile=env.sim.ca)
        with pytest.raises(ssl.SSLCertVerificationError):
            context.wrap_socket(raw, server_hostname="example.com")
