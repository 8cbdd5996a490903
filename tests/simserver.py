"""Start a real `arm-sim serve` on free ports in a temporary home, for tests and benchmarks."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_range(count: int) -> tuple[int, int]:
    for _ in range(200):
        base = random.randint(20000, 60000)
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


def fresh_database_url() -> str:
    """SQLite in the home (empty string) or a brand-new PostgreSQL database when the suite runs on PostgreSQL."""
    base = os.environ.get("ARM_SIM_TEST_DATABASE_URL")
    if not base:
        return ""
    import psycopg

    name = f"armsim_{uuid.uuid4().hex[:12]}"
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return base.rsplit("/", 1)[0] + "/" + name


@dataclass
class Sim:
    home: Path
    database_url: str = ""
    port: int = field(default_factory=free_port)
    imds_port: int = field(default_factory=free_port)
    vault_ports: tuple[int, int] = field(default_factory=lambda: free_range(16))
    tenant: str = field(default_factory=lambda: str(uuid.uuid4()))
    subscription: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_secret: str = field(default_factory=lambda: "s3cret-" + uuid.uuid4().hex)
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def ca(self) -> str:
        return str(self.home / "ca.pem")

    @property
    def imds_url(self) -> str:
        return f"http://localhost:{self.imds_port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "ARM_SIM_HOME": str(self.home), "ARM_SIM_PORT": str(self.port), "ARM_SIM_IMDS_PORT": str(self.imds_port),
            "ARM_SIM_VAULT_PORTS": f"{self.vault_ports[0]}-{self.vault_ports[1]}",
            "ARM_SIM_TENANT_ID": self.tenant, "ARM_SIM_SUBSCRIPTION_ID": self.subscription,
            "ARM_SIM_CLIENT_ID": self.client_id, "ARM_SIM_CLIENT_SECRET": self.client_secret,
            "ARM_SIM_LOG_LEVEL": "warning",
        })
        if self.database_url:
            env["ARM_SIM_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    def start(self) -> Sim:
        self.home.mkdir(parents=True, exist_ok=True)
        log = open(self.home / "server.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen([sys.executable, "-m", "arm_sim", "serve"], env=self.env(), stdout=log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"arm-sim exited: {(self.home / 'server.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/_sim/health", verify=self.ca, timeout=1).status_code == 200:
                    return self
            except (httpx.HTTPError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError("arm-sim did not start in 60 s")

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

    # --- client helpers -------------------------------------------------------------------------------------
    def token(self, scope: str = "https://management.azure.com/.default") -> str:
        r = httpx.post(f"{self.url}/{self.tenant}/oauth2/v2.0/token", verify=self.ca, data={
            "grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret,
            "scope": scope})
        r.raise_for_status()
        return r.json()["access_token"]

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.token()}"}
        return httpx.Client(base_url=self.url, verify=self.ca, headers=headers, timeout=30)

    def credential(self) -> Any:
        from azure.identity import ClientSecretCredential

        return ClientSecretCredential(self.tenant, self.client_id, self.client_secret, authority=self.url,
                                      disable_instance_discovery=True, connection_verify=self.ca)

    def mgmt_kwargs(self) -> dict[str, Any]:
        return {"base_url": self.url, "credential_scopes": ["https://management.azure.com/.default"],
                "connection_verify": self.ca, "polling_interval": 1}

    def resource_client(self, credential: Any = None) -> Any:
        from azure.mgmt.resource import ResourceManagementClient

        return ResourceManagementClient(credential or self.credential(), self.subscription, **self.mgmt_kwargs())
