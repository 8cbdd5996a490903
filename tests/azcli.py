"""Drive the real Azure CLI against an arm-sim server, configured as /work/shared/reference/clients.md §5 describes.

Every `AzCli` owns an isolated `AZURE_CONFIG_DIR`, trusts the simulator's CA through `ca-bundle.pem` (the
simulator's CA followed by the public roots) and never reaches the public cloud: instance discovery and
telemetry are off, and inherited `AZURE_*` variables are dropped so a developer's own settings cannot leak in.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.simserver import Sim

DEFAULT_AZ = "/work/main/.venv-az/bin/az"
CLOUD_NAME = "ArmSimCloud"
# Inherited variables that would change what az talks to or how it answers.
_DROPPED_PREFIXES = ("AZURE_", "ARM_CLOUD_METADATA_URL", "MSI_", "IDENTITY_", "REQUESTS_CA_BUNDLE", "SSL_CERT_",
                     "CURL_CA_BUNDLE")


def az_executable() -> str | None:
    """`ARM_SIM_AZ`, else the project's az venv, else `az` on PATH; None when there is no Azure CLI."""
    configured = os.environ.get("ARM_SIM_AZ")
    if configured:
        return configured if Path(configured).exists() else shutil.which(configured)
    if Path(DEFAULT_AZ).exists():
        return DEFAULT_AZ
    return shutil.which("az")


class AzError(RuntimeError):
    """A non-zero az exit; carries what az printed."""

    def __init__(self, argv: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.argv, self.returncode, self.stdout, self.stderr = list(argv), returncode, stdout, stderr
        super().__init__(f"az {' '.join(argv)} exited with {returncode}\n--- stdout ---\n{stdout}\n"
                         f"--- stderr ---\n{stderr}")


@dataclass
class AzCli:
    sim: Sim
    config_dir: Path
    executable: str = field(default_factory=lambda: az_executable() or "az")
    timeout: float = 180.0
    calls: list[tuple[str, float]] = field(default_factory=list)  # (masked command line, seconds) per az run
    login_output: Any = None  # what the last successful `az login` printed (the subscriptions it found)

    def __post_init__(self) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)

    # --- environment ----------------------------------------------------------------------------------------
    @property
    def ca_bundle(self) -> str:
        bundle = Path(self.sim.home) / "ca-bundle.pem"
        return str(bundle if bundle.exists() else self.sim.ca)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_PREFIXES)}
        env.update({
            "AZURE_CONFIG_DIR": str(self.config_dir),
            "REQUESTS_CA_BUNDLE": self.ca_bundle,  # ARM, MSAL and Graph traffic (requests)
            "SSL_CERT_FILE": self.ca_bundle,  # urllib (cloud metadata)
            "AZURE_CORE_INSTANCE_DISCOVERY": "false",  # required: MSAL would ask login.microsoftonline.com
            "AZURE_CORE_COLLECT_TELEMETRY": "false",
            "AZURE_CORE_NO_COLOR": "1",
            "AZURE_CORE_ONLY_SHOW_ERRORS": "1",
            "AZURE_CORE_SURVEY_MESSAGE": "false",
            "AZURE_EXTENSION_DYNAMIC_INSTALL": "no",
        })
        return env

    # --- running ---------------------------------------------------------------------------------------------
    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `az <args>`; raise AzError on a non-zero exit unless check=False."""
        argv = [str(a) for a in args]
        started = time.monotonic()
        proc = subprocess.run([self.executable, *argv], env=self.env(), capture_output=True, text=True,
                              timeout=self.timeout, check=False)
        self.calls.append((" ".join(self._masked(argv)), time.monotonic() - started))
        if check and proc.returncode != 0:
            raise AzError(self._masked(argv), proc.returncode, proc.stdout, proc.stderr)
        return proc

    def json(self, *args: str) -> Any:
        """Run `az <args> -o json` and parse stdout (None when az prints nothing, e.g. for deletes)."""
        out = self.run(*args, "-o", "json").stdout.strip()
        return json.loads(out) if out else None

    def fails(self, *args: str) -> AzError:
        """Run a command that must fail; return the error (AssertionError if it succeeded)."""
        proc = self.run(*args, check=False)
        if proc.returncode == 0:
            raise AssertionError(f"az {' '.join(self._masked(args))} unexpectedly succeeded:\n{proc.stdout}")
        return AzError(self._masked(args), proc.returncode, proc.stdout, proc.stderr)

    def _masked(self, argv: Sequence[str]) -> list[str]:
        return ["***" if a == self.sim.client_secret else str(a) for a in argv]

    # --- set-up ------------------------------------------------------------------------------------------
    def register_cloud(self, name: str = CLOUD_NAME) -> None:
        """Register the simulator as a cloud without endpoint discovery (exactly clients.md §5)."""
        url = self.sim.url
        self.run(
            "cloud", "register", "-n", name, "--skip-endpoint-discovery",
            "--endpoint-resource-manager", f"{url}/",
            "--endpoint-active-directory", url,
            "--endpoint-active-directory-resource-id", "https://management.core.windows.net/",
            "--endpoint-microsoft-graph-resource-id", f"{url}/",
            "--endpoint-active-directory-graph-resource-id", "https://graph.windows.net/",
            "--suffix-keyvault-dns", ".vault.azure.net",
            "--suffix-storage-endpoint", "core.windows.net",  # az functionapp create builds a connection string
        )

    def register_discovered_cloud(self, name: str) -> subprocess.CompletedProcess[str]:
        """Register a cloud from `<url>/metadata/endpoints`; returns the run (with --debug stderr)."""
        return self.run("cloud", "register", "-n", name, "--endpoint-resource-manager", f"{self.sim.url}/",
                        "--debug")

    def set_cloud(self, name: str = CLOUD_NAME) -> None:
        self.run("cloud", "set", "-n", name)

    def login(self, secret: str | None = None) -> Any:
        """`az login --service-principal`; returns the subscriptions az reports."""
        self.login_output = self.json("login", "--service-principal", "-u", self.sim.client_id,
                                      "-p", secret if secret is not None else self.sim.client_secret,
                                      "--tenant", self.sim.tenant)
        return self.login_output

    def configure(self, name: str = CLOUD_NAME) -> None:
        self.register_cloud(name)
        self.set_cloud(name)


def require_az() -> str:
    """The Azure CLI's path; skips the calling test module when there is none (call at module level)."""
    found = az_executable()
    if found is None:
        import pytest

        pytest.skip("Azure CLI not found: set ARM_SIM_AZ, install it in .venv-az (make az) or put az on PATH",
                    allow_module_level=True)
    return found


def logged_in(sim: Any, config_dir: Path, executable: str) -> AzCli:
    """An az with its own config dir, the simulator's cloud registered and the deployer logged in."""
    cli = AzCli(sim, config_dir, executable=executable)
    cli.configure()
    cli.login()
    return cli


GROUP_API = "2024-11-01"


def resource_group(sim: Any, arm: Any, prefix: str = "aztut-") -> Iterator[str]:
    """A new resource group's name for a module's az tutorial (made over REST), deleted afterwards: a generator
    for a module fixture (`yield from resource_group(sim, arm)`)."""
    import uuid

    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    path = f"/subscriptions/{sim.subscription}/resourcegroups/{name}"
    assert arm.put(path, params={"api-version": GROUP_API}, json={"location": "eastus"}).status_code == 201
    yield name
    arm.delete(path, params={"api-version": GROUP_API})
