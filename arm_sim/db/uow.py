"""The unit of work: one transaction per request (or per deployment operation).

Services never commit; the edge that opened the unit commits once, or rolls back on any error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

# Closed sessions kept for the next unit, per factory. Opening and closing a session is a large share of a
# cheap GET, and a closed Session holds no objects and no transaction, so it can be reused as is. On SQLite
# an idle session also keeps its connection (bound to it): a file database's connection cannot go stale,
# so the pool's checkout and reset are pure overhead. Server databases hand connections back to the pool,
# whose pre-ping notices a restarted server. A few idle sessions suffice: units rarely overlap.
_idle: WeakKeyDictionary[sessionmaker[Session], list[Session]] = WeakKeyDictionary()
_MAX_IDLE = 2


@contextmanager
def unit_of_work(factory: sessionmaker[Session], *, read_mostly: bool = False) -> Iterator[Session]:
    """`read_mostly` (GET/HEAD): a unit that turned out to write nothing ends without a COMMIT.

    Writes stay transactional either way: a unit that did write (lazy state changes on a read) commits.
    """
    idle = _idle.get(factory)
    if idle is None:
        idle = _idle.setdefault(factory, [])
    try:
        session = idle.pop()  # (not `if idle`: another thread may take the last one in between)
    except IndexError:
        session = _new_session(factory)
    try:
        yield session
        if not read_mostly or _wrote(session):
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()  # ends the transaction; a pooled connection goes back to the pool
        _release(idle, session)


def _new_session(factory: sessionmaker[Session]) -> Session:
    engine = factory.kw.get("bind")
    if isinstance(engine, Engine) and engine.dialect.name == "sqlite":
        return factory(bind=engine.connect())
    return factory()


def _release(idle: list[Session], session: Session) -> None:
    held = session.bind if isinstance(session.bind, Connection) else None
    if held is not None and not (held.invalidated or held.closed):
        driver = held.connection.driver_connection
        if driver.in_transaction:  # only if something wrote past the session and failed: never keep it open
            driver.rollback()
    if len(idle) < _MAX_IDLE and not (held is not None and (held.invalidated or held.closed)):
        idle.append(session)
    elif held is not None:
        held.close()  # back to the pool (an invalidated connection is discarded there)


def _wrote(session: Session) -> bool:
    """Whether ending the unit needs a COMMIT (when unsure: yes)."""
    if session.new or session.dirty or session.deleted:
        return True  # not flushed yet
    bind = session.bind
    if isinstance(bind, Connection) and bind.dialect.name == "sqlite":
        # SQLite: sqlite3 (legacy transaction control) opens a transaction only when something is written, so
        # its flag is exact, and it also covers reads and writes made on the connection past the session.
        return bool(bind.connection.driver_connection.in_transaction)
    return session.in_transaction()  # psycopg opens a transaction with any statement: commit whatever was used
