"""The last denied requests of this process (`GET /_sim/denials`): the request log (app/request_log.py) keeps each
refusal it sees here, so the console's explain view can start from one. In memory, per process, the newest
`KEEP`: a learner's recent mistakes, not an audit trail (the event log has `access.denied` for that).

What is kept is what the request log prints: method, the path with its secret parts masked, status, the caller's
`oid`/`appid` claims and what the refusal said was missing. Never a token, a body or a secret."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

KEEP = 50
_ring: deque[dict[str, Any]] = deque(maxlen=KEEP)
_lock = threading.Lock()
_KEPT = ("listener", "method", "path", "status", "principal", "appId", "missing", "at", "code", "reason")


def keep(fields: dict[str, Any]) -> None:
    """A refusal the request log saw (its fields, see request_log._Request.fields)."""
    item: dict[str, Any] = {k: fields[k] for k in _KEPT if k in fields}
    if item.get("status") == 401 and "principal" in item:  # the token was refused: its claims say who it names,
        item["claimsUnverified"] = True                     # not who sent it (anyone can write a token's claims)
    item["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with _lock:
        _ring.append(item)


def recent() -> list[dict[str, Any]]:
    """Newest first."""
    with _lock:
        return [dict(d) for d in reversed(_ring)]
