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

import threading
from collections import deque
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, event

WAIT = 30.0  # seconds, as SQLite's busy timeout: past it the writer goes on and SQLite decides
_KEY = "arm_sim.write_gate"  # in a DB-API connection's info: the gate it holds
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
    def _returned(dbapi_conn: Any, record: Any) -> None:  # never back in the pool still holding it
        gate = record.info.pop(_KEY, None) if record is not None else None
        if gate is not None:
            gate.release()


def enter(conn: Connection) -> None:
    """Before a write on `conn`: take the gate unless its transaction already holds it."""
    gate = _GATES.get(conn.engine)
    if gate is None or _KEY in conn.info:
        return
    driver = conn.connection.driver_connection
    if driver is not None and driver.in_transaction:  # a transaction that began without the gate: don't wait
        return
    if gate.acquire(WAIT):
        conn.info[_KEY] = gate


def leave(conn: Connection | None) -> None:
    """After `conn`'s transaction ended (commit or rollback): the next writer's turn."""
    if conn is None or conn.closed:
        return
    gate = conn.info.pop(_KEY, None)
    if gate is not None:
        gate.release()
