"""Settings from ARM_SIM_* environment variables (CLI flags override them)."""

from __future__ import annotations

import os
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
    log_level: str = "info"
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


def _choice(e: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = (e.get(name) or default).lower()
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {e.get(name)!r}")
    return value


def _port(e: Mapping[str, str], name: str, default: str) -> int:
    text = e.get(name, default) or default
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port < 65536:
        raise ValueError(f"{name} must be a port number (0 for a free one), not {text!r}")
    return port


def _number(e: Mapping[str, str], name: str, default: str) -> float:
    text = e.get(name, default) or default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ValueError(f"{name} must be a number of seconds, 0 or more, not {text!r}")
    return value


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    e = os.environ if env is None else env
    lro = _choice(e, "ARM_SIM_LRO", "async", ("async", "sync"))
    rbac = _choice(e, "ARM_SIM_RBAC", "enforce", ("enforce", "audit", "off"))
    unknown_types = _choice(e, "ARM_SIM_UNKNOWN_TYPES", "refuse", ("refuse", "store"))
    grace = _number(e, "ARM_SIM_SHUTDOWN_GRACE", "30")
    try:
        vault_ports = port_range(e.get("ARM_SIM_VAULT_PORTS", "8600-8699"))
    except ValueError as error:
        raise ValueError(f"ARM_SIM_VAULT_PORTS: {error}") from None
    return Settings(
        home=Path(e.get("ARM_SIM_HOME", ".arm-sim")),
        database_url=e.get("ARM_SIM_DATABASE_URL", ""),
        host=e.get("ARM_SIM_HOST", "127.0.0.1"),
        public_host=e.get("ARM_SIM_PUBLIC_HOST", "localhost"),
        port=_port(e, "ARM_SIM_PORT", "8443"),
        imds_port=_port(e, "ARM_SIM_IMDS_PORT", "8480"),
        vault_ports=vault_ports,
        log_level=_choice(e, "ARM_SIM_LOG_LEVEL", "info", LOG_LEVELS),
        lro=lro,
        rbac=rbac,
        directory_delay=_number(e, "ARM_SIM_DIRECTORY_DELAY", "0"),
        tenant_id=e.get("ARM_SIM_TENANT_ID") or None,
        subscription_id=e.get("ARM_SIM_SUBSCRIPTION_ID") or None,
        client_id=e.get("ARM_SIM_CLIENT_ID") or None,
        client_secret=e.get("ARM_SIM_CLIENT_SECRET") or None,
        shutdown_grace=grace,
        unknown_types=unknown_types,
    )
