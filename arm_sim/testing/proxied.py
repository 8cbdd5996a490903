"""`ArmSim.proxied()` and the `azure_proxy` fixture: moto's decorator, for Azure. Inside, the current process has
the proxy mode's settings (cli/proxy_env.py): the environment that azure-core, MSAL, requests, httpx and urllib
read for their proxy and CA bundle, and the bootstrap principal's `AZURE_*` credentials (or, for a VM, its key in
the proxy URL). Unmodified code under test — `DefaultAzureCredential()`, `SecretClient("https://{name}.vault.
azure.net", cred)`, a management client with only a subscription id — then talks to the simulator. Every variable
is restored on exit.

Clients read these variables when they are built (httpx, azure-identity's credentials) or per request (requests):
build them inside. Node reads NODE_EXTRA_CA_CERTS only at start: it holds for subprocesses started inside.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from arm_sim.cli import proxy_env

if TYPE_CHECKING:
    from arm_sim.testing.simulator import ArmSim

# What code under the proxy must not inherit: credentials, and endpoints that would go around the proxy.
CLEARED = ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_CLIENT_CERTIFICATE_PATH",
           "AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT", "IDENTITY_HEADER",
           *proxy_env.NOT_PROXIED)


def proxy_values(sim: ArmSim, vm: str | None = None) -> dict[str, str]:
    """What `arm-sim env --proxy [--vm]` would print for this simulator; `vm` is a VM's resource id."""
    if not sim.proxy_url:
        raise RuntimeError(f"{sim!r} runs without its proxy (ARM_SIM_PROXY_PORT=off)")
    key = None
    if vm is not None:
        endpoint = sim.managed_identity_env(vm).get("AZURE_POD_IDENTITY_AUTHORITY_HOST", "")
        if "/vms/" not in endpoint:
            raise ValueError(f"{vm} is no virtual machine")
        key = endpoint.rstrip("/").rsplit("/vms/", 1)[1]
    port = int(sim.proxy_url.rsplit(":", 1)[1])
    home = Path(sim.home) if sim.home else Path(tempfile.gettempdir())
    bundle, node_ca = proxy_env.ca_files(home, Path(sim.ca), Path(sim.ca_bundle), os.environ)
    values = proxy_env.variables(proxy_env.proxy_url(sim.url, port, vm.rsplit("/", 1)[1] if vm else None, key),
                                 bundle, node_ca, os.environ)
    if vm is None:
        values |= {"AZURE_TENANT_ID": sim.tenant, "AZURE_CLIENT_ID": sim.client_id,
                   "AZURE_CLIENT_SECRET": sim.client_secret}
    return values | {"AZURE_SUBSCRIPTION_ID": sim.subscription}


@contextmanager
def proxied(sim: ArmSim, vm: str | None = None) -> Iterator[dict[str, str]]:
    values = proxy_values(sim, vm)
    saved = {k: os.environ.get(k) for k in {*CLEARED, *values}}
    try:
        for k in CLEARED:
            os.environ.pop(k, None)
        os.environ.update(values)
        yield values
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
