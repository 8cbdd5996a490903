"""Engine and session factory for SQLite (WAL, the default) or PostgreSQL."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Dialect, Engine, Select, create_engine, event
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    # JSON columns keep the stdlib decoder: orjson would be faster but reads integers beyond 64 bits as floats.
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=True)


def dbapi_connection(session: Session) -> Any:
    """The DB-API connection for a unit's hand-written hot reads: the session's own, so they see its flushes.

    A session bound to a SQLite connection (the reused sessions, see `uow`) is read through that connection
    without starting the session's transaction bookkeeping, which costs more than a query on a GET that writes
    nothing: sqlite3 opens no transaction for a SELECT. Any other session is asked for its connection.
    """
    bind = session.bind
    if _sqlite_connection(bind):
        return bind.connection  # type: ignore[union-attr]
    return session.connection().connection


def _sqlite_connection(bind: object) -> bool:
    return isinstance(bind, Connection) and bind.dialect.name == "sqlite"


_Prepared = tuple[str, list[tuple[int, Callable[[Any], Any]]], Any]  # SQL, (column, processor)s, row type


class HotSelect:
    """A prebuilt Core SELECT for the hottest reads (a GET's resource row), fetched as an attribute tuple.

    On SQLite the query itself takes a few microseconds and SQLAlchemy's execution machinery (execution context,
    result object, row processing) several times that, so there the statement is compiled once and run straight
    on the connection's DB-API cursor, with the very result processors SQLAlchemy would apply (JSON text ->
    objects). Bind values must be plain (str, int, float). Elsewhere it is an ordinary execute: a server
    round trip costs far more than the machinery.
    """

    def __init__(self, stmt: Select[Any]) -> None:
        self.stmt = stmt
        # per dialect instance: result processors depend on its settings (the JSON deserializer)
        self._prepared: WeakKeyDictionary[Dialect, _Prepared] = WeakKeyDictionary()

    def first(self, session: Session, params: dict[str, Any]) -> Any | None:
        """The first row (attributes named as the selected columns), or None; on the unit's connection."""
        bind = session.bind
        if not _sqlite_connection(bind):
            return session.connection().execute(self.stmt, params).first()
        dialect = bind.dialect  # type: ignore[union-attr]
        sql, processors, row_type = self._prepared.get(dialect) or self._prepare(dialect)
        cursor = dbapi_connection(session).cursor()
        try:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            return None
        values = list(row)
        for i, process in processors:
            values[i] = process(values[i])
        return row_type._make(values)

    def _prepare(self, dialect: Dialect) -> _Prepared:
        sql = str(self.stmt.compile(dialect=sqlite.dialect(paramstyle="named")))  # sqlite3 takes :name binds
        columns = list(self.stmt.selected_columns)
        processors = [(i, p) for i, c in enumerate(columns)
                      if (p := c.type.dialect_impl(dialect).result_processor(dialect, None)) is not None]
        row_type = namedtuple("HotRow", [c.key for c in columns])  # type: ignore[misc]
        prepared = self._prepared[dialect] = (sql, processors, row_type)
        return prepared
