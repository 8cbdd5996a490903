"""Short reads answered on the event loop (issue 18): the loop never waits. A unit there may write only what it can
write at once (the write gate free, SQLite's lock free); otherwise it is rolled back with nothing kept and done again
on a request thread, where it writes exactly once."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from arm_sim.core.errors import DomainError
from arm_sim.core.settings import Settings
from arm_sim.db.engine import dbapi_connection, make_engine, make_sessionmaker
from arm_sim.db.migrate import upgrade
from arm_sim.domain import events
from arm_sim.domain.context import Ctx
from arm_sim.domain.runtime import Runtime, WriteOffLoop
from arm_sim.hosts.http import read_or_off_loop
from tests.test_unit_of_work import _count


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    url = f"sqlite:///{tmp_path / 'loop.db'}"  # the loop answers reads on SQLite only (see Runtime.reads_on_loop)
    upgrade(url)
    engine = make_engine(url)
    yield Runtime(Settings(home=tmp_path, database_url=url), make_sessionmaker(engine))
    engine.dispose()


def _busy_timeouts(rt: Runtime) -> set[int]:
    """The busy timeout of every idle session's connection (each keeps its own: see db.uow)."""
    seen = set()
    for _ in range(3):
        with rt.unit() as ctx:
            cursor = dbapi_connection(ctx.session).cursor()
            seen.add(cursor.execute("PRAGMA busy_timeout").fetchone()[0])
            cursor.close()
    return seen


def _records(kind: str, *, refuse: bool = False):  # type: ignore[no-untyped-def]
    def work(ctx: Ctx) -> int:
        events.record_refusal(ctx, kind, "/x")  # a decision event, as a Key Vault read records
        if refuse:
            raise DomainError(403, "Forbidden", "refused")
        return threading.get_ident()
    return work


@pytest.fixture
def gate_held(rt: Runtime) -> Iterator[threading.Event]:
    """Another request thread in the middle of a write: it holds the write gate until the event is set."""
    release, holding = threading.Event(), threading.Event()

    def writer() -> None:
        with rt.unit() as ctx:
            events.record(ctx, "other.write", "/y")
            ctx.session.flush()  # the first write takes the gate
            holding.set()
            release.wait(30)

    t = threading.Thread(target=writer)
    t.start()
    assert holding.wait(10)
    yield release
    release.set()
    t.join(30)


def test_sqlite_reads_run_on_the_calling_thread(rt: Runtime) -> None:
    assert rt.reads_on_loop
    here = threading.get_ident()
    assert rt.read_on_loop(lambda: rt.run(lambda ctx: threading.get_ident(), read_mostly=True)) == here


def test_a_write_with_nothing_in_its_way_is_done_on_the_loop_once(rt: Runtime) -> None:
    here = threading.get_ident()
    assert rt.read_on_loop(lambda: rt.run(_records("decision.free"), read_mostly=True)) == here
    assert _count(rt, "decision.free") == 1
    assert _busy_timeouts(rt) == {30000}  # the no-wait timeout ended with its transaction


def test_a_write_behind_another_writer_leaves_the_loop_and_is_done_once_on_a_thread(
        rt: Runtime, gate_held: threading.Event) -> None:
    started = time.monotonic()
    with pytest.raises(WriteOffLoop):
        rt.read_on_loop(lambda: rt.run(_records("decision.queued"), read_mostly=True))
    assert time.monotonic() - started < 1  # it did not wait for the other writer
    assert _count(rt, "decision.queued") == 0  # rolled back, nothing kept

    async def served() -> int:
        threading.Timer(0.3, gate_held.set).start()  # the other writer finishes a little later
        return await read_or_off_loop(rt, lambda: rt.run(_records("decision.queued"), read_mostly=True),
                                      short_read=True)

    assert asyncio.run(served()) != threading.get_ident()  # answered by a request thread
    assert _count(rt, "decision.queued") == 1


def test_a_refusal_on_the_loop_keeps_its_event_once_whichever_way_it_goes(
        rt: Runtime, gate_held: threading.Event) -> None:
    with pytest.raises(WriteOffLoop):  # the refusal's event cannot be written at once: the thread will
        rt.read_on_loop(lambda: rt.run(_records("decision.refused", refuse=True), read_mostly=True))
    assert _count(rt, "decision.refused") == 0
    gate_held.set()
    time.sleep(0.2)
    with pytest.raises(DomainError):  # nothing in the way now: refused on the loop, its event kept
        rt.read_on_loop(lambda: rt.run(_records("decision.refused", refuse=True), read_mostly=True))
    assert _count(rt, "decision.refused") == 1


def test_another_process_holding_sqlites_lock_never_makes_the_loop_wait(rt: Runtime, tmp_path: Path) -> None:
    assert _count(rt, "decision.locked") == 0  # (the unit's connection is open before the other one locks)
    other = sqlite3.connect(tmp_path / "loop.db", timeout=30)  # as a second process on the same file would
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO events (at, kind, subject, details) VALUES (0, 'other.process', '/z', '{}')")
    try:
        started = time.monotonic()
        with pytest.raises(WriteOffLoop):
            rt.read_on_loop(lambda: rt.run(_records("decision.locked"), read_mostly=True))
        assert time.monotonic() - started < 1
    finally:
        other.commit()
        other.close()
    assert _count(rt, "decision.locked") == 0
    assert _busy_timeouts(rt) == {30000}
    assert rt.read_on_loop(lambda: rt.run(_records("decision.locked"), read_mostly=True))
    assert _count(rt, "decision.locked") == 1


def test_slow_work_is_never_done_on_the_loop(rt: Runtime) -> None:
    from arm_sim.db import write_gate

    with pytest.raises(WriteOffLoop):
        rt.read_on_loop(lambda: rt.run(lambda ctx: write_gate.slow_work_ahead(), read_mostly=True))
    write_gate.slow_work_ahead()  # off the loop: nothing happens


def test_a_conflict_on_the_loop_keeps_nothing_and_the_thread_writes_the_event_once(rt: Runtime) -> None:
    """A plain unit (as IMDS's token chain opens) that lost a race on the loop: the request runs again on a thread,
    which records the refusal; the loop's attempt must not have kept it already."""
    from sqlalchemy.orm.exc import StaleDataError

    from arm_sim.db import write_gate

    def work() -> int:
        with rt.unit(read_mostly=True) as ctx:
            events.record_refusal(ctx, "decision.raced", "/x")
            if write_gate.waiting_forbidden():
                raise StaleDataError("another writer won")  # (as a concurrent UPDATE would make the flush raise)
            return threading.get_ident()

    async def served() -> int:
        return await read_or_off_loop(rt, work, short_read=True)

    assert asyncio.run(served()) != threading.get_ident()  # answered by a request thread
    assert _count(rt, "decision.raced") == 1


def test_a_connection_back_in_the_pool_never_keeps_the_loops_zero_busy_timeout(rt: Runtime) -> None:
    """A connection closed while it held the gate for a write on the loop (no commit or rollback event reached it):
    the pool's check-in hands the gate back and gives the connection its busy timeout again."""
    from arm_sim.db import write_gate

    engine = rt.sessions.kw["bind"]
    conn = engine.connect()
    with write_gate.no_waiting():
        write_gate.enter(conn)  # the gate taken on the loop: busy timeout 0
    conn.close()
    with engine.connect() as again:  # (the pool hands the same DB-API connection out again)
        assert again.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert write_gate._GATES[engine].acquire_now()  # the gate was given back too
