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
from arm_sim.cli.client import NOT_INSIDE

if TYPE_CHECKING:
    from arm_sim.testing.simulator import ArmSim

# What code under the proxy must not inherit: credentials, and endpoints that would go around the proxy.
CLEARED = (*NOT_INSIDE, *proxy_env.NOT_PROXIED)


def proxy_values(sim: ArmSim, vm: str | None = None) -> dict[str, str]:
    """What `arm-sim env --proxy [--vm]` would print for this simulator; `vm` is a VM's resource id."""
    if not sim.proxy_url:
        raise RuntimeError(f"{sim!r} runs without its proxy (ARM_SIM_PROXY_PORT=off)")
    inside = sim.managed_identity_env(vm) if vm is not None else {}
    if vm is not None and "AZURE_POD_IDENTITY_AUTHORITY_HOST" not in inside:
        raise ValueError(f"{vm} is no virtual machine")
    where = proxy_env.Simulator(sim.url, int(sim.proxy_url.rsplit(":", 1)[1]),
                                Path(sim.home) if sim.home else Path(tempfile.gettempdir()), Path(sim.ca),
                                Path(sim.ca_bundle), sim.subscription)
    return proxy_env.environment(where, os.environ, (sim.tenant, sim.client_id, sim.client_secret), inside,
                                 vm.rsplit("/", 1)[1] if vm else None)


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
