"""The server's request log: one line per request (method, path, status, duration, caller, and for a denial what
was missing) and one line per lifecycle effect (principal created or deleted, credential issued or rolled, grant
orphaned), as text for people or JSON lines (`--log-format json`, ARM_SIM_LOG_FORMAT) for machines.

Never logged: tokens (only the caller's `oid`/`appid` claims are read from one), secrets (request and response
bodies are not read, except a 403's, for the action it names), the identity listener's per-VM and per-site keys
(`/vms/{key}` shows as `/vms/***`), and query values other than the harmless ones below. The hot path pays one
clock read, one closure and one logger call per request; the line is formatted only when a handler writes it.
Lifecycle lines come from the event log's rows, written to the log once their transaction commits.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import sys
import time
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arm_sim.db.models import Event
from arm_sim.domain.clock import iso
from arm_sim.hosts.sim import denials

LOG = logging.getLogger("arm_sim.requests")
# query parameters whose values are shown; any other value is written as ***
SHOWN_QUERY = frozenset({"api-version", "resource", "client_id", "object_id", "principal_id", "msi_res_id",
                         "resourceid", "principalid", "principal", "action", "scope", "kind", "top", "after",
                         "$top", "$filter", "$select", "$expand", "timeout", "resourcegroup"})
# event kinds that are lifecycle effects, logged as lines of their own
LIFECYCLE = frozenset({"servicePrincipal.created", "servicePrincipal.deleted", "credential.issued",
                       "credential.rolled", "credential.expired", "credential.removed", "tokens.revoked",
                       "application.created", "application.deleted", "user.created", "user.deleted",
                       "grant.orphaned"})
_KEYED = re.compile(r"^/+(vms|sites)/[^/]+")  # (`//vms/…` is served as `/vms/…`: mask it too)
_UNSAFE = re.compile(r"[^\x21-\x7e]")  # what a claim may not bring into a line: controls, spaces, non-ASCII
_DENIALS = (re.compile(r"perform action '([^']+)'(?: over scope '([^']+)')?"),  # ARM
            re.compile(r"Action: '([^']+)'\r?\nResource: '([^']+)'"),  # Key Vault, RBAC mode
            re.compile(r"does not have (\w+ \w+) permission on key vault '([^;']+)"))  # Key Vault, access policies
_PENDING = "arm_sim.request_log"
_CAPTURE = 16384  # bytes of a 403 body read for its action


def _path(scope: Scope) -> str:
    path = _KEYED.sub(r"/\1/***", scope["path"])
    query = scope.get("query_string", b"").decode("latin-1")
    if not query:
        return path
    parts = []
    for pair in query.split("&"):
        k, sep, _v = pair.partition("=")
        parts.append(pair if not sep or k.lower().replace("%2d", "-") in SHOWN_QUERY else f"{k}=***")
    return f"{path}?{'&'.join(parts)}"


def _claims(scope: Scope) -> dict[str, Any]:
    """The caller's `oid` and `appid` as its bearer token states them (unverified: the status says whether the
    token was accepted). The token itself is never kept."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            parts = value.split(b".")
            if len(parts) != 3:
                return {}
            try:
                body = json.loads(base64.urlsafe_b64decode(parts[1] + b"=" * (-len(parts[1]) % 4)))
            except (ValueError, binascii.Error):
                return {}
            if not isinstance(body, dict):
                return {}
            # unverified text: printable ASCII only, and short, so a forged token cannot forge a log line
            return {k: _UNSAFE.sub("?", str(body[k]))[:64] for k in ("oid", "appid", "azp") if body.get(k)}
    return {}


def _has_auth(scope: Scope) -> bool:
    return any(name == b"authorization" for name, _ in scope["headers"])


def _denial(status: int, body: bytes, challenge: str | None, has_token: bool) -> dict[str, str]:
    """What a refusal says was missing: the action (and where), else its error code."""
    if status == 401:
        if not has_token:
            return {"note": "challenge: no token yet, the client's normal first request"}
        found = re.search(r'error_description="([^"]*)"', challenge or "")
        return {"reason": found.group(1)[:200]} if found else {}
    text = body.decode(errors="replace")
    for pattern in _DENIALS:
        m = pattern.search(text)
        if m:
            out = {"missing": m.group(1)}
            if m.lastindex and m.lastindex > 1 and m.group(2):
                out["at"] = m.group(2)
            return out
    try:
        err = json.loads(text).get("error")
    except (ValueError, AttributeError):
        return {}
    code = err.get("code") if isinstance(err, dict) else err
    return {"code": str(code)} if code else {}


class _Request:
    """One request's line, formatted only when written."""

    __slots__ = ("body", "challenge", "listener", "ms", "scope", "status")

    def __init__(self, listener: str, scope: Scope, status: int, ms: float, body: bytes, challenge: str | None
                 ) -> None:
        self.listener, self.scope, self.status, self.ms, self.body, self.challenge = (
            listener, scope, status, ms, body, challenge)

    def fields(self) -> dict[str, Any]:
        claims = _claims(self.scope)
        out: dict[str, Any] = {"type": "request", "listener": self.listener, "method": self.scope["method"],
                               "path": _path(self.scope), "status": self.status, "ms": round(self.ms, 1)}
        if claims.get("oid"):
            out["principal"] = claims["oid"]
        if claims.get("appid") or claims.get("azp"):
            out["appId"] = claims.get("appid") or claims.get("azp")
        if self.status in (401, 403):
            out |= _denial(self.status, self.body, self.challenge, _has_auth(self.scope))
        return out

    def __str__(self) -> str:
        f = self.fields()
        who = f"caller={f['principal']}" if "principal" in f else "caller=-"
        if "appId" in f and f.get("appId") != f.get("principal"):
            who += f" appid={f['appId']}"
        extra = "".join(f" {k}={f[k]}" for k in ("missing", "at", "code", "reason") if k in f)
        note = f" ({f['note']})" if "note" in f else ""
        return f"{f['method']} {f['path']} {f['status']} {f['ms']}ms {who}{extra}{note}"


class _Effect:
    """One lifecycle effect's line, from an event row."""

    __slots__ = ("at", "details", "kind", "subject")

    def __init__(self, kind: str, subject: str, at: float, details: dict[str, Any]) -> None:
        self.kind, self.subject, self.at, self.details = kind, subject, at, details

    def fields(self) -> dict[str, Any]:
        head = {"type": "lifecycle", "kind": self.kind, "subject": self.subject, "simulatedTime": iso(self.at)}
        # a detail named like a field of the line (credential.issued's own `kind`) keeps its value under a prefix
        keep = {(f"detail.{k}" if k in head else k): v for k, v in self.details.items()
                if v is not None and k not in ("certificate", "secret")}
        return head | keep

    def __str__(self) -> str:
        f = self.fields()
        rest = " ".join(f"{k}={v}" for k, v in list(f.items())[4:])
        return f"lifecycle {self.kind} {self.subject} at {f['simulatedTime']}" + (f" {rest}" if rest else "")


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        item = record.args[0] if isinstance(record.args, tuple) and record.args else None
        fields = item.fields() if isinstance(item, _Request | _Effect) else {"message": record.getMessage()}
        return json.dumps({"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), **fields}, default=str)


class Text(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(message)s", "%H:%M:%S")


def configure(log_level: str, log_format: str) -> None:
    """Lines on stderr (stdout carries the ready line scripts wait for): info and below log every request."""
    LOG.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if log_format == "json" else Text())
    LOG.addHandler(handler)
    LOG.propagate = False
    LOG.setLevel(logging.INFO if log_level in ("info", "debug", "trace") else logging.WARNING)


class RequestLog:
    """Pure ASGI: logs each HTTP request of `app` once it is answered, and keeps each refusal (whatever the log
    level) for `/_sim/denials` (hosts/sim/denials.py)."""

    def __init__(self, app: ASGIApp, listener: str) -> None:
        self.app, self.listener = app, listener

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        body = bytearray()
        challenge: str | None = None

        async def logged(message: Message) -> None:
            nonlocal status, challenge
            if message["type"] == "http.response.start":
                status = message["status"]
                if status == 401:
                    for name, value in message.get("headers", []):
                        if name.lower() == b"www-authenticate":
                            challenge = value.decode("latin-1")
            elif status == 403 and message["type"] == "http.response.body" and len(body) < _CAPTURE:
                body.extend(message.get("body", b"")[:_CAPTURE - len(body)])
            await send(message)

        try:
            await self.app(scope, receive, logged)
        finally:
            line = _Request(self.listener, scope, status or 500, (time.perf_counter() - started) * 1000, bytes(body),
                            challenge)
            if status == 403 or (status == 401 and _has_auth(scope)):  # (a 401 without a token: the handshake)
                denials.keep(line.fields())
            LOG.info("%s", line)


def _after_flush(session: Session, _context: Any) -> None:
    rows = [obj for obj in session.new if isinstance(obj, Event) and obj.kind in LIFECYCLE]
    if rows:  # in log order (a principal's deletion, then the grants it orphaned), which a set does not keep
        rows.sort(key=lambda e: e.seq or 0)
        session.info.setdefault(_PENDING, []).extend(
            _Effect(e.kind, e.subject, e.at, dict(e.details or {})) for e in rows)


def _after_commit(session: Session) -> None:
    for effect in session.info.pop(_PENDING, ()):
        LOG.info("%s", effect)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def watch_lifecycle(sessions: sessionmaker[Session]) -> None:
    """Log the lifecycle events the sessions of `sessions` commit (observation only: nothing here changes a
    row or decides anything, so the rule "no ORM events for lifecycle hooks" holds)."""
    if not LOG.isEnabledFor(logging.INFO) or sa_event.contains(sessions, "after_flush", _after_flush):
        return
    sa_event.listen(sessions, "after_flush", _after_flush)
    sa_event.listen(sessions, "after_commit", _after_commit)
    sa_event.listen(sessions, "after_rollback", _after_rollback)
