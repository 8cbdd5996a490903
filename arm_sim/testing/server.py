"""Start a real `arm-sim serve` on free ports in a temporary home: for test suites, benchmarks and the pytest plugin.

Only the standard library is needed (the server runs in a subprocess, spoken to over HTTPS with urllib), so the
plugin works wherever arm-sim is installed; `Sim.http()` and `Sim.credential()` import httpx / azure-identity
only when called.
"""

from __future__ import annotations

import os
import random
import socket
import ssl
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arm_sim.testing.wire import ARM_SCOPE, Reply, request

if TYPE_CHECKING:
    import httpx

__all__ = ["ARM_SCOPE", "Reply", "Sim", "descendants", "free_port", "free_range", "fresh_database_url", "request"]



def _listen_floor_and_ceiling() -> tuple[int, int]:
    """Ports below the kernel's ephemeral range: outgoing connections (ours, the database's, the other test
    workers') never take those, so a port found free stays free until the server binds it."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return (10000, low - 1) if low > 12000 else (low, 65535)


def descendants(pid: int) -> list[int]:
    """Every live descendant of `pid` (a server's key-pool worker, its workers, their resource trackers), read from
    /proc; a zombie counts as gone: only its exit status is left."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if state != "Z":
            parents.setdefault(int(ppid), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def free_range(count: int) -> tuple[int, int]:
    """`count` consecutive free ports (the Key Vault listeners: one port per vault)."""
    floor, ceiling = _listen_floor_and_ceiling()
    for _ in range(200):
        base = random.randint(floor, ceiling - count)
        socks = []
        try:
            for p in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base, base + count - 1
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


def free_port() -> int:
    return free_range(1)[0]


def fresh_database_url() -> str:
    """SQLite in the home (empty string) or a brand-new PostgreSQL database when ARM_SIM_TEST_DATABASE_URL is set
    (the project's own suite on PostgreSQL)."""
    base = os.environ.get("ARM_SIM_TEST_DATABASE_URL")
    if not base:
        return ""
    import psycopg

    name = f"armsim_{uuid.uuid4().hex[:12]}"
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return base.rsplit("/", 1)[0] + "/" + name


class PortTaken(RuntimeError):
    """The server could not listen: a port picked as free was taken before it bound."""


@dataclass
class Sim:
    """A simulator process: `Sim(home=tmp).start()` … `.stop()`. Ports are free ones; bootstrap ids are pinned
    (random unless given) so the caller knows them before the first start."""

    home: Path
    database_url: str = ""
    port: int = field(default_factory=free_port)
    imds_port: int = field(default_factory=free_port)
    proxy_port: int = field(default_factory=free_port)
    vault_ports: tuple[int, int] = field(default_factory=lambda: free_range(16))
    tenant: str = field(default_factory=lambda: str(uuid.uuid4()))
    subscription: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_secret: str = field(default_factory=lambda: "s3cret-" + uuid.uuid4().hex)
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    # True: the server ignores ARM_SIM_* variables of the calling environment (the pytest plugin wants that, so a
    # developer's shell settings cannot leak into tests); only this object's fields and extra_env count.
    hermetic: bool = False

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def ca(self) -> str:
        return str(self.home / "ca.pem")

    @property
    def ca_bundle(self) -> str:
        """The CA followed by the usual public roots (safe as REQUESTS_CA_BUNDLE / SSL_CERT_FILE)."""
        return str(self.home / "ca-bundle.pem")

    @property
    def imds_url(self) -> str:
        return f"http://localhost:{self.imds_port}"

    @property
    def proxy_url(self) -> str:
        """The proxy listener (plain http), with no credential: a caller outside every VM."""
        return f"http://localhost:{self.proxy_port}"

    def env(self) -> dict[str, str]:
        """The server process's environment (the calling environment plus this simulator's settings)."""
        env = {k: v for k, v in os.environ.items() if not (self.hermetic and k.startswith("ARM_SIM_"))}
        env.update({
            "ARM_SIM_HOME": str(self.home), "ARM_SIM_PORT": str(self.port), "ARM_SIM_IMDS_PORT": str(self.imds_port),
            "ARM_SIM_VAULT_PORTS": f"{self.vault_ports[0]}-{self.vault_ports[1]}",
            "ARM_SIM_PROXY_PORT": str(self.proxy_port),
            "ARM_SIM_TENANT_ID": self.tenant, "ARM_SIM_SUBSCRIPTION_ID": self.subscription,
            "ARM_SIM_CLIENT_ID": self.client_id, "ARM_SIM_CLIENT_SECRET": self.client_secret,
            "ARM_SIM_LOG_LEVEL": "warning",
        })
        if self.database_url:
            env["ARM_SIM_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 60) -> Sim:
        """Start the server. On a first start whose ports were taken meanwhile (another process won the race
        between our probe and the server's bind), pick new ports and try again."""
        first = not (self.home / "ca.pem").exists()
        for attempt in range(5):
            try:
                return self._start_once(timeout)
            except PortTaken:
                if not first or attempt == 4:
                    raise
                self.port, self.imds_port, self.proxy_port = free_port(), free_port(), free_port()
                self.vault_ports = free_range(self.vault_ports[1] - self.vault_ports[0] + 1)
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float) -> Sim:
        self.home.mkdir(parents=True, exist_ok=True)
        log_path = self.home / "server.log"
        seen = log_path.stat().st_size if log_path.exists() else 0
        log = open(log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen([sys.executable, "-m", "arm_sim", "serve"], env=self.env(), stdout=log,
                                     stdin=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                tail = log_path.read_bytes()[seen:].decode(errors="replace")[-3000:]
                raise (PortTaken if "Address already in use" in tail else RuntimeError)(f"arm-sim exited: {tail}")
            try:
                if request("GET", f"{self.url}/_sim/health", self.ca, timeout=1).status == 200:
                    return self
            except (OSError, ssl.SSLError):  # not listening yet, or the CA not written yet
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"arm-sim did not start in {timeout:.0f} s; see {log_path}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> Sim:
        self.stop()
        return self.start()

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run `arm-sim ARGS…` against this simulator's home and database (e.g. `env --format json`, `reset`)."""
        return subprocess.run([sys.executable, "-m", "arm_sim", *args], env=self.env(), capture_output=True,
                              text=True, timeout=timeout)

    # --- client helpers -------------------------------------------------------------------------------------
    def token(self, scope: str = ARM_SCOPE) -> str:
        """A v2 client-credentials token of the bootstrap (deployer) principal."""
        r = request("POST", f"{self.url}/{self.tenant}/oauth2/v2.0/token", self.ca, form={
            "grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret,
            "scope": scope})
        if r.status != 200 or not isinstance(r.body, dict):
            raise RuntimeError(f"arm-sim token request for {scope!r} failed ({r.status}): {r.body}")
        return str(r.body["access_token"])

    def http(self, token: str | None = None) -> httpx.Client:
        import httpx

        headers = {"Authorization": f"Bearer {token or self.token()}"}
        return httpx.Client(base_url=self.url, verify=self.ca, headers=headers, timeout=30)

    def credential(self) -> Any:
        from azure.identity import ClientSecretCredential

        return ClientSecretCredential(self.tenant, self.client_id, self.client_secret, authority=self.url,
                                      disable_instance_discovery=True, connection_verify=self.ca)

    def mgmt_kwargs(self) -> dict[str, Any]:
        return {"base_url": self.url, "credential_scopes": [ARM_SCOPE], "connection_verify": self.ca,
                "polling_interval": 1}

    def resource_client(self, credential: Any = None) -> Any:
        from azure.mgmt.resource import ResourceManagementClient

        return ResourceManagementClient(credential or self.credential(), self.subscription, **self.mgmt_kwargs())
