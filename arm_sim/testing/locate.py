"""Finding a server's connection: one this process started (`launched`), or one already running (`found`)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from arm_sim.cli import proxy_env
from arm_sim.core import discovery
from arm_sim.testing.connection import Connection
from arm_sim.testing.server import Sim

__all__ = ["found", "launched"]


def launched(server: Sim, wait: float = 10) -> Connection:
    """A started server's connection. The bootstrap ids are those it writes in `credentials.json` (a database
    that already had state keeps its own; pinning works only on a first start)."""
    deadline = time.monotonic() + wait
    creds = None
    while creds is None and time.monotonic() < deadline:
        info = discovery.read(server.home)
        creds = discovery.read_credentials(server.home, info.pid) if info else None
        if creds is None:
            time.sleep(0.05)
    ids = (creds.tenant, creds.subscription, creds.client_id, creds.client_secret) if creds else (
        server.tenant, server.subscription, server.client_id, server.client_secret)
    proxy = f"http://localhost:{info.proxy_port}" if info and info.proxy_port else ""
    return Connection(server.url, server.ca, *ids, imds_url=server.imds_url, ca_bundle=server.ca_bundle,
                      home=server.home.absolute(), proxy_url=proxy)


def found(url: str | None, home: Path | None, env: Mapping[str, str]) -> Connection:
    """How to reach a running server: its home's discovery files, else `url` and the variables `arm-sim env`
    prints."""
    info = discovery.read(home) if home is not None else None
    creds = discovery.read_credentials(home, info.pid) if home is not None and info is not None else None
    if home is not None and info is not None and creds is not None:
        if url and url.rstrip("/") != info.url.rstrip("/"):
            raise ValueError(f"the server of home {home} is at {info.url}, not at {url}")
        proxy = proxy_env.proxy_url(info.url, info.proxy_port) if info.proxy_port else ""
        return Connection(info.url, info.ca or str(home / "ca.pem"), creds.tenant, creds.subscription,
                          creds.client_id, creds.client_secret, imds_url=info.imds_url,
                          ca_bundle=info.ca_bundle or str(home / "ca-bundle.pem"), home=home, proxy_url=proxy)
    names = ("ARM_SIM_CA", "ARM_SIM_TENANT", "ARM_SIM_SUBSCRIPTION", "ARM_SIM_CLIENT_ID", "ARM_SIM_CLIENT_SECRET")
    missing = [n for n in names if not env.get(n)]
    url = url or env.get("ARM_SIM_URL")
    if not url or missing:
        where = f"no server runs for home {home} (no server.json), and " if home else ""
        raise RuntimeError(f"cannot attach: {where}give home= a running server's home, or url= with the variables "
                           f"`arm-sim env` prints (missing: {', '.join(missing or ['ARM_SIM_URL'])})")
    return Connection(url.rstrip("/"), env["ARM_SIM_CA"], env["ARM_SIM_TENANT"], env["ARM_SIM_SUBSCRIPTION"],
                      env["ARM_SIM_CLIENT_ID"], env["ARM_SIM_CLIENT_SECRET"], imds_url=env.get("ARM_SIM_IMDS_URL", ""),
                      ca_bundle=env.get("REQUESTS_CA_BUNDLE", env["ARM_SIM_CA"]), home=home,
                      proxy_url=env.get("ARM_SIM_PROXY_URL", ""))
