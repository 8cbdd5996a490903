"""Settings from ARM_SIM_* environment variables (CLI flags override them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path


def port_range(text: str) -> tuple[int, int]:
    """`8600-8699` (or a single port) -> (8600, 8699); ValueError for anything else."""
    lo, _, hi = text.strip().partition("-")
    try:
        first = int(lo)
        last = int(hi) if hi else first
    except ValueError:
        raise ValueError(f"bad port range {text!r}: give LO-HI, e.g. 8600-8699") from None
    if not (0 < first <= last < 65536):
        raise ValueError(f"bad port range {text!r}: give LO-HI, e.g. 8600-8699")
    return first, last


@dataclass(frozen=True)
class Settings:
    home: Path = Path(".arm-sim")
    database_url: str = ""
    host: str = "127.0.0.1"
    public_host: str = "localhost"
    port: int = 8443
    imds_port: int = 8480
    vault_ports: tuple[int, int] = (8600, 8699)
    proxy_port: int | None = 8444  # None: no proxy listener (ARM_SIM_PROXY_PORT=off)
    log_level: str = "info"
    log_format: str = "text"  # text | json: the request log's lines (app/request_log.py)
    lro: str = "async"  # async | sync
    rbac: str = "enforce"  # enforce | audit | off
    directory_delay: float = 0.0  # seconds (simulated) before a new principal is visible to role assignments
    tenant_id: str | None = None
    subscription_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    shutdown_grace: float = 30.0  # seconds in-flight requests may run on after SIGTERM before they get a 503
    unknown_types: str = "refuse"  # refuse | store: a type Azure's catalogue lacks is refused, or stored as given
    extra: dict[str, str] = field(default_factory=dict)

    @cached_property  # (resolving the path touches the file system; token caches key on this per request)
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'arm-sim.db').resolve()}"

    @property
    def public_url(self) -> str:
        return f"https://{self.public_host}:{self.port}"

    @property
    def imds_url(self) -> str:
        return f"http://{self.public_host}:{self.imds_port}"

    def with_(self, **changes: object) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]


LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")  # uvicorn's
LOG_FORMATS = ("text", "json")

def from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from ARM_SIM_* variables, validated by pydantic-settings; a bad value is a ValueError naming the
    variable, the value and what it must be. (Imported here, not at the top: the CLI's client commands never read
    settings and start without pydantic.)"""
    from arm_sim.core.settings_env import read

    values = read(env)
    return Settings(
        home=Path(values.home), database_url=values.database_url, host=values.host, public_host=values.public_host,
        port=values.port, imds_port=values.imds_port, vault_ports=values.vault_ports, proxy_port=values.proxy_port,
        log_level=values.log_level, log_format=values.log_format,
        lro=values.lro, rbac=values.rbac, directory_delay=values.directory_delay, tenant_id=values.tenant_id or None,
        subscription_id=values.subscription_id or None, client_id=values.client_id or None,
        client_secret=values.client_secret or None, shutdown_grace=values.shutdown_grace,
        unknown_types=values.unknown_types,
    )
