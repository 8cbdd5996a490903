"""`GET /_sim/events/stream`: the event log as server-sent events, for the console's timeline and for `curl -N`.

Each event is one frame, `id: {seq}` and `data: {the event as /_sim/events shows it}`; a client that reconnects
sends the last id it saw (`Last-Event-ID`, or `?after=`) and resumes after it. Comments (`: keep-alive`) go out
when nothing happened for `HEARTBEAT` seconds, so proxies and clients see a live connection. The stream ends when
the server begins to shut down (the drain sets the event `STOPPING` names in the request's scope): an endless
response must not hold a graceful shutdown for its whole grace."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

from arm_sim.domain import events
from arm_sim.domain.runtime import Runtime
from arm_sim.hosts.http import off_loop

STOPPING = "arm_sim.stopping"  # the ASGI scope key of the server's shutdown event (app/drain.py sets it)
POLL = 0.5  # seconds between reads of the log
HEARTBEAT = 15.0
PAGE = 500


def frame(event: dict[str, Any]) -> str:
    return f"id: {event['seq']}\ndata: {json.dumps(event, separators=(',', ':'), default=str)}\n\n"


async def stream(rt: Runtime, scope: MutableMapping[str, Any], filters: dict[str, Any]) -> AsyncIterator[str]:
    """`filters`: `event_filters.parse`'s, `after_seq` included (where the stream begins)."""
    stopping: asyncio.Event = scope.get(STOPPING) or asyncio.Event()
    filters = dict(filters)
    cursor = filters.pop("after_seq")
    yield "retry: 3000\n\n"  # (EventSource's reconnection delay)
    quiet_since = time.monotonic()

    def read() -> tuple[list[dict[str, Any]], int]:
        with rt.unit(read_mostly=True) as ctx:
            newest = events.last_seq(ctx)  # (asked first: the read after it sees every event up to it)
            return events.query(ctx, after_seq=cursor, limit=PAGE, **filters), newest

    while not stopping.is_set():
        rows, newest = await off_loop(read)
        for e in rows:
            cursor = e["seq"]
            yield frame(e)
        if len(rows) < PAGE:  # the read went to the end: a filter that passes few never reads those events again
            cursor = max(cursor, newest)
        if rows:
            quiet_since = time.monotonic()
            if len(rows) == PAGE:
                continue  # more are waiting: no pause
        elif time.monotonic() - quiet_since >= HEARTBEAT:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
        with contextlib.suppress(TimeoutError):  # (woken early by the shutdown)
            await asyncio.wait_for(stopping.wait(), POLL)
    yield "event: end\ndata: {\"reason\": \"the server is shutting down\"}\n\n"
