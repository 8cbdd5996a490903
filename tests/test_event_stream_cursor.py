"""The event stream's cursor (hosts/sim/stream.py): a filter that passes few events (`principal=`, `resource=`)
reads the log after the last event it sent; once a read has gone to the end of the log, the next poll starts there,
not again after the last match (each poll would otherwise read every event since, twice a second per stream)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as sa_event

from arm_sim.core.settings import Settings
from arm_sim.db.engine import make_engine, make_sessionmaker
from arm_sim.db.migrate import upgrade
from arm_sim.domain import events
from arm_sim.domain.runtime import Runtime
from arm_sim.hosts.sim import event_filters, stream


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    url = f"sqlite:///{tmp_path / 'stream.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield Runtime(Settings(home=tmp_path, database_url=url), make_sessionmaker(engine))
    engine.dispose()


def test_a_quiet_filtered_stream_reads_each_event_once(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    with rt.unit() as ctx:
        for i in range(3 * stream.PAGE - 100):  # three pages of someone else's events
            events.record(ctx, "other.thing", f"/x/{i}", principalId="someone-else")
    polls, pages = [], []
    query = events.query

    def counted(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        polls.append(1)
        return query(*args, **kwargs)

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if "FROM events" in sql and "ORDER BY events.seq" in sql:
            pages.append(1)

    monkeypatch.setattr(events, "query", counted)
    monkeypatch.setattr(stream, "POLL", 0.05)
    engine = rt.sessions.kw["bind"]
    sa_event.listen(engine, "before_cursor_execute", statement)

    async def follow() -> None:
        scope: dict[str, Any] = {stream.STOPPING: asyncio.Event()}
        frames = stream.stream(rt, scope, event_filters.parse({"principal": "nobody"}))
        assert await anext(frames) == "retry: 3000\n\n"
        ending = asyncio.ensure_future(anext(frames))  # quiet: nothing passes the filter
        while len(polls) < 6:
            await asyncio.sleep(0.05)
        scope[stream.STOPPING].set()
        assert (await ending).startswith("event: end")

    try:
        asyncio.run(follow())
    finally:
        sa_event.remove(engine, "before_cursor_execute", statement)
    # the first poll reads the three pages; every later one finds nothing after the end it reached
    assert len(pages) <= 3 + (len(polls) - 1), (len(pages), len(polls))


def test_a_resource_pattern_is_matched_in_linear_time(rt: Runtime) -> None:
    """`resource=` with stars also finds the events of the matching resources' principals (events.principals_of),
    matched in Python: a pattern of many stars must not backtrack through every split of each id."""
    import time

    rid = ("/subscriptions/aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa/resourceGroups/aaaaaaaaaaaa/providers/"
           "Microsoft.ManagedIdentity/userAssignedIdentities/aaaaaaaaaaaaaaaa")
    with rt.unit() as ctx:
        events.record(ctx, "servicePrincipal.created", "principal-1", principalId="principal-1", resourceId=rid)
        events.record(ctx, "grant.orphaned", "/x/ra", principalId="principal-1")
    with rt.unit() as ctx:
        started = time.monotonic()
        assert events.query(ctx, subject="*a" * 10 + "*z") == []
        assert time.monotonic() - started < 1
        for pattern in ("*", "/SUBSCRIPTIONS/*/userassigned*", "*/resourcegroups/a_a*a/*", "*aaaa-aaaa-*a*a*a"):
            kinds = [e["kind"] for e in events.query(ctx, subject=pattern)]
            assert "grant.orphaned" in kinds, pattern  # (found through the matching resource's principal)
        assert events.query(ctx, subject="*/resourcegroups/b*") == []
