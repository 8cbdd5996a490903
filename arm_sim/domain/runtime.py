"""What every host needs at request time: settings, the session factory, and the unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from arm_sim.core.settings import Settings
from arm_sim.db.uow import MEMO, UnitOfWork
from arm_sim.domain import clock, events
from arm_sim.domain.context import Ctx


@dataclass
class Runtime:
    settings: Settings
    sessions: sessionmaker[Session]
    resource_writer: Any = None  # given to every unit's Ctx (see Ctx.resource_writer)

    def unit(self, *, read_mostly: bool = False, correlation_id: str | None = None) -> Unit:
        """One transaction: `with rt.unit() as ctx:` commits when the block ends normally, rolls back on any
        exception; durable events (refusals, decisions) are kept either way.

        `read_mostly` is for GET/HEAD: a unit that wrote nothing skips its COMMIT (see `UnitOfWork`).
        `correlation_id`: the request's, when there is one (else the context makes a fresh id).
        """
        return Unit(self, read_mostly, correlation_id)


class Unit:
    """The context manager `Runtime.unit` returns (a class: it opens on every request)."""

    __slots__ = ("correlation_id", "ctx", "rt", "uow")

    def __init__(self, rt: Runtime, read_mostly: bool, correlation_id: str | None) -> None:
        self.rt, self.correlation_id = rt, correlation_id
        self.uow = UnitOfWork(rt.sessions, read_mostly=read_mostly)

    def __enter__(self) -> Ctx:
        session = self.uow.__enter__()
        try:
            now = clock.now(session)
        except BaseException as e:
            self.uow.__exit__(type(e), e, e.__traceback__)
            raise
        rt = self.rt
        memo: dict[object, object] = {}
        session.info[MEMO] = memo  # a rollback clears it (db.uow); a reused session starts each unit with a new one
        ids = {} if self.correlation_id is None else {"correlation_id": self.correlation_id}  # else a fresh one
        self.ctx = Ctx(session=session, settings=rt.settings, now=now, resource_writer=rt.resource_writer, memo=memo,
                       **ids)
        return self.ctx

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
                 ) -> None:
        ctx = self.ctx
        try:
            if exc_type is None:
                events.write_durable(ctx.session, ctx.durable_events)
        except BaseException as e:
            self.uow.__exit__(type(e), e, e.__traceback__)
            self._keep_durable(e)
            raise
        try:
            self.uow.__exit__(exc_type, exc, tb)  # commits, or rolls back after an exception
        except BaseException as e:  # the COMMIT failed
            self._keep_durable(e)
            raise
        if exc is not None:
            self._keep_durable(exc)

    def _keep_durable(self, exc: BaseException) -> None:
        """After a failed unit, its durable events in a unit of their own."""
        if isinstance(exc, Exception) and self.ctx.durable_events:
            with UnitOfWork(self.rt.sessions) as session:
                events.write_durable(session, self.ctx.durable_events)
