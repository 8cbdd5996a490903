"""What every host needs at request time: settings, the session factory, and the unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from arm_sim.core.settings import Settings
from arm_sim.db.uow import unit_of_work
from arm_sim.domain import clock
from arm_sim.domain.context import Ctx


@dataclass
class Runtime:
    settings: Settings
    sessions: sessionmaker[Session]

    @contextmanager
    def unit(self, *, read_mostly: bool = False, correlation_id: str | None = None) -> Iterator[Ctx]:
        """One transaction: commits when the block ends normally, rolls back on any exception.

        `read_mostly` is for GET/HEAD: a unit that wrote nothing skips its COMMIT (see `unit_of_work`).
        `correlation_id`: the request's, when there is one (else the context makes a fresh id).
        """
        ctx: Ctx | None = None
        try:
            with unit_of_work(self.sessions, read_mostly=read_mostly) as session:
                now = clock.now(session)
                ctx = (Ctx(session=session, settings=self.settings, now=now) if correlation_id is None
                       else Ctx(session=session, settings=self.settings, now=now, correlation_id=correlation_id))
                yield ctx
                session.add_all(ctx.durable_events)
        except Exception:
            if ctx is not None and ctx.durable_events:
                with unit_of_work(self.sessions) as session:
                    session.add_all(ctx.durable_events)
            raise
