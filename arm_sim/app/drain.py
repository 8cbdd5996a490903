"""Stopping gracefully (SIGTERM or SIGINT): listeners close at once, requests in flight may finish for
`ARM_SIM_SHUTDOWN_GRACE` seconds, and whatever is still running then is answered 503 `ServiceUnavailable` with
Retry-After, in ARM's envelope, never uvicorn's plain-text 500."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from collections.abc import Sequence

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arm_sim.hosts.http import JSON_TYPE, dumps
from arm_sim.hosts.sim.stream import STOPPING

log = logging.getLogger("arm_sim")

RETRY_AFTER = 5  # seconds: about what a restart takes
UVICORN_MARGIN = 2.0  # uvicorn cancels what still runs this long after the 503s went out
_LEFTOVER_WAIT = 1.0  # then what still runs (a request thread deep in its work) gets this long before a hard exit


def _unavailable_body() -> bytes:
    return dumps({"error": {"code": "ServiceUnavailable", "message": (
        "arm-sim is shutting down and could not finish this request in time; it may or may not have taken effect. "
        f"Retry after {RETRY_AFTER} seconds.")}})


class _InFlight:
    """One request being answered: its own `send`, and whether its answer has begun (or been given for it)."""

    __slots__ = ("cut", "send", "started")

    def __init__(self, send: Send) -> None:
        self.send, self.started, self.cut = send, False, False

    async def forward(self, message: Message) -> None:
        if self.cut:  # answered 503 already: what the handler says now goes nowhere
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)

    async def unavailable(self) -> None:
        """Answer 503 now, in place of whatever the handler would have said."""
        self.cut = True
        body = _unavailable_body()
        try:
            await self.send({"type": "http.response.start", "status": 503, "headers": [
                (b"content-type", JSON_TYPE.encode()), (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(RETRY_AFTER).encode()), (b"x-ms-request-id", str(uuid.uuid4()).encode())]})
            await self.send({"type": "http.response.body", "body": body})
        except Exception:  # the connection is gone: nobody is waiting for the answer
            log.debug("could not answer 503 to a request cut off by the shutdown", exc_info=True)


class Draining:
    """Pure ASGI, outermost: keeps the set of requests in flight so that a shutdown can answer those that run past
    the grace."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app, self.drain = app, drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[STOPPING] = self.drain.stopped  # an endless response (the event stream) ends when it is set
        request = _InFlight(send)
        requests = self.drain.requests
        requests.add(request)
        try:
            await self.app(scope, receive, request.forward)
        except asyncio.CancelledError:
            # uvicorn cancels what still runs once its own timeout is over; nothing else cancels a request
            if not self.drain.stopping:
                raise
            if not request.started and not request.cut:
                await request.unavailable()
            if not request.cut:
                raise
        finally:
            requests.discard(request)


class Drain:
    """Stopping all listeners of one process gracefully (see the module's docstring)."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.requests: set[_InFlight] = set()
        self.stopping = False
        self.stopped = asyncio.Event()  # set when stopping begins
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def wrap(self, app: ASGIApp) -> ASGIApp:
        return Draining(app, self)

    def stop(self, servers: Sequence[uvicorn.Server]) -> None:
        """First call: stop accepting, let requests in flight finish within the grace. A second call (another
        signal): answer what still runs now."""
        if self.stopping:
            self.cut_off()
            return
        self.stopping = True
        self.stopped.set()
        for server in servers:
            server.should_exit = True  # uvicorn closes its listeners and idle connections, then waits for the rest
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.grace, self.cut_off)
        self._tasks.append(loop.create_task(self._close_when_answered(servers)))

    def cut_off(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._tasks.append(asyncio.ensure_future(self._answer_the_rest()))

    async def _answer_the_rest(self) -> None:
        waiting = [r for r in self.requests if not r.started and not r.cut]
        if waiting:
            log.warning("arm-sim: shutting down; %d request(s) still running after %g s answered 503",
                        len(waiting), self.grace)
        for request in waiting:
            await request.unavailable()

    async def _close_when_answered(self, servers: Sequence[uvicorn.Server]) -> None:
        """Once every request has its answer (its own or the 503), close the connections left and stop waiting.

        uvicorn would wait for every connection to close, and closing an idle keep-alive TLS connection waits for
        the peer's close_notify, which a client holding the connection in its pool never sends (asyncio gives up
        after 30 s). A connection is aborted once what it was sent has left its buffers."""
        loop = asyncio.get_running_loop()
        quiet_since: float | None = None
        while True:
            if any(not r.cut for r in self.requests):
                quiet_since = None
                await asyncio.sleep(0.05)
                continue
            now = loop.time()
            if quiet_since is None:  # a request arriving just now on a connection still open is let in
                quiet_since = now
            deadline = quiet_since + 5
            left = [c for server in servers for c in server.server_state.connections]
            if not left:
                break
            if now - quiet_since >= 0.2:
                for conn in left:
                    transport = getattr(conn, "transport", None)
                    if transport is not None and (now > deadline or _flushed(transport)):
                        transport.abort()
            await asyncio.sleep(0.05)
        for server in servers:
            server.force_exit = True  # a request cut off may run on in its thread: finish() deals with it

    async def finish(self) -> None:
        """After the servers stopped: wait briefly for requests still running (their answers are given), then exit
        hard if one is still stuck in its work. A hard exit is as safe as a crash, which must be safe: an
        unfinished transaction rolls back."""
        if self._timer is not None:
            self._timer.cancel()
        current = asyncio.current_task()
        left = [t for t in asyncio.all_tasks() if t is not current and not t.done() and t not in self._tasks]
        for task in self._tasks:
            task.cancel()
        if not left:
            return
        _, pending = await asyncio.wait(left, timeout=_LEFTOVER_WAIT)
        if pending:
            log.warning("arm-sim: %d task(s) still running at shutdown; exiting without them", len(pending))
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)


def _flushed(transport: asyncio.BaseTransport) -> bool:
    try:
        return transport.get_write_buffer_size() == 0  # type: ignore[attr-defined, no-any-return]
    except Exception:  # closed already
        return True
