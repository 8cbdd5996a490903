"""The unit of work: one transaction per request (or per deployment operation).

Services never commit; the edge that opened the unit commits once, or rolls back on any error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from weakref import WeakKeyDictionary

from sqlalchemy.orm import Session, sessionmaker

# Closed sessions kept for reuse, per factory: a Session that was closed holds no objects, connection or
# transaction, and building a new one is a measurable part of a cheap GET. A few suffice (units rarely overlap).
_idle: WeakKeyDictionary[sessionmaker[Session], list[Session]] = WeakKeyDictionary()
_MAX_IDLE = 4


@contextmanager
def unit_of_work(factory: sessionmaker[Session], *, read_mostly: bool = False) -> Iterator[Session]:
    """`read_mostly` (GET/HEAD): a unit that turned out to write nothing ends without a COMMIT.

    Writes stay transactional either way: a unit that did write (lazy state changes on a read) commits.
    """
    idle = _idle.get(factory)
    if idle is None:
        idle = _idle.setdefault(factory, [])
    try:
        session = idle.pop()
    except IndexError:
        session = factory()
    try:
        yield session
        if not read_mostly or _wrote(session):
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()  # returns the connection; the pool's reset rolls back whatever is still open
        if len(idle) < _MAX_IDLE:
            idle.append(session)


def _wrote(session: Session) -> bool:
    """Whether ending the unit needs a COMMIT (when unsure: yes)."""
    if session.new or session.dirty or session.deleted:
        return True  # not flushed yet
    if not session.in_transaction():
        return False  # never touched the database
    # sqlite3 (legacy transaction control) opens a transaction only when something is written, so its flag is
    # exact. psycopg has no such flag (every statement opens a transaction): always commit there.
    return bool(getattr(session.connection().connection.driver_connection, "in_transaction", True))
