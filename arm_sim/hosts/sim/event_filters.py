"""The event log's query parameters, read one way for `/_sim/events` and `/_sim/events/stream`: `kind`, `resource`,
`principal`, `since`/`until` (epoch seconds), `after` (an event's seq) and `top`. A value that is no such number is
the caller's mistake (400 InvalidQueryParameter), never a 500 nor a stream cut off half-way."""

from __future__ import annotations

import math
from typing import Any

from arm_sim.core.errors import DomainError, bad_request

MAX_SEQ = 2**63 - 1  # the largest integer SQLite and PostgreSQL store: a larger `after` cannot even be compared
MAX_TOP = 5000


def _invalid(message: str) -> DomainError:
    return bad_request("InvalidQueryParameter", message)


def _epoch(q: dict[str, str], name: str) -> float | None:
    text = q.get(name)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise _invalid(f"'{name}' must be epoch seconds.")
    return value


def _whole(q: dict[str, str], name: str, default: int, low: int, high: int, message: str) -> int:
    text = q.get(name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:  # (also a number of more than 4300 digits)
        raise _invalid(message) from None
    if not low <= value <= high:
        raise _invalid(message)
    return value


def parse(q: dict[str, str]) -> dict[str, Any]:
    """The keyword arguments of `events.query` but `limit`."""
    return {"kind": q.get("kind") or None, "subject": q.get("resource") or None,
            "principal": q.get("principal") or None, "since": _epoch(q, "since"), "until": _epoch(q, "until"),
            "after_seq": _whole(q, "after", 0, 0, MAX_SEQ, "'after' (or Last-Event-ID) must be an event's seq.")}


def top(q: dict[str, str]) -> int:
    return _whole(q, "top", 1000, 1, MAX_TOP, f"'top' must be a whole number from 1 to {MAX_TOP}.")
