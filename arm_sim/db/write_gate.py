"""SQLite's one writer, handed out first come, first served among this process's threads.

SQLite lets one connection write at a time; the others wait in its busy handler, which sleeps and polls. A thread
that commits and writes again at once (a deployment commits after each resource) takes the lock back before a
sleeping waiter wakes, so a request that needs one small write (a Key Vault read records its decision) could wait
for the whole deployment. The gate queues writers in the order they asked: a unit takes it just before its first
write and gives it back when its transaction ends (`uow`), so a waiter waits for at most one step of another.

Other processes on the same file still meet SQLite's own locking (correct, only not fair); PostgreSQL locks rows
and needs no gate.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, event

_on_loop = threading.local()  # `no_waiting()`: this thread serves a read on the event loop, where no write may wait
WAIT = 30.0  # seconds, as SQLite's busy timeout: past it the writer goes on and SQLite decides
_KEY = "arm_sim.write_gate"  # in a DB-API connection's info: the gate it holds
_NO_WAIT = "arm_sim.write_gate.no_wait"  # in a connection's info: its busy timeout is 0 until its transaction ends
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class FairLock:
    """A lock granted in the order it was asked for (threading.Lock lets a releasing thread take it right back)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiters: deque[threading.Event] = deque()

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            turn = threading.Event()
            self._waiters.append(turn)
        if turn.wait(timeout):
            return True
        with self._mutex:
            if turn.is_set():  # handed over just as the wait ran out
                return True
            self._waiters.remove(turn)
            return False

    def acquire_now(self) -> bool:
        """Take it only if it is free (no holder means no one waits either, so this jumps no queue)."""
        with self._mutex:
            if self._held:
                return False
            self._held = True
            return True

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().set()  # handed straight to the next in line: it stays held
            else:
                self._held = False


_GATES: WeakKeyDictionary[Engine, FairLock] = WeakKeyDictionary()


def install(engine: Engine) -> None:
    """Make every write through SQLAlchemy on this (SQLite) engine take the gate first, and every end of a
    transaction give it back (`leave` covers the commits the unit of work makes on the driver itself)."""
    _GATES[engine] = FairLock()

    @event.listens_for(engine, "before_cursor_execute")
    def _before_write(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip()[:7].upper().startswith(_WRITES):
            enter(conn)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _ended(conn: Connection) -> None:
        leave(conn)

    @event.listens_for(engine.pool, "checkin")
    def _returned(dbapi_conn: Any, record: Any) -> None:  # never back in the pool holding it, or without waiting
        if record is None:
            return
        if record.info.pop(_NO_WAIT, False) and dbapi_conn is not None:
            with suppress(sqlite3.Error):  # (a connection closed under it is discarded anyway)
                dbapi_conn.execute(f"PRAGMA busy_timeout={int(WAIT * 1000)}")
        gate = record.info.pop(_KEY, None)
        if gate is not None:
            gate.release()


class WriteOffLoop(Exception):  # noqa: N818 - a signal, not an error
    """A unit answering on the event loop would have to wait to write: its caller rolls it back and runs it again on
    a request thread, where waiting for the gate (or SQLite's lock) holds up no one else."""


@contextmanager
def no_waiting() -> Iterator[None]:
    """The block runs on the event loop, which must never wait: a write there takes the gate only when it is free,
    and SQLite's lock only when it is free (busy timeout 0); otherwise it raises `WriteOffLoop`. Reads never wait on
    SQLite in WAL mode."""
    _on_loop.active = True
    try:
        yield
    finally:
        _on_loop.active = False


def waiting_forbidden() -> bool:
    return getattr(_on_loop, "active", False)


def slow_work_ahead() -> None:
    """Called before work too long for the event loop (signing a token, maybe making a key): there, it raises
    `WriteOffLoop`, so the request is done again on a request thread; elsewhere it does nothing."""
    if waiting_forbidden():
        raise WriteOffLoop


def enter(conn: Connection) -> None:
    """Before a write on `conn`: take the gate unless its transaction already holds it."""
    gate = _GATES.get(conn.engine)
    on_loop = waiting_forbidden()
    if gate is None or _KEY in conn.info:
        if on_loop and gate is None:  # an engine without a gate: nothing says its writes would not wait
            raise WriteOffLoop
        return
    driver = conn.connection.driver_connection
    if driver is not None and driver.in_transaction:  # a transaction that began without the gate: don't wait
        return
    if not on_loop:
        if gate.acquire(WAIT):
            conn.info[_KEY] = gate
        return
    if driver is None or not gate.acquire_now():
        raise WriteOffLoop
    conn.info[_KEY] = gate
    driver.execute("PRAGMA busy_timeout=0")  # another process's write: SQLite says busy at once (a conflict)
    conn.info[_NO_WAIT] = True


def leave(conn: Connection | None) -> None:
    """After `conn`'s transaction ended (commit or rollback): the next writer's turn."""
    if conn is None or conn.closed:
        return
    if conn.info.pop(_NO_WAIT, False):
        driver = conn.connection.driver_connection
        if driver is not None:
            driver.execute(f"PRAGMA busy_timeout={int(WAIT * 1000)}")
    gate = conn.info.pop(_KEY, None)
    if gate is not None:
        gate.release()
