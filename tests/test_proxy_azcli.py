"""The real Azure CLI on its default cloud (AzureCloud: no `az cloud register`, no instance-discovery switch) talks
to the simulator through the proxy: only the variables `arm-sim env --proxy` prints. `az keyvault secret set
--vault-name` builds `https://{name}.vault.azure.net` itself, which the proxy answers."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.azcli import AzCli, az_executable
from tests.simserver import Sim, free_range, fresh_database_url

AZ = az_executable()
if AZ is None:
    pytest.skip("Azure CLI not found: set ARM_SIM_AZ, install it in .venv-az (make az) or put az on PATH",
                allow_module_level=True)

pytestmark = pytest.mark.azcli
_SCRUB = ("AZURE_", "ARM_CLOUD_METADATA_URL", "MSI_", "IDENTITY_", "REQUESTS_CA_BUNDLE", "SSL_CERT_", "CURL_CA_BUNDLE",
          "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy", "ARM_SIM_")


@dataclass
class ProxiedAz(AzCli):
    """az with only `arm-sim env --proxy`'s variables (and its own config directory)."""

    proxy_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
        return env | self.proxy_env | {"AZURE_CONFIG_DIR": str(self.config_dir), "AZURE_CORE_NO_COLOR": "1",
                                       "AZURE_CORE_ONLY_SHOW_ERRORS": "1", "AZURE_CORE_SURVEY_MESSAGE": "false"}


@contextlib.contextmanager
def proxied_az(tmp_path_factory: pytest.TempPathFactory, name: str, login: bool = False) -> Iterator[ProxiedAz]:
    """A simulator of its own and the real az on its default cloud, through the proxy (what `env --proxy` prints);
    `login`: signed in as the bootstrap principal."""
    sim = Sim(home=tmp_path_factory.mktemp(name), database_url=fresh_database_url(),
              vault_ports=free_range(2)).start()
    try:
        base = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
        done = subprocess.run([sys.executable, "-m", "arm_sim", "--home", str(sim.home), "env", "--proxy",
                               "--format", "json"], env=base, capture_output=True, text=True, timeout=60, check=True)
        cli = ProxiedAz(sim, tmp_path_factory.mktemp("az-config"), executable=str(AZ),
                        proxy_env=json.loads(done.stdout))
        if login:
            cli.json("login", "--service-principal", "-u", sim.client_id, "-p", sim.client_secret, "--tenant",
                     sim.tenant)
        yield cli
    finally:
        sim.stop()


@pytest.fixture(scope="module")
def az(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxiedAz]:
    with proxied_az(tmp_path_factory, "proxy-az") as cli:
        yield cli


def test_the_cli_on_its_default_cloud(az: ProxiedAz) -> None:
    assert az.json("cloud", "show")["name"] == "AzureCloud"
    subs = az.json("login", "--service-principal", "-u", az.sim.client_id, "-p", az.sim.client_secret,
                   "--tenant", az.sim.tenant)
    assert [s["id"] for s in subs] == [az.sim.subscription]
    group, vault = f"rg-proxy-{uuid.uuid4().hex[:6]}", f"kv{uuid.uuid4().hex[:10]}"
    assert az.json("group", "create", "-n", group, "-l", "eastus")["properties"]["provisioningState"] == "Succeeded"
    created = az.json("keyvault", "create", "-g", group, "-n", vault, "-l", "eastus",
                      "--enable-rbac-authorization", "false")
    assert created["properties"]["vaultUri"] == f"https://{vault}.vault.azure.net/"
    # az found the signed-in principal in Graph (/me refused for an app, then servicePrincipals?$filter=…)
    assert [p["objectId"] for p in created["properties"]["accessPolicies"]] == [az_object_id(az)]
    secret = az.json("keyvault", "secret", "set", "--vault-name", vault, "-n", "greeting", "--value", "hello")
    assert secret["id"].startswith(f"https://{vault}.vault.azure.net/secrets/greeting/")
    assert az.json("keyvault", "secret", "show", "--vault-name", vault, "-n", "greeting")["value"] == "hello"


def az_object_id(az: ProxiedAz) -> str:
    token = az.json("account", "get-access-token", "--resource", "https://management.azure.com/")["accessToken"]
    import jwt

    return str(jwt.decode(token, options={"verify_signature": False})["oid"])


def test_other_hosts_are_refused_never_forwarded(az: ProxiedAz, tmp_path: Path) -> None:
    """az's own calls elsewhere (its version check) are refused by the proxy, and the command still works; a
    request to any other host fails at the proxy."""
    import urllib.request

    proxy = az.proxy_env["HTTPS_PROXY"]
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"https": proxy, "http": proxy}))
    for url in ("https://example.com/", "http://example.com/", "https://azcliprod.blob.core.windows.net/cli"):
        with pytest.raises(OSError) as refused:
            opener.open(url, timeout=10)
        assert "403" in str(refused.value), (url, refused.value)
    assert az.run("version").returncode == 0
