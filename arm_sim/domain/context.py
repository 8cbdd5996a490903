"""The request context every service takes first: the open session, settings and the clock reading."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from arm_sim.core.settings import Settings


@dataclass
class Caller:
    """Who is calling: the verified token's claims."""

    claims: dict[str, Any]

    @property
    def object_id(self) -> str:
        return str(self.claims.get("oid", ""))

    @property
    def client_id(self) -> str:
        return str(self.claims.get("appid") or self.claims.get("azp") or "")

    @property
    def tenant_id(self) -> str:
        return str(self.claims.get("tid", ""))


@dataclass
class Ctx:
    session: Session
    settings: Settings
    now: float  # the simulated clock, read once at the start of the unit of work
    caller: Caller | None = None
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # events that must be kept even when the unit of work rolls back (refusals, denials)
    durable_events: list[Any] = field(default_factory=list)
    # reads remembered for the rest of the unit, by the module that owns them; it forgets them when the unit itself
    # writes what they read (e.g. rbac's assignments of a principal, asked once per write of a deployment), and any
    # rollback (a SAVEPOINT's too) empties it (db.uow)
    memo: dict[Any, Any] = field(default_factory=dict)
    # the database's epoch (db.models.Clock.epoch): process-wide caches key their entries by it
    epoch: str = ""
    # commit what the unit wrote so far and go on (domain.runtime.Unit.checkpoint); a no-op outside a Runtime unit
    checkpoint: Callable[[], None] = field(default=lambda: None)
    # what the answer must tell the client beyond its body (a type stored under ARM_SIM_UNKNOWN_TYPES=store)
    warnings: list[str] = field(default_factory=list)
    # the request came for Azure's own host names (through the proxy): addresses handed out use them too
    # (a vault's `https://{name}.vault.azure.net/`), as the client can reach only those
    azure_names: bool = False

    @property
    def actor(self) -> str | None:
        return self.caller.object_id if self.caller else None
