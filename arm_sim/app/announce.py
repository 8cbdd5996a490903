"""Telling the world a server is ready: the real ports in its settings, `$ARM_SIM_HOME/server.json` and
`credentials.json` (core/discovery.py), and one line on stdout:

    arm-sim ready https://localhost:8443 (identity http://localhost:8480, vaults 8600-8699, proxy
    http://localhost:8444, data /abs/home)

(`, N workers)` at the end for `serve --workers N`). The line is printed once every listener serves, after the
files are written; its shape is stable, for scripts that wait for it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys

from arm_sim.app.listeners import Listeners
from arm_sim.core import discovery
from arm_sim.core.settings import Settings
from arm_sim.domain import tenancy
from arm_sim.domain.runtime import Runtime
from arm_sim.hosts.sim import console as sim_console


def _port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def with_real_ports(settings: Settings, socks: Listeners) -> Settings:
    """`settings` with the ports the listeners really have (`--port 0` and the like bind free ones)."""
    return settings.with_(port=_port(socks.main[0]), imds_port=_port(socks.identity[0]),
                          proxy_port=_port(socks.proxy[0]) if socks.proxy else None)


def credentials(runtime: Runtime, pid: int) -> discovery.Credentials:
    with runtime.unit() as ctx:
        boot = tenancy.current_bootstrap(ctx)
        assert boot is not None  # prepare() made it
        return discovery.Credentials(pid=pid, tenant=boot.tenant_id, subscription=boot.subscription_id,
                                     client_id=boot.client_id, client_secret=boot.client_secret)


def ready_line(settings: Settings, workers: int = 1) -> str:
    lo, hi = settings.vault_ports
    more = f", {workers} workers" if workers > 1 else ""
    proxy = f", proxy http://{settings.public_host}:{settings.proxy_port}" if settings.proxy_port is not None else ""
    return (f"arm-sim ready {settings.public_url} (identity {settings.imds_url}, vaults {lo}-{hi}{proxy}, "
            f"data {settings.home.resolve()}{more})")


def console_link(runtime: Runtime) -> str | None:
    """A one-time link into the browser console (hosts/sim/console.py), printed after the ready line."""
    try:
        return sim_console.new_link(runtime)[0]
    except Exception:  # noqa: BLE001 - the console is a convenience: never let it stop a server from starting
        return None


def publish(settings: Settings, creds: discovery.Credentials, workers: int = 1, console: str | None = None) -> None:
    """Write the discovery files, then print the ready line (and the one-time console link, on a line of its
    own)."""
    home = settings.home.resolve()
    dialect = settings.db_url.split(":", 1)[0].split("+", 1)[0]
    discovery.write_credentials(home, creds)
    discovery.write(home, discovery.ServerInfo(
        pid=os.getpid(), url=settings.public_url, imds_url=settings.imds_url, port=settings.port,
        imds_port=settings.imds_port, vault_ports=settings.vault_ports, proxy_port=settings.proxy_port,
        home=str(home), database=dialect,
        ca=str(home / "ca.pem"), ca_bundle=str(home / "ca-bundle.pem"), workers=workers))
    with contextlib.suppress(OSError):  # (nobody reads stdout any more: the server serves all the same)
        print(ready_line(settings, workers), flush=True)
        if console and sys.stdout.isatty():  # a person at a terminal: the link itself
            print(f"arm-sim console {console} (one-time link, valid 15 minutes; `arm-sim console` prints a new "
                  "one)", flush=True)
        elif console:  # a log (CI, a pipe): the link is a credential, so only where to get one
            print(f"arm-sim console {console.split('#', 1)[0]} (sign in with `arm-sim console`, which prints a "
                  "one-time link)", flush=True)


def withdraw(settings: Settings) -> None:
    """Remove this process's discovery files (a stopping server no longer takes requests)."""
    discovery.remove(settings.home.resolve(), os.getpid())
