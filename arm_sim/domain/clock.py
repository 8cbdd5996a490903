"""The simulated clock: real time plus a persisted offset, optionally frozen.

Every plane reads it (token expiry, credential ages, soft-delete purges), never the wall clock.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy.orm import Session

from arm_sim.core.errors import bad_request
from arm_sim.db.engine import dbapi_connection
from arm_sim.db.models import Clock

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> float:
    """`46d`, `1h30m`, `90s` or plain seconds; negative values are refused (time only moves on)."""
    t = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t)
    pos, total = 0, 0.0
    for m in _DURATION.finditer(t):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(t) or not t:
        raise bad_request("InvalidDuration", f"'{text}' is not a duration such as 46d, 2h30m or 90s.")
    return total


def _row(session: Session) -> Clock:
    row = session.get(Clock, 1)
    if row is None:
        row = Clock(id=1, offset_seconds=0.0, frozen_at=None)
        session.add(row)
        session.flush()
    return row


_NOW_SQL = "SELECT offset_seconds, frozen_at, epoch FROM clock WHERE id = 1"


def read(session: Session) -> tuple[float, str]:
    """The simulated time and the database's epoch (see `Clock.epoch`).

    Read on every unit of work, never cached: another process (`arm-sim clock advance`, a second server on the
    same PostgreSQL) may have moved the clock. A plain DB-API cursor on the unit's own connection (so it sees the
    unit's flushed changes) skips SQLAlchemy's statement machinery: ~5x cheaper than exec_driver_sql, and this
    runs on every request.
    """
    cursor = dbapi_connection(session).cursor()
    try:
        cursor.execute(_NOW_SQL)
        row = cursor.fetchone()
    finally:
        cursor.close()
    if row is None:
        return time.time(), ""
    return (float(row[1]) if row[1] is not None else time.time() + float(row[0])), row[2] or ""


def now(session: Session) -> float:
    return read(session)[0]


def advance(session: Session, seconds: float) -> float:
    if seconds < 0:
        raise bad_request("InvalidDuration", "The simulated clock only moves forward.")
    row = _row(session)
    if row.frozen_at is not None:
        row.frozen_at += seconds
    else:
        row.offset_seconds += seconds
    session.flush()
    return now(session)


def freeze(session: Session) -> float:
    row = _row(session)
    if row.frozen_at is None:
        row.frozen_at = time.time() + row.offset_seconds
        session.flush()
    return row.frozen_at


def unfreeze(session: Session) -> float:
    row = _row(session)
    if row.frozen_at is not None:
        row.offset_seconds = row.frozen_at - time.time()
        row.frozen_at = None
        session.flush()
    return now(session)


def state(session: Session) -> dict[str, object]:
    row = _row(session)
    t = now(session)
    return {
        "now": iso(t),
        "epoch": t,
        "offsetSeconds": (row.frozen_at - time.time()) if row.frozen_at is not None else row.offset_seconds,
        "frozen": row.frozen_at is not None,
    }


@lru_cache(maxsize=8192)  # a resource shows the same two stamps on every read
def iso(epoch: float) -> str:
    """ARM's timestamp form: ISO 8601 UTC with 7 fractional digits and a Z."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds")[:26] + "0Z"  # (strftime: 2x slower)
