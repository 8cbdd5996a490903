"""HTTP helpers shared by hosts: JSON responses with Azure's content type, request ids, bearer parsing."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


def bearer(request: Request) -> str | None:
    return parse_bearer(request.headers.get("authorization"))


def parse_bearer(auth: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` value: None when absent, "" when malformed."""
    if not auth:
        return None
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


def query(request: Request) -> dict[str, str]:
    """Query parameters with percent-encoded keys decoded (the JS SDK sends `api%2Dversion`); the last wins.

    Parsed as Starlette's QueryParams would be, without building the multi-dict.
    """
    return dict(parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True))


async def read_json(request: Request) -> tuple[Any, str | None]:
    """(parsed body, error message) — the error text follows Newtonsoft's wording that ARM echoes."""
    raw = await request.body()
    if not raw.strip():
        return None, None
    try:
        return json.loads(raw), None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        line = getattr(e, "lineno", 1)
        col = getattr(e, "colno", 1)
        return None, (f"The request content was invalid and could not be deserialized: 'Unexpected character "
                      f"encountered while parsing value. Path '', line {line}, position {col}.'.")


class RequestIds:
    """Pure ASGI middleware: request/correlation ids on every answer, leading `//` collapsed.

    The Azure CLI asks for `//metadata/endpoints` when the cloud's URL ends with '/'.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("//"):
            scope = dict(scope, path="/" + path.lstrip("/"), raw_path=("/" + path.lstrip("/")).encode())
        request_id = str(uuid.uuid4())
        correlation = request_id
        for name, value in scope["headers"]:
            if name == b"x-ms-correlation-request-id":
                correlation = value.decode("latin-1")
        scope.setdefault("state", {})
        scope["state"]["correlation_id"] = correlation

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-ms-request-id", request_id.encode()))
                headers.append((b"x-ms-correlation-request-id", correlation.encode()))
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, send_with_ids)
