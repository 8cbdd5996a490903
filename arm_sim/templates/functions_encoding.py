"""Encoding and URI functions: base64, base64ToString, base64ToJson, dataUri, dataUriToString, uri,
uriComponent, uriComponentToString, parseUri, buildUri.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import quote, unquote, unquote_to_bytes, urljoin, urlsplit

from arm_sim.templates.calls import Call, spec
from arm_sim.templates.values import get_member, is_int, type_name

_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}
_WHITESPACE = re.compile(r"\s+")


def decode_base64(call: Call, text: str) -> str:
    """Convert.FromBase64String then UTF-8 (white space ignored, invalid bytes become U+FFFD)."""
    try:
        raw = base64.b64decode(_WHITESPACE.sub("", text), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise call.fail(
            "The template language function was invoked with a parameter that is not valid. The value cannot be "
            "decoded from base64 representation."
        ) from exc
    return raw.decode("utf-8", errors="replace")


def _base64(call: Call, args: list[Any]) -> str:
    return base64.b64encode(call.str_arg(args, 0).encode("utf-8")).decode("ascii")


def _base64_to_json(call: Call, args: list[Any]) -> Any:
    text = decode_base64(call, call.str_arg(args, 0))
    try:
        return json.loads(text, strict=False)
    except json.JSONDecodeError as exc:
        raise call.fail(f"the decoded value is not valid JSON: {exc.msg} at position {exc.pos}.") from exc


def _data_uri(call: Call, args: list[Any]) -> str:
    # ARM writes 'utf8' without the dash.
    return "data:text/plain;charset=utf8;base64," + _base64(call, args)


def _data_uri_to_string(call: Call, args: list[Any]) -> str:
    text = call.str_arg(args, 0)
    if not text.lower().startswith("data:") or "," not in text:
        raise call.fail(f"the value '{text}' is not a data URI.")
    header, _, data = text[5:].partition(",")
    parts = [p.strip() for p in header.split(";")]
    charset = next((p.split("=", 1)[1] for p in parts if p.lower().startswith("charset=")), "utf-8")
    charset = "utf-8" if charset.lower() in ("utf8", "utf-8") else charset
    if parts and parts[-1].lower() == "base64":
        try:
            raw = base64.b64decode(_WHITESPACE.sub("", unquote(data)), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise call.fail("the data of the data URI is not valid base64.") from exc
    else:
        raw = unquote_to_bytes(data)
    try:
        return raw.decode(charset, errors="replace")
    except LookupError as exc:
        raise call.fail(f"the data URI names an unknown charset '{charset}'.") from exc


def _absolute(call: Call, text: str) -> Any:
    parts = urlsplit(text)
    if not parts.scheme or (parts.scheme in _DEFAULT_PORTS and not parts.netloc):
        raise call.fail(
            f"Invalid URI: the URI '{text}' is not absolute: the format of the URI could not be determined."
        )
    return parts


def _uri(call: Call, args: list[Any]) -> str:
    """new Uri(new Uri(baseUri), relativeUri): RFC 3986 §5 resolution."""
    base, relative = call.str_arg(args, 0), call.str_arg(args, 1)
    parts = _absolute(call, base)
    if not parts.path and parts.netloc:
        base = base.replace(parts.netloc, parts.netloc + "/", 1) if not base.endswith("/") else base
    return urljoin(base, relative)


def _uri_component(call: Call, args: list[Any]) -> str:
    return quote(call.str_arg(args, 0), safe="")  # Uri.EscapeDataString: only RFC 3986 unreserved stay


def _parse_uri(call: Call, args: list[Any]) -> dict[str, Any]:
    text = call.str_arg(args, 0)
    parts = _absolute(call, text)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError as exc:
        raise call.fail(f"Invalid URI: the port of '{text}' is not valid.") from exc
    return {
        "scheme": scheme,
        "host": parts.hostname or "",
        "port": port if port is not None else _DEFAULT_PORTS.get(scheme),
        "path": parts.path or "/",
        "query": f"?{parts.query}" if parts.query else "",
    }


def _build_uri(call: Call, args: list[Any]) -> str:
    components = call.object_arg(args, 0)

    def field(name: str, required: bool) -> Any:
        found, value = get_member(components, name)
        if required and (not found or not isinstance(value, str) or not value):
            raise call.fail(f"the property '{name}' of the URI components must be a non-empty string.")
        return value if found else None

    scheme, host = field("scheme", True).lower(), field("host", True)
    port, path, query = field("port", False), field("path", False) or "", field("query", False) or ""
    if port is not None and not is_int(port):
        raise call.fail(f"the property 'port' must be an integer or null, not '{type_name(port)}'.")
    authority = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    path = path if path.startswith("/") else "/" + path
    query = query if not query or query.startswith("?") else "?" + query
    return f"{scheme}://{authority}{path}{query}"


FUNCTIONS = (
    spec("base64", _base64, 1),
    spec("base64ToString", lambda call, args: decode_base64(call, call.str_arg(args, 0)), 1),
    spec("base64ToJson", _base64_to_json, 1),
    spec("dataUri", _data_uri, 1),
    spec("dataUriToString", _data_uri_to_string, 1),
    spec("uri", _uri, 2),
    spec("uriComponent", _uri_component, 1),
    spec("uriComponentToString", lambda call, args: unquote(call.str_arg(args, 0)), 1),
    spec("parseUri", _parse_uri, 1),
    spec("buildUri", _build_uri, 1),
)
