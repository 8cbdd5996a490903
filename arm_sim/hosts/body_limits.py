"""What every host checks of a request before it parses the body: the size (413, read with a cap so that nothing
past the limit is ever buffered), the content type (415), the nesting depth (400, counted without recursion) and a
repeated `api-version` (400). Each host words the answer in its own envelope.

Limits: ARM refuses request content over 4 MB (`RequestContentTooLarge`, "The request content size exceeds the
maximum size of 4 MB."); Microsoft Graph documents 4 MB as its request size too; the simulator API shares ARM's.
Key Vault stores secret values up to 25 KB: a vault request is capped at 256 KB (a value, its tags and attributes,
or an imported key with room to spare). The token endpoint's form is capped at 1 MB (a client assertion is a few
KB). The identity listener (IMDS, App Service) serves GET only and never reads a body.

Headers: HTTP.sys, in front of every Azure endpoint, answers 400 "The size of the request headers is too long."
once the request line and headers pass its MaxRequestBytes; Azure raises that past the default 16 KB (tokens with
many group claims run to 10 KB), so arm-sim refuses past 64 KB in all, or one header past 32 KB.

Depth: 64, the default MaxDepth of Newtonsoft.Json 13 and System.Text.Json (the .NET readers behind ARM, Graph and
Key Vault); the deepest template of this repository nests 8 levels, and deeply nested ARM templates rarely pass 30.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote_plus

from starlette.types import Receive, Scope

MB = 1024 * 1024
ARM_LIMIT = 4 * MB
GRAPH_LIMIT = 4 * MB
SIM_LIMIT = 4 * MB
VAULT_LIMIT = 256 * 1024
ENTRA_LIMIT = 1 * MB
MAX_DEPTH = 64
HEADERS_LIMIT = 64 * 1024
HEADER_LIMIT = 32 * 1024
HEADERS_MESSAGE = "The size of the request headers is too long."

# a JSON string (skipped whole, escapes included) or one bracket: the only tokens that change the depth
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_OPENERS = frozenset(b"[{")
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_PAIRS = re.compile(rb"[\[{][\]}]")


def header(scope: Scope, name: bytes) -> str | None:
    headers: Iterable[tuple[bytes, bytes]] = scope["headers"]  # ASGI: (lower-case name, value) byte pairs
    for k, v in headers:
        if k == name:
            return v.decode("latin-1")
    return None


def headers_too_long(scope: Scope) -> bool:
    """The request line and headers past HEADERS_LIMIT, or one header past HEADER_LIMIT (as HTTP.sys counts)."""
    total = len(scope.get("raw_path") or b"") + len(scope["query_string"])
    for k, v in scope["headers"]:
        size = len(k) + len(v) + 4  # name, ": ", value, CRLF
        if size > HEADER_LIMIT:
            return True
        total += size
    return total > HEADERS_LIMIT


def _declared_length(scope: Scope) -> int | None:
    value = header(scope, b"content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


async def read_capped(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The request body, or None when it is longer than `limit` bytes.

    A declared Content-Length past the limit is refused before a byte is read; otherwise reading stops at the
    first chunk that would pass the limit, so no more than `limit` bytes are ever held. The server discards the
    rest of the body once the answer is sent."""
    declared = _declared_length(scope)
    if declared is not None and declared > limit:
        return None
    chunks: list[bytes] = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk: bytes = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def too_deep(raw: bytes, limit: int = MAX_DEPTH) -> int | None:
    """The offset where `raw` nests past `limit` arrays/objects, else None. Never recursive: a body nested 10,000
    deep is refused without the recursion that makes `json.loads` fail.

    At C speed first: strings dropped, every other byte but brackets deleted, then innermost pairs removed once per
    level; only a body that is still nested after `limit` rounds (or is unbalanced) is walked token by token."""
    if raw.count(b"[") + raw.count(b"{") <= limit:  # the usual body: too few brackets to matter
        return None
    shape = _STRINGS.sub(b"", raw).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        shape, removed = _PAIRS.subn(b"", shape)
        if not shape:
            return None
        if not removed:
            break
    depth = 0
    for match in _TOKENS.finditer(raw):
        first = raw[match.start()]
        if first in _OPENERS:
            depth += 1
            if depth > limit:
                return match.start()
        elif first != 0x22:  # a closing bracket (a string token starts with '"')
            depth = max(depth - 1, 0)
    return None


def depth_message(raw: bytes, offset: int, limit: int = MAX_DEPTH) -> str:
    """Newtonsoft's wording, which ARM echoes inside its own."""
    line = raw.count(b"\n", 0, offset) + 1
    position = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return f"The reader's MaxDepth of {limit} has been exceeded. Path '', line {line}, position {position}."


def is_json(content_type: str | None) -> bool:
    """application/json and its kin (`text/json`, `application/merge-patch+json`, parameters allowed)."""
    return bool(content_type) and "json" in (content_type or "").split(";", 1)[0].lower()


def media_message(content_type: str | None) -> str:
    return (f"The content media type '{content_type or ''}' is not supported. Only 'application/json' is "
            "supported.")


def has_body(raw: bytes) -> bool:
    return bool(raw.strip())


def repeated(scope: Scope, name: str) -> list[str]:
    """Every value of the query parameter `name` (matched case-insensitively, keys percent-decoded) when it is
    given more than once; [] otherwise."""
    text: str = scope["query_string"].decode("latin-1")
    wanted = name.lower()
    values: list[str] = []
    for pair in text.split("&"):
        k, _, v = pair.partition("=")
        if k and unquote_plus(k).lower() == wanted:
            values.append(unquote_plus(v))
    return values if len(values) > 1 else []


def repeated_message(name: str, values: list[str]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"The query parameter '{name}' is given {len(values)} times ({quoted}): give it exactly once."
