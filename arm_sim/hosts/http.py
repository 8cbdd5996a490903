"""HTTP helpers shared by hosts: JSON responses with Azure's content type, request ids, bearer parsing."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arm_sim.core.hosts import AZURE_HOSTS
from arm_sim.domain.runtime import Runtime, WriteOffLoop
from arm_sim.hosts.body_limits import HEADERS_MESSAGE, depth_message, headers_too_long, too_deep

JSON_TYPE = "application/json; charset=utf-8"


def dumps(body: Any) -> bytes:
    """Compact JSON. orjson is ~10x faster than json on every response; the stdlib takes what orjson refuses
    (integers beyond 64 bits, lone surrogates), so any body json could write still renders."""
    try:
        return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(body, separators=(",", ":")).encode()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status_code=status, headers=headers, media_type=JSON_TYPE)


def internal_error(exc: Exception) -> Response:
    """A bug, not a simulated failure: say so plainly, in ARM's envelope."""
    return json_response({"error": {"code": "InternalServerError",
                                    "message": f"arm-sim failed to handle this request: {type(exc).__name__}."}}, 500)


def headers_too_long_answer() -> Response:
    """HTTP.sys answers before any service sees the request, so every listener words it the same way (the code
    is arm-sim's: HTTP.sys answers with an HTML page, which clients show as it is)."""
    return json_response({"error": {"code": "RequestHeadersTooLong", "message": HEADERS_MESSAGE}}, 400)


def bearer(request: Request) -> str | None:
    return parse_bearer(request.headers.get("authorization"))


def parse_bearer(auth: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` value: None when absent, "" when malformed."""
    if not auth:
        return None
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


def query_of(scope: Scope) -> dict[str, str]:
    """Query parameters with percent-encoded keys decoded (the JS SDK sends `api%2Dversion`); the last wins.

    Parsed as Starlette's QueryParams would be, without building the multi-dict.
    """
    text = scope["query_string"].decode("latin-1")
    if "%" in text or "+" in text:
        return dict(parse_qsl(text, keep_blank_values=True))
    out: dict[str, str] = {}  # nothing to decode (the usual `api-version=…`): split it directly
    for pair in text.split("&"):
        if pair:
            k, _, v = pair.partition("=")
            out[k] = v
    return out


def parse_json(raw: bytes) -> tuple[Any, str | None]:
    """(parsed body, error message) — the error text follows Newtonsoft's wording that ARM echoes."""
    if not raw.strip():
        return None, None
    deep = too_deep(raw)
    if deep is not None:  # refused before json.loads, which would recurse once per level
        return None, f"The request content was invalid and could not be deserialized: '{depth_message(raw, deep)}'."
    try:
        return json.loads(raw), None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        line = getattr(e, "lineno", 1)
        col = getattr(e, "colno", 1)
        return None, (f"The request content was invalid and could not be deserialized: 'Unexpected character "
                      f"encountered while parsing value. Path '', line {line}, position {col}.'.")


Handler = Callable[[Scope, Receive], Awaitable[Response]]

# Threads that answer requests: the event loop only moves bytes, so a long request (a large deployment, RSA signing)
# never delays another. The database pools (db.engine, db.uow) hold as many connections as there are threads.
THREADS = 16
T = TypeVar("T")


class _RequestThreads:
    """A fixed set of threads taking work from one queue and handing each result back to its loop.

    Leaner than an executor (no concurrent.futures Future to chain, no thread bookkeeping per submit): the hop is
    paid by every request, and this halves it (~20 µs against ~40 µs on one core). Daemon threads: at exit, a
    request still running is abandoned as a crash would abandon it, and its transaction is rolled back."""

    def __init__(self, count: int) -> None:
        self._queue: queue.SimpleQueue[tuple[Callable[[], Any], asyncio.Future[Any], asyncio.AbstractEventLoop]]
        self._queue = queue.SimpleQueue()
        for i in range(count):
            threading.Thread(target=self._serve, name=f"arm-sim-request-{i}", daemon=True).start()

    def _serve(self) -> None:
        while True:
            work, future, loop = self._queue.get()
            try:
                result = work()
            except BaseException as e:  # handed to the awaiting request, which raises it there
                loop.call_soon_threadsafe(_settle, future, None, e)
            else:
                loop.call_soon_threadsafe(_settle, future, result, None)

    async def run(self, work: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((work, future, loop))
        return await future


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():  # the request was cut off (shutdown): nobody waits for the answer
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


_threads: _RequestThreads | None = None
_threads_lock = threading.Lock()


async def off_loop(work: Callable[[], T]) -> T:
    """Run `work` (database work, signing: anything that blocks) on a request thread, never on the event loop."""
    global _threads
    if _threads is None:
        with _threads_lock:
            if _threads is None:
                _threads = _RequestThreads(THREADS)
    return await _threads.run(work)


async def read_or_off_loop(rt: Runtime, work: Callable[[], T], *, short_read: bool) -> T:
    """A short read (one resource, a cached token) on the event loop itself when the database allows it
    (`Runtime.read_on_loop`): the hop to a request thread and back, GIL hand-overs included, costs a cheap GET
    about as much as its own work. Anything that writes, and every other request, runs on a request thread."""
    if short_read and rt.reads_on_loop:
        try:
            return rt.read_on_loop(work)
        except WriteOffLoop:
            pass  # rolled back, nothing kept: done again where a write may wait
    return await off_loop(work)


class Lane:
    """Pure ASGI: the requests whose path `claims` are answered by `handler`; every other one goes to `app`.

    For hosts that parse their own paths (ARM, the Key Vault data plane): FastAPI's routing, dependency
    machinery and Request objects would be the largest cost of their hottest requests. The lane gives its
    answers the request ids itself (as RequestIds does for the app), and answers an unexpected exception as
    FastAPI's server-error middleware does (500, ARM's envelope), re-raising it for the server's log.
    """

    def __init__(self, app: ASGIApp, handler: Handler, claims: Callable[[str], bool]) -> None:
        self.app, self.handler, self.claims = app, handler, claims

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if headers_too_long(scope):
            await headers_too_long_answer()(scope, receive, send)
            return
        scope = _collapse_slashes(scope)
        if not self.claims(scope["path"]):
            await self.app(scope, receive, send)
            return
        ids = _ids(scope)
        try:
            response = await self.handler(scope, receive)
        except Exception as e:
            response = internal_error(e)
            response.raw_headers += ids
            await response(scope, receive, send)
            raise
        response.raw_headers += ids
        await response(scope, receive, send)


class ByHost:
    """Sends a request to `chosen` when `picks(scope)` (by its Host: a vault's name on the main listener), else to
    `otherwise`."""

    def __init__(self, picks: Callable[[Scope], bool], chosen: ASGIApp, otherwise: ASGIApp) -> None:
        self.picks, self.chosen, self.otherwise = picks, chosen, otherwise

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self.chosen if scope["type"] == "http" and self.picks(scope) else self.otherwise
        await app(scope, receive, send)


def by_azure_name(host: str | None) -> bool:
    """Whether the Host asked for is one of Azure's own names (port 443, given or not): the request came through
    the proxy."""
    if not host:
        return False
    name, _, port = host.lower().partition(":")
    return name in AZURE_HOSTS and port in ("", "443")


def _collapse_slashes(scope: Scope) -> Scope:
    """The Azure CLI asks for `//metadata/endpoints` when the cloud's URL ends with '/'."""
    path: str = scope["path"]
    if not path.startswith("//"):
        return scope
    return dict(scope, path="/" + path.lstrip("/"), raw_path=("/" + path.lstrip("/")).encode())


def _new_id() -> str:
    """A random (version 4) UUID in its text form: what str(uuid.uuid4()) gives, at a third of the cost."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _ids(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The answer's request id (new) and correlation id (the caller's, else the request id) as raw headers;
    the correlation id is kept in the scope's state for the unit of work."""
    request_id = _new_id()
    correlation = request_id
    for name, value in scope["headers"]:
        if name == b"x-ms-correlation-request-id":
            correlation = value.decode("latin-1")
    scope.setdefault("state", {})["correlation_id"] = correlation
    return [(b"x-ms-request-id", request_id.encode()), (b"x-ms-correlation-request-id", correlation.encode())]


# FastAPI's own answers for a path no route serves, re-worded in ARM's envelope
_ROUTING_ANSWERS = {b'{"detail":"Not Found"}': ("NotFound", "arm-sim serves nothing at '{path}'."),
                    b'{"detail":"Method Not Allowed"}': ("MethodNotAllowed",
                                                         "The method {method} is not allowed on '{path}'.")}


def _azure_routing_answer(scope: Scope, start: Message, message: Message) -> tuple[Message, Message]:
    body = message.get("body", b"")
    if message.get("more_body", False) or body not in _ROUTING_ANSWERS:
        return start, message
    code, text = _ROUTING_ANSWERS[body]
    new = dumps({"error": {"code": code, "message": text.format(path=scope["path"], method=scope["method"])}})
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    return (dict(start, headers=[*headers, (b"content-length", str(len(new)).encode())]),
            dict(message, body=new))


class RequestIds:
    """Pure ASGI middleware: request/correlation ids on every answer, leading `//` collapsed, FastAPI's bare
    404/405 answers in ARM's envelope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if headers_too_long(scope):  # (Lane has checked, for the listeners it fronts: a cheap second look)
            await headers_too_long_answer()(scope, receive, send)
            return
        scope = _collapse_slashes(scope)
        ids = _ids(scope)
        held: Message | None = None

        async def send_with_ids(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []), *ids])
                if message["status"] in (404, 405):  # held until its body shows whether it is FastAPI's own
                    held = message
                    return
            elif held is not None and message["type"] == "http.response.body":
                start, held = held, None
                start, message = _azure_routing_answer(scope, start, message)
                await send(start)
            await send(message)

        await self.app(scope, receive, send_with_ids)
