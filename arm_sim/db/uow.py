"""The unit of work: one transaction per request (or per deployment operation).

Services never commit; the edge that opened the unit commits once, or rolls back on any error.
"""

from __future__ import annotations

from types import TracebackType
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from arm_sim.db import write_gate

# Closed sessions kept for the next unit, per factory. Opening and closing a session is a large share of a
# cheap GET, and a closed Session holds no objects and no transaction, so it can be reused as is. On SQLite
# an idle session also keeps its connection (bound to it): a file database's connection cannot go stale,
# so the pool's checkout and reset are pure overhead. Server databases hand connections back to the pool,
# whose pre-ping notices a restarted server. Units run on the request threads (hosts.http.THREADS): as many idle
# sessions as there are threads.
_idle: WeakKeyDictionary[sessionmaker[Session], list[Session]] = WeakKeyDictionary()
_MAX_IDLE = 16


MEMO = "memo"  # session.info key of the unit's memo of reads (Ctx.memo)


@event.listens_for(Session, "after_soft_rollback")
def _forget_reads(session: Session, previous_transaction: object) -> None:
    """Any rollback, a SAVEPOINT's included, may undo writes a remembered read saw: forget them all."""
    memo = session.info.get(MEMO)
    if memo:
        memo.clear()


class UnitOfWork:
    """`with UnitOfWork(factory) as session:` commits when the block ends normally, rolls back on any exception.

    `read_mostly` (GET/HEAD): a unit that turned out to write nothing ends without a COMMIT. Writes stay
    transactional either way: a unit that did write (lazy state changes on a read) commits. (A class rather
    than a generator: it opens every request, and this is measurably cheaper.)
    """

    __slots__ = ("_idle", "factory", "read_mostly", "session")

    def __init__(self, factory: sessionmaker[Session], *, read_mostly: bool = False) -> None:
        self.factory, self.read_mostly = factory, read_mostly

    def __enter__(self) -> Session:
        idle = _idle.get(self.factory)
        if idle is None:
            idle = _idle.setdefault(self.factory, [])
        try:
            session = idle.pop()  # (not `if idle`: another thread may take the last one in between)
        except IndexError:
            session = _new_session(self.factory)
        self._idle, self.session = idle, session
        return session

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
                 ) -> None:
        session = self.session
        try:
            if exc_type is None:
                _commit(session, self.read_mostly)
            else:
                session.rollback()
        except BaseException:
            session.rollback()
            raise
        finally:
            if session.in_transaction() or session.identity_map or session.new:  # (bare reads: nothing to close)
                session.close()  # ends the transaction; a pooled connection goes back to the pool
            write_gate.leave(_held(session))  # before the session is idle again: the next unit takes its own turn
            _release(self._idle, session)

    def commit_so_far(self) -> None:
        """Commit what the open unit wrote; the session goes on, in a new transaction, for the rest of it."""
        _commit(self.session, False)
        write_gate.leave(_held(self.session))


def savepoint(session: Session) -> SessionTransaction:
    """A SAVEPOINT inside the unit's transaction (a deployment's step, a what-if that is rolled back).

    pysqlite opens its transaction lazily, at the first write: a SAVEPOINT issued before any write would start
    (and RELEASE would end) a transaction of its own. A no-op UPDATE makes it open the real one first.
    """
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        driver = conn.connection.driver_connection  # None only once the connection is invalidated
        if driver is not None and not driver.in_transaction:
            conn.exec_driver_sql("UPDATE clock SET id = id WHERE 0 = 1")
    return session.begin_nested()


def _new_session(factory: sessionmaker[Session]) -> Session:
    engine = factory.kw.get("bind")
    if isinstance(engine, Engine) and engine.dialect.name == "sqlite":
        return factory(bind=engine.connect())
    return factory()


def _held(session: Session) -> Connection | None:
    """The connection a (SQLite) session keeps between units; None for pooled sessions."""
    return session.bind if isinstance(session.bind, Connection) else None


def _release(idle: list[Session], session: Session) -> None:
    held = _held(session)
    if held is not None and not (held.invalidated or held.closed):
        driver = held.connection.driver_connection
        # only if something wrote past the session and failed: never keep it open
        if driver is not None and driver.in_transaction:
            driver.rollback()
    if len(idle) < _MAX_IDLE and not (held is not None and (held.invalidated or held.closed)):
        idle.append(session)
    elif held is not None:
        held.close()  # back to the pool (an invalidated connection is discarded there)


def _commit(session: Session, read_mostly: bool) -> None:
    """End a unit that succeeded: commit what it wrote, through the session or past it.

    SQLite: sqlite3 (legacy transaction control) opens a transaction only when something is written, so the
    driver's flag is exact: a read-mostly unit that wrote nothing skips the COMMIT, and rows written straight on
    the connection (HotInsert) are committed by the driver without the session's transaction bookkeeping.
    Other databases: psycopg opens a transaction with any statement, so whatever the session used is committed.
    """
    bind = session.bind
    driver = bind.connection.driver_connection if isinstance(bind, Connection) and bind.dialect.name == "sqlite" \
        else None
    if session.new or session.dirty or session.deleted:
        session.commit()  # not flushed yet
    elif session.in_transaction() and (not read_mostly or driver is None or driver.in_transaction):
        session.commit()
    if driver is not None and driver.in_transaction:  # written on the connection, outside the session
        driver.commit()
