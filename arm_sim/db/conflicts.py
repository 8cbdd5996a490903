"""Which database failures mean "another writer got there first": the unit that met one is rolled back and run
again (see `domain.runtime.Runtime.run`), where it reads what the winner wrote.

- StaleDataError: an UPDATE or DELETE of a resource found its row changed or gone since it was read (the etag is
  the row's version, `db.models.Resource`).
- A unique violation: two units inserted the same key (two creates of one new name).
- SQLite's "database is locked" after its busy timeout, and PostgreSQL's serialization failures and deadlocks.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

# SQLSTATEs: unique_violation, serialization_failure, deadlock_detected
_PG_RETRY = {"23505", "40001", "40P01"}


def is_conflict(exc: BaseException) -> bool:
    if isinstance(exc, StaleDataError):
        return True
    if isinstance(exc, sqlite3.OperationalError):  # raised past SQLAlchemy (HotInsert writes on the DB-API cursor)
        return "database is locked" in str(exc)
    if not isinstance(exc, DBAPIError):
        return False
    state = getattr(exc.orig, "sqlstate", None)
    if state is not None:
        return state in _PG_RETRY
    text = str(exc.orig)
    if isinstance(exc, IntegrityError):
        return text.startswith("UNIQUE constraint failed")
    return isinstance(exc, OperationalError) and "database is locked" in text
