"""The ETag check and the write are one atomic step, across processes: a unit that read a resource before another
unit (here: another engine on the same database, as a second process would have) changed it cannot overwrite that
change. `Runtime.run` runs the loser again, so an `If-Match` that no longer holds answers 412, a plain write lands on
top of the winner's, and an identity is never given two principals. Service level, on SQLite and (with
ARM_SIM_TEST_DATABASE_URL) PostgreSQL; tests/test_concurrency.py races real servers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from arm_sim.app import prepare
from arm_sim.core import ids
from arm_sim.core.errors import DomainError
from arm_sim.core.settings import Settings
from arm_sim.db.conflicts import is_conflict
from arm_sim.db.engine import make_engine, make_sessionmaker
from arm_sim.db.models import Event, ServicePrincipal
from arm_sim.domain import events, runtime, tenancy
from arm_sim.domain.context import Ctx
from arm_sim.domain.runtime import Runtime
from arm_sim.resources import groups, service
from tests.simserver import fresh_database_url

API = "2024-01-01"


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[Runtime, Runtime, str]]:
    """Two runtimes with engines of their own on one database, and a resource group to write in."""
    url = fresh_database_url() or f"sqlite:///{tmp_path / 'occ.db'}"
    settings = Settings(home=tmp_path, database_url=url)
    first = prepare(settings)
    engine = make_engine(url)
    second = Runtime(settings, make_sessionmaker(engine))
    with first.unit() as ctx:
        boot = tenancy.current_bootstrap(ctx)
        assert boot is not None
        sub = boot.subscription_id
        groups.put(ctx, sub, "rg", {"location": "eastus"})
    yield first, second, f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Relay/namespaces"
    engine.dispose()
    bind = first.sessions.kw["bind"]
    bind.dispose()


def _put(rt: Runtime, rid: str, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return rt.run(lambda ctx: service.put(ctx, ids.parse(rid), body, API, **kw)[0])


def _interleaved(rt: Runtime, other: Callable[[], object], work: Callable[[Ctx], Any],
                 monkeypatch: pytest.MonkeyPatch) -> tuple[Any, int]:
    """`rt.run(work)`, where the other writer commits right after this unit read the resource, once."""
    real_get_row, attempts = service.get_row, 0

    def read_then_lose(ctx: Ctx, path: ids.ArmPath) -> Any:
        row = real_get_row(ctx, path)
        monkeypatch.setattr(service, "get_row", real_get_row)
        other()
        return row

    def run(ctx: Ctx) -> Any:
        nonlocal attempts
        attempts += 1
        return work(ctx)

    monkeypatch.setattr(service, "get_row", read_then_lose)
    return rt.run(run), attempts


def _principals(rt: Runtime, rid: str) -> int:
    with rt.unit() as ctx:
        return ctx.session.scalar(select(func.count()).select_from(ServicePrincipal)
                                  .where(ServicePrincipal.resource_key == ids.key(rid))) or 0


def test_a_write_based_on_a_stale_read_is_refused_by_the_database(two: tuple[Runtime, Runtime, str]) -> None:
    first, second, base = two
    rid = f"{base}/w1"
    _put(first, rid, {"location": "eastus", "tags": {"v": "0"}})
    with pytest.raises(StaleDataError), first.unit() as ctx:
        row = service.get_row(ctx, ids.parse(rid))
        assert row is not None
        _put(second, rid, {"location": "eastus", "tags": {"v": "second"}})
        row.tags, row.etag = {"v": "first"}, '"stale"'
        ctx.session.flush()
    with first.unit() as ctx:
        assert service.get(ctx, ids.parse(rid))["tags"] == {"v": "second"}


def test_if_match_that_lost_the_race_answers_412_and_the_winner_stays(two: tuple[Runtime, Runtime, str],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, base = two
    rid = f"{base}/w2"
    etag = _put(first, rid, {"location": "eastus", "tags": {"n": "0"}})["etag"]
    winner = lambda: _put(second, rid, {"location": "eastus", "tags": {"n": "1"}}, if_match=etag)  # noqa: E731
    with pytest.raises(DomainError) as refused:
        _interleaved(first, winner, lambda ctx: service.patch(ctx, ids.parse(rid), {"tags": {"n": "2"}}, API,
                                                              if_match=etag), monkeypatch)
    assert (refused.value.status, refused.value.code) == (412, "PreconditionFailed")
    with first.unit() as ctx:
        assert service.get(ctx, ids.parse(rid))["tags"] == {"n": "1"}


def test_a_plain_write_that_lost_the_race_is_applied_on_top(two: tuple[Runtime, Runtime, str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, base = two
    rid = f"{base}/w3"
    _put(first, rid, {"location": "eastus", "properties": {"a": 1}})
    winner = lambda: second.run(lambda ctx: service.patch(ctx, ids.parse(rid), {"properties": {"b": 2}}, API))  # noqa: E731
    doc, attempts = _interleaved(first, winner, lambda ctx: service.patch(ctx, ids.parse(rid),
                                                                          {"properties": {"c": 3}}, API),
                                  monkeypatch)
    assert attempts == 2
    assert {k: doc["properties"].get(k) for k in "abc"} == {"a": 1, "b": 2, "c": 3}


def test_two_creates_of_one_new_name_one_creates_the_other_updates(two: tuple[Runtime, Runtime, str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, base = two
    rid = f"{base}/w4"
    real_get_row = service.get_row
    attempts = 0

    def run(ctx: Ctx) -> tuple[dict[str, Any], bool]:
        nonlocal attempts
        attempts += 1
        if attempts == 1:  # this unit looked before the other inserted: it goes on to INSERT the same key
            _put(second, rid, {"location": "eastus", "tags": {"by": "second"}})
            monkeypatch.setattr(service, "get_row", lambda c, p: None)
        else:
            monkeypatch.setattr(service, "get_row", real_get_row)
        return service.put(ctx, ids.parse(rid), {"location": "eastus", "tags": {"by": "first"}}, API)

    doc, created = first.run(run)
    assert attempts == 2 and created is False and doc["tags"] == {"by": "first"}


def test_racing_system_assigned_enables_make_one_principal(two: tuple[Runtime, Runtime, str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, base = two
    rid = f"{base}/w5"
    etag = _put(first, rid, {"location": "eastus"})["etag"]
    body = {"location": "eastus", "identity": {"type": "SystemAssigned"}}
    winner = lambda: _put(second, rid, body, if_match=etag)  # noqa: E731
    with pytest.raises(DomainError) as refused:
        _interleaved(first, winner, lambda ctx: service.put(ctx, ids.parse(rid), body, API, if_match=etag),
                     monkeypatch)
    assert refused.value.status == 412
    assert _principals(first, rid) == 1
    # without If-Match the loser's retry keeps the winner's principal rather than adding one
    rid2 = f"{base}/w6"
    _put(first, rid2, {"location": "eastus"})
    doc, attempts = _interleaved(first, lambda: _put(second, rid2, body),
                                 lambda ctx: service.put(ctx, ids.parse(rid2), body, API)[0], monkeypatch)
    assert attempts == 2 and _principals(first, rid2) == 1
    with first.unit() as ctx:
        assert service.get(ctx, ids.parse(rid2))["identity"]["principalId"] == doc["identity"]["principalId"]


def test_a_unit_that_keeps_losing_answers_409_and_keeps_no_durable_events_twice(
        two: tuple[Runtime, Runtime, str], monkeypatch: pytest.MonkeyPatch) -> None:
    first, _, _ = two
    monkeypatch.setattr(runtime.time, "sleep", lambda _: None)
    marker = f"occ.refused.{uuid.uuid4()}"
    calls = 0

    def always_stale(ctx: Ctx) -> None:
        nonlocal calls
        calls += 1
        events.record_refusal(ctx, marker, "/x")
        raise StaleDataError("lost")

    with pytest.raises(DomainError) as busy:
        first.run(always_stale)
    assert (busy.value.status, busy.value.code, calls) == (409, "AnotherOperationInProgress", runtime.ATTEMPTS)
    with first.unit() as ctx:
        kept = ctx.session.scalar(select(func.count()).select_from(Event).where(Event.kind == marker))
    assert kept == 1  # the last attempt's, not one per attempt


def test_only_races_are_retried() -> None:
    assert is_conflict(StaleDataError("x"))
    assert not is_conflict(ValueError("x"))
    assert not is_conflict(DomainError(400, "Bad", "x"))


def test_a_checkpoint_commits_what_the_unit_wrote_so_far(two: tuple[Runtime, Runtime, str]) -> None:
    first, second, base = two
    rid = f"{base}/w7"
    with pytest.raises(RuntimeError), first.unit() as ctx:
        service.put(ctx, ids.parse(rid), {"location": "eastus"}, API)
        ctx.checkpoint()
        service.put(ctx, ids.parse(f"{base}/w8"), {"location": "eastus"}, API)
        raise RuntimeError("the rest of the unit fails")
    with second.unit() as ctx:
        assert service.get_row(ctx, ids.parse(rid)) is not None
        assert service.get_row(ctx, ids.parse(f"{base}/w8")) is None
