"""What every host needs at request time: settings, the session factory, and the unit of work."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TypedDict, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from arm_sim.core.errors import DomainError
from arm_sim.core.settings import Settings
from arm_sim.db import write_gate
from arm_sim.db.conflicts import is_conflict
from arm_sim.db.uow import MEMO, UnitOfWork
from arm_sim.db.write_gate import WriteOffLoop as WriteOffLoop  # (hosts may not import db: they take it here)
from arm_sim.domain import clock, events
from arm_sim.domain.context import Ctx

T = TypeVar("T")
ATTEMPTS = 8  # a unit that lost a race this often in a row answers 409: its resource is being rewritten constantly


def _busy() -> DomainError:
    return DomainError(409, "AnotherOperationInProgress",
                       "Another operation changed this resource at the same time and kept winning. Please retry.")


@dataclass
class Runtime:
    settings: Settings
    sessions: sessionmaker[Session]

    @property
    def reads_on_loop(self) -> bool:
        """Whether a read may be answered on the event loop (`read_on_loop`): on SQLite, whose reads never wait
        (WAL) and whose every write passes the write gate, where `WriteOffLoop` stops it. A server database's
        reads are network round trips, which would hold the loop."""
        bind = self.sessions.kw.get("bind")
        return getattr(getattr(bind, "dialect", None), "name", "") == "sqlite"

    def read_on_loop(self, work: Callable[[], T]) -> T:
        """`work` (which opens its own units) on the calling thread, the event loop's, saving the hop to a request
        thread and back, the largest cost of a cheap GET. It may write what it can write without waiting (a Key
        Vault read's decision event, when no one else writes); a unit that would have to wait raises `WriteOffLoop`
        and is rolled back with nothing kept, and the caller runs `work` again on a request thread."""
        with write_gate.no_waiting():
            try:
                return work()
            except Exception as e:
                if is_conflict(e):  # SQLite was busy (another process) or a writer won: retried off the loop
                    raise WriteOffLoop from e
                raise

    def unit(self, *, read_mostly: bool = False, correlation_id: str | None = None) -> Unit:
        """One transaction: `with rt.unit() as ctx:` commits when the block ends normally, rolls back on any
        exception; durable events (refusals, decisions) are kept either way.

        `read_mostly` is for GET/HEAD: a unit that wrote nothing skips its COMMIT (see `UnitOfWork`).
        `correlation_id`: the request's, when there is one (else the context makes a fresh id).
        """
        return Unit(self, read_mostly, correlation_id)

    def run(self, work: Callable[[Ctx], T], *, read_mostly: bool = False, correlation_id: str | None = None) -> T:
        """`work` in a unit of its own, run again in a new unit when it lost a race to a concurrent writer (see
        `db.conflicts`): the retry reads what the winner wrote, so an `If-Match` that no longer holds answers 412
        and a plain write applies on top of the winner's, never beside it."""
        for attempt in range(ATTEMPTS):
            last = attempt == ATTEMPTS - 1
            try:
                keep = last and not write_gate.waiting_forbidden()
                with Unit(self, read_mostly, correlation_id, keep_durable_on_conflict=keep) as ctx:
                    return work(ctx)
            except Exception as e:
                if not is_conflict(e):
                    raise
                if write_gate.waiting_forbidden():  # on the event loop: no sleeping here, the caller moves it
                    raise WriteOffLoop from e
                if last:
                    raise _busy() from e
                time.sleep(random.uniform(0, 0.002 * 2 ** attempt))  # spread the losers out
        raise AssertionError("unreachable")


class _GivenIds(TypedDict, total=False):
    """Ctx fields a unit passes only when it was given them (else Ctx's default makes a fresh one)."""

    correlation_id: str


class Unit:
    """The context manager `Runtime.unit` returns (a class: it opens on every request)."""

    __slots__ = ("correlation_id", "ctx", "keep_on_conflict", "rt", "uow")

    def __init__(self, rt: Runtime, read_mostly: bool, correlation_id: str | None, *,
                 keep_durable_on_conflict: bool = True) -> None:
        self.rt, self.correlation_id = rt, correlation_id
        self.keep_on_conflict = keep_durable_on_conflict
        self.uow = UnitOfWork(rt.sessions, read_mostly=read_mostly)

    def __enter__(self) -> Ctx:
        session = self.uow.__enter__()
        try:
            now, epoch = clock.read(session)
        except BaseException as e:
            self.uow.__exit__(type(e), e, e.__traceback__)
            raise
        rt = self.rt
        memo: dict[object, object] = {}
        session.info[MEMO] = memo  # a rollback clears it (db.uow); a reused session starts each unit with a new one
        # no correlation id given: Ctx makes a fresh one
        ids: _GivenIds = {} if self.correlation_id is None else {"correlation_id": self.correlation_id}
        self.ctx = Ctx(session=session, settings=rt.settings, now=now, memo=memo,
                       epoch=epoch, checkpoint=self.checkpoint, **ids)
        return self.ctx

    def checkpoint(self) -> None:
        """Commit what the unit wrote so far and go on in a new transaction: for work made of independent steps (a
        deployment's resource operations), so no step holds the database for the whole run. Never inside a
        SAVEPOINT (a step that may still be undone)."""
        session = self.ctx.session
        if session.in_nested_transaction():
            return
        events.write_durable(session, self.ctx.durable_events)
        self.ctx.durable_events.clear()
        self.uow.commit_so_far()

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
        """After a failed unit, its durable events in a unit of their own (unless the unit will run again: a conflict
        on the event loop always does, on a request thread, by `read_on_loop`'s caller)."""
        if isinstance(exc, WriteOffLoop) or (
                (not self.keep_on_conflict or write_gate.waiting_forbidden()) and is_conflict(exc)):
            return
        if isinstance(exc, Exception) and self.ctx.durable_events:
            with UnitOfWork(self.rt.sessions) as session:
                events.write_durable(session, self.ctx.durable_events)
