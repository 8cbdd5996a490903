"""Engine and session factory for SQLite (WAL, the default) or PostgreSQL."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from typing import Any, Generic, TypeGuard, TypeVar, cast
from weakref import WeakKeyDictionary

from sqlalchemy import JSON, Connection, Dialect, Engine, Select, Table, bindparam, create_engine, event
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session, sessionmaker

from arm_sim.db import write_gate


def make_engine(url: str) -> Engine:
    # JSON columns keep the stdlib decoder: orjson would be faster but reads integers beyond 64 bits as floats.
    # One connection for each request thread (hosts.http.THREADS), and a few for the work beside them.
    kwargs: dict[str, Any] = {"pool_size": 16, "max_overflow": 8}
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

        write_gate.install(engine)

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
        return bind.connection
    return session.connection().connection


def _sqlite_connection(bind: object) -> TypeGuard[Connection]:
    return isinstance(bind, Connection) and bind.dialect.name == "sqlite"


# SQL, the statement's own bind values (a LIMIT, a literal compared with), (column, processor)s, row type
_Prepared = tuple[str, dict[str, Any], list[tuple[int, Callable[[Any], Any]]], Any]


def _trivial_json_first(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Most JSON columns of a row hold `{}` or null: answer those without running the decoder."""
    def run(value: Any) -> Any:
        if value == "{}":
            return {}
        if value is None or value == "null":
            return None
        return process(value)
    return run


R = TypeVar("R")


class HotSelect(Generic[R]):
    """A prebuilt Core SELECT for the hottest reads (a GET's resource row), fetched as an attribute tuple.

    On SQLite the query itself takes a few microseconds and SQLAlchemy's execution machinery (execution context,
    result object, row processing) several times that, so there the statement is compiled once and run straight
    on the connection's DB-API cursor, with the very result processors SQLAlchemy would apply (JSON text ->
    objects). Bind values must be plain (str, int, float). Elsewhere it is an ordinary execute: a server
    round trip costs far more than the machinery.

    `R` is the record type its rows satisfy (db.records), named where the statement is declared
    (`_BY_KEY: HotSelect[ResourceRecord] = HotSelect(...)`): the same type the ORM's rows satisfy.
    """

    def __init__(self, stmt: Select[Any]) -> None:
        self.stmt = stmt
        # per dialect instance: result processors depend on its settings (the JSON deserializer)
        self._prepared: WeakKeyDictionary[Dialect, _Prepared] = WeakKeyDictionary()

    def first(self, session: Session, params: dict[str, Any]) -> R | None:
        """The first row (attributes named as the selected columns), or None; on the unit's connection."""
        rows = self._run(session, params, one=True)
        return rows[0] if rows else None

    def all(self, session: Session, params: dict[str, Any]) -> list[R]:
        """Every row, in the statement's order; on the unit's connection."""
        return self._run(session, params, one=False)

    def _run(self, session: Session, params: dict[str, Any], *, one: bool) -> list[R]:
        bind = session.bind
        if not _sqlite_connection(bind):  # SQLAlchemy's rows have the same attributes as the record type
            result = session.connection().execute(self.stmt, params)
            if one:
                found = result.first()
                return [cast(R, found)] if found is not None else []
            return cast(list[R], list(result.all()))
        dialect = bind.dialect
        sql, fixed, processors, row_type = self._prepared.get(dialect) or self._prepare(dialect)
        cursor = dbapi_connection(session).cursor()
        try:
            cursor.execute(sql, {**fixed, **params} if fixed else params)
            raw = ([r] if (r := cursor.fetchone()) is not None else []) if one else cursor.fetchall()
        finally:
            cursor.close()
        out = []
        for row in raw:
            values = list(row)
            for i, process in processors:
                values[i] = process(values[i])
            out.append(row_type._make(values))
        return out

    def _prepare(self, dialect: Dialect) -> _Prepared:
        compiled = self.stmt.compile(dialect=sqlite.dialect(paramstyle="named"))  # sqlite3 takes :name binds
        fixed = {k: v for k, v in compiled.params.items() if v is not None}
        columns = list(self.stmt.selected_columns)
        processors = [(i, _trivial_json_first(p) if isinstance(c.type, JSON) else p) for i, c in enumerate(columns)
                      if (p := c.type.dialect_impl(dialect).result_processor(dialect, None)) is not None]
        # field names known only at run time (mypy wants a literal list; every selected column here has a key)
        row_type = namedtuple("HotRow", [c.key for c in columns])  # type: ignore[misc]
        prepared = self._prepared[dialect] = (str(compiled), fixed, processors, row_type)
        return prepared


class HotInsert:
    """A prebuilt Core INSERT for rows written on hot read paths (the data plane's decision events).

    As HotSelect: on SQLite it runs on the unit's DB-API connection with SQLAlchemy's own bind processors (the
    unit of work commits the driver's transaction this opens); elsewhere an ordinary executemany in the session's
    transaction. Columns with server-side values (the autoincrement key) are left out.
    """

    def __init__(self, table: Table) -> None:
        self.columns = [c for c in table.columns if not (c.primary_key and c.autoincrement in (True, "auto"))]
        self.stmt = table.insert().values({c.name: bindparam(c.name) for c in self.columns})
        self._prepared: WeakKeyDictionary[Dialect, tuple[str, list[Callable[[Any], Any] | None]]] = WeakKeyDictionary()

    def run(self, session: Session, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        bind = session.bind
        if not _sqlite_connection(bind):
            session.connection().execute(self.stmt, rows)
            return
        dialect = bind.dialect
        prepared = self._prepared.get(dialect)
        if prepared is None:
            sql = str(self.stmt.compile(dialect=sqlite.dialect(paramstyle="named")))
            processors: list[Callable[[Any], Any] | None] = [
                c.type.dialect_impl(dialect).bind_processor(dialect) for c in self.columns]
            prepared = self._prepared[dialect] = (sql, processors)
        sql, binds = prepared
        write_gate.enter(bind)  # a SQLite connection: see _sqlite_connection
        names = [c.name for c in self.columns]
        values = [{n: (p(row.get(n)) if p else row.get(n)) for n, p in zip(names, binds, strict=True)} for row in rows]
        cursor = dbapi_connection(session).cursor()
        try:
            cursor.executemany(sql, values)
        finally:
            cursor.close()
