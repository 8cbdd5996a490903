"""Code written for Azure in JavaScript runs unchanged under the proxy mode: the Azure SDK for JavaScript
(@azure/identity, @azure/arm-resources, @azure/arm-keyvault, @azure/keyvault-secrets, pinned in tests/js/package.json
and package-lock.json) under `arm-sim exec --proxy [--vm NAME] -- node tests/js/SCRIPT.mjs`. The scripts read only
the standard variables; Node reaches the simulator through HTTPS_PROXY / HTTP_PROXY and trusts it through
NODE_EXTRA_CA_CERTS (read at start), IMDS included (http://169.254.169.254 goes through HTTP_PROXY in Node).

`make js` installs tests/js/node_modules (`npm ci`); `make test` does it first. Without node or the install the
module is skipped on a developer's machine and fails where CI is set, so a broken install cannot pass unseen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_imds import identities
from tests.test_keyvault_secrets import Env, start_kv_sim, unique
from tests.test_proxy_clients import _SCRUB

JS = Path(__file__).parent / "js"
NODE_MAJOR = 20  # tests/js/package.json "engines" (global `crypto` and the rest: msal-node 5 fails on 18)
PACKAGES = ("@azure/identity", "@azure/arm-resources", "@azure/arm-keyvault", "@azure/keyvault-secrets")


def _missing() -> str | None:
    """Why the JavaScript clients cannot run here, or None."""
    node = shutil.which("node")
    if node is None:
        return "node is not installed (Node 20 or later, with npm)"
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    if int(version.lstrip("v").split(".")[0] or 0) < NODE_MAJOR:
        return f"node {version} is older than {NODE_MAJOR}, the oldest the pinned Azure SDK runs on"
    absent = [p for p in PACKAGES if not (JS / "node_modules" / p / "package.json").is_file()]
    if absent:
        return f"tests/js/node_modules lacks {', '.join(absent)}: run `make js` (npm ci --prefix tests/js)"
    return None


@pytest.fixture(scope="module")
def node_clients() -> None:
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and the JavaScript clients cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def env(node_clients: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    sim = start_kv_sim(tmp_path_factory)
    e = Env(sim)
    yield e
    e.close()
    sim.stop()


def node(env: Env, script: str, *args: str, inside: tuple[str, ...] = ()) -> dict[str, str]:
    """`arm-sim exec --proxy [--vm NAME] -- node tests/js/SCRIPT ARGS`, from an environment with no Azure, proxy or CA
    setting of the caller's; the lines the script prints as `key value`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB) and k != "NODE_EXTRA_CA_CERTS"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "arm_sim", "--home", str(env.sim.home), "exec", "--proxy", *inside,
                           "--", "node", str(JS / script), *args], env=base, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, f"{script} exited {done.returncode} after {time.monotonic() - started:.1f}s\n" \
                                 f"{done.stdout}{done.stderr}"
    return dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)


def test_javascript_written_for_azure_runs_unchanged_through_the_proxy(env: Env) -> None:
    vm = env.vm(unique("vm-js-"), identities("SystemAssigned"))
    name, group = unique("kv"), unique("rg-js-")
    # the deployer: ClientSecretCredential for ARM (a group, a vault with two access policies), then
    # DefaultAzureCredential (EnvironmentCredential) for the vault's data plane
    out = node(env, "deployer.mjs", group, name, env.deployer_oid, vm.identity.principal_id)
    assert out["vaultUri"] == f"https://{name}.vault.azure.net/"
    assert out["id"].startswith(f"https://{name}.vault.azure.net/secrets/greeting/")
    assert out["value"] == "hello from azure code"
    policies = env.kvm.vaults.get(group, name).properties.access_policies or []
    assert [p.object_id for p in policies] == [env.deployer_oid, vm.identity.principal_id]
    # code inside the VM: ManagedIdentityCredential, then DefaultAzureCredential (its IMDS probe has 1 s), against
    # Azure's IMDS address; the VM's identity has the access policy that grants get
    inside = node(env, "vm.mjs", name, inside=("--vm", vm.name))
    assert inside == {"value": "hello from azure code", "managed": "ok", "default": "ok"}


def test_imds_is_unreachable_from_javascript_outside_every_vm(env: Env) -> None:
    out = node(env, "outside.mjs")
    assert "unavailable" in out, out
    seconds, error = out["unavailable"].split(" ", 1)
    assert error.startswith("CredentialUnavailableError"), out
    assert float(seconds) < 5, out  # refused at once, not after the SDK's retries
