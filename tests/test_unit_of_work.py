"""The cheap read path stays exact: read-mostly units still commit what they write, reused sessions carry
nothing over, the clock moved by another process is seen by the very next unit, and HotSelect reads what
SQLAlchemy reads (on SQLite and, with ARM_SIM_TEST_DATABASE_URL, on PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import bindparam, func, insert, select

from arm_sim.core.settings import Settings
from arm_sim.db.engine import HotSelect, dbapi_connection, make_engine, make_sessionmaker
from arm_sim.db.migrate import upgrade
from arm_sim.db.models import Event
from arm_sim.domain import clock, events, rbac
from arm_sim.domain.runtime import Runtime
from arm_sim.hosts.http import dumps
from tests.simserver import fresh_database_url

EVENTS = Event.__table__


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    url = fresh_database_url() or f"sqlite:///{tmp_path / 'uow.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield Runtime(Settings(home=tmp_path, database_url=url), make_sessionmaker(engine))
    engine.dispose()


def _count(rt: Runtime, kind: str) -> int:
    with rt.unit() as ctx:
        return ctx.session.scalar(select(func.count()).select_from(EVENTS).where(EVENTS.c.kind == kind)) or 0


def test_a_read_mostly_unit_commits_whatever_it_writes(rt: Runtime) -> None:
    with rt.unit(read_mostly=True) as ctx:  # pending at the end
        events.record(ctx, "uow.pending", "/x")
    with rt.unit(read_mostly=True) as ctx:  # flushed in the middle, nothing pending at the end
        events.record(ctx, "uow.flushed", "/x")
        ctx.session.flush()
    with rt.unit(read_mostly=True) as ctx:  # Core DML, never seen by the ORM
        ctx.session.execute(insert(EVENTS).values(at=ctx.now, kind="uow.core", subject="/x", details={}))
    assert [_count(rt, k) for k in ("uow.pending", "uow.flushed", "uow.core")] == [1, 1, 1]


def test_a_failed_unit_leaves_nothing_behind_for_the_next(rt: Runtime) -> None:
    with pytest.raises(RuntimeError), rt.unit(read_mostly=True) as ctx:
        events.record(ctx, "uow.failed", "/x")
        ctx.session.flush()
        raise RuntimeError("boom")
    for read_mostly in (True, False, True):
        with rt.unit(read_mostly=read_mostly) as ctx:
            assert not ctx.session.new and not ctx.session.identity_map
    assert _count(rt, "uow.failed") == 0


def test_a_raw_write_in_a_failed_unit_is_rolled_back_not_left_open(rt: Runtime) -> None:
    marker = "?" if rt.settings.db_url.startswith("sqlite") else "%s"
    with pytest.raises(RuntimeError), rt.unit(read_mostly=True) as ctx:
        cursor = dbapi_connection(ctx.session).cursor()
        cursor.execute(f"INSERT INTO events (at, kind, subject, details) VALUES (1, {marker}, '/x', '{{}}')",
                       ("uow.raw",))
        raise RuntimeError("boom")
    other_engine = make_engine(rt.settings.db_url)  # would wait on the lock if the write were still open
    try:
        with Runtime(rt.settings, make_sessionmaker(other_engine)).unit() as ctx:
            events.record(ctx, "uow.other", "/x")
    finally:
        other_engine.dispose()
    assert (_count(rt, "uow.raw"), _count(rt, "uow.other")) == (0, 1)


def test_the_clock_moved_by_another_process_is_read_by_the_very_next_unit(rt: Runtime) -> None:
    other_engine = make_engine(rt.settings.db_url)  # another process: its own engine and connections
    other = Runtime(rt.settings, make_sessionmaker(other_engine))
    try:
        with rt.unit(read_mostly=True) as ctx:
            before = ctx.now
        with other.unit() as ctx:
            clock.advance(ctx.session, 30 * 86400)
        with rt.unit(read_mostly=True) as ctx:
            assert ctx.now >= before + 30 * 86400
        with other.unit() as ctx:
            frozen = clock.freeze(ctx.session)
        with rt.unit(read_mostly=True) as ctx:
            assert ctx.now == frozen
    finally:
        other_engine.dispose()


def test_hot_select_reads_what_sqlalchemy_reads(rt: Runtime) -> None:
    hot = HotSelect(select(EVENTS).where(EVENTS.c.subject == bindparam("subject")))
    details = {"nested": {"list": [1, 2.5, None, "é"]}, "big": 2**70}
    with rt.unit() as ctx:
        ctx.session.execute(insert(EVENTS).values(at=1.5, kind="uow.hot", subject="/hot", details=details))
    with rt.unit(read_mostly=True) as ctx:
        row = hot.first(ctx.session, {"subject": "/hot"})
        assert row is not None
        assert tuple(row) == tuple(ctx.session.execute(hot.stmt, {"subject": "/hot"}).one())
        assert (row.kind, row.actor, row.details) == ("uow.hot", None, details)
        assert hot.first(ctx.session, {"subject": "/missing"}) is None
    newest = HotSelect(select(EVENTS.c.subject).where(EVENTS.c.kind == "uow.hot")  # its own bind values too
                       .order_by(EVENTS.c.seq.desc()).limit(1))
    with rt.unit(read_mostly=True) as ctx:  # reads see the unit's own flushed writes
        events.record(ctx, "uow.hot", "/hot2")
        ctx.session.flush()
        assert hot.first(ctx.session, {"subject": "/hot2"}) is not None
        assert [r.subject for r in newest.all(ctx.session, {})] == ["/hot2"]


def test_durable_events_are_kept_in_order_whether_the_unit_commits_or_fails(rt: Runtime) -> None:
    details = {"reason": "policy grants get", "big": 2**70, "nested": ["é", None]}
    with rt.unit(read_mostly=True) as ctx:  # a read that only records its decision still commits it
        events.record_refusal(ctx, "uow.durable", "/ok", **details)
    with rt.unit(read_mostly=True) as ctx:  # written after what the unit recorded itself
        events.record(ctx, "uow.durable", "/first")
        events.record_refusal(ctx, "uow.durable", "/second")
    with pytest.raises(RuntimeError), rt.unit() as ctx:  # a refusal outlives the rollback; the write does not
        events.record(ctx, "uow.durable", "/rolled-back")
        events.record_refusal(ctx, "uow.durable", "/refused")
        raise RuntimeError("boom")
    with rt.unit() as ctx:
        rows = events.query(ctx, kind="uow.durable")
    assert [r["subject"] for r in rows] == ["/ok", "/first", "/second", "/refused"]
    assert rows[0]["details"] == details


def test_json_responses_render_what_the_stdlib_would() -> None:
    for body in ({"a": [1, 2.5, None, True, "é"], "b": {}}, {"big": 2**70}, {"lone": "\ud800"}, {1: "x"}):
        assert json.loads(dumps(body)) == json.loads(json.dumps(body))


def test_a_units_memo_serves_repeated_decisions_and_is_forgotten_when_its_source_changes(rt: Runtime) -> None:
    reader = "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"
    principal, scope = str(uuid.uuid4()), f"/subscriptions/{uuid.uuid4()}"
    assignment = {"id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}", "name": "ra",
                  "properties": {"scope": scope, "roleDefinitionId": reader, "principalId": principal}}
    action = "Microsoft.Compute/virtualMachines/read"
    with rt.unit() as ctx:
        assert not rbac.decide(ctx, principal, action, scope).allowed
        assert ctx.memo  # the principal's assignments are remembered for the unit …
        rbac.index_assignment(ctx, assignment)  # … until the unit writes one
        assert rbac.decide(ctx, principal, action, scope).allowed
        events.record(ctx, "uow.memo", "/x")
        ctx.session.flush()
        nested = ctx.session.begin_nested()
        rbac.unindex_assignment(ctx, assignment["id"])
        assert not rbac.decide(ctx, principal, action, scope).allowed
        nested.rollback()  # the removal is undone: so is what was remembered of it
        assert not ctx.memo
        assert rbac.decide(ctx, principal, action, scope).allowed
    with rt.unit() as ctx:  # a reused session starts the next unit with an empty memo
        assert not ctx.memo
        assert rbac.decide(ctx, principal, action, scope).allowed


def test_a_principals_events_are_found_past_the_first_page(rt: Runtime) -> None:
    """The principal filter looks inside each event (subject, actor, details.principalId): however many other
    events come first, its own are found, `limit` at a time, in log order."""
    wanted = str(uuid.uuid4())
    with rt.unit() as ctx:
        for i in range(30):
            events.record(ctx, "noise", f"/other/{i}")
        events.record(ctx, "token.requested", "/vm", principalId=wanted)
        for i in range(30):
            events.record(ctx, "noise", f"/more/{i}")
        events.record(ctx, "servicePrincipal.deleted", wanted)
    with rt.unit() as ctx:
        found = events.query(ctx, principal=wanted.upper(), limit=10)
        assert [e["kind"] for e in found] == ["token.requested", "servicePrincipal.deleted"]
        assert [e["kind"] for e in events.query(ctx, principal=wanted, limit=1)] == ["token.requested"]
        after = found[0]["seq"]
        assert [e["kind"] for e in events.query(ctx, principal=wanted, after_seq=after)] == [
            "servicePrincipal.deleted"]
