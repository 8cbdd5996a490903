"""Tickets for the event stream (`GET /_sim/events/stream?ticket=…`).

A browser's EventSource cannot send an Authorization header, and a token must never ride in a URL (it would sit in
logs and history for its whole lifetime). So the console asks for a ticket with its token, and opens the stream
with the ticket: random, stored hashed in `sim_settings` (every process sharing the database accepts it), valid for
`TTL` seconds of real time, accepted once (only the one delete that finds the row wins)."""

from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy import delete, select

from arm_sim.core.errors import AuthenticationError
from arm_sim.db.models import SimSetting
from arm_sim.domain.context import Ctx

TTL = 60  # seconds of real time: enough to open the stream, too short to be worth stealing
_PREFIX = "events.ticket."  # + 40 hex digits of the ticket's SHA-256: 54 characters, within the key's 64


def _key(ticket: str) -> str:
    return _PREFIX + hashlib.sha256(ticket.encode()).hexdigest()[:40]


def issue(ctx: Ctx) -> tuple[str, float]:
    """A new ticket and its (real-time) expiry; expired tickets are swept on the way."""
    now = time.time()
    for row in ctx.session.scalars(select(SimSetting).where(SimSetting.key.like(_PREFIX + "%"))).all():
        if float((row.value or {}).get("expiresAt", 0)) <= now:
            ctx.session.delete(row)
    ticket = secrets.token_urlsafe(24)
    ctx.session.add(SimSetting(key=_key(ticket), value={"expiresAt": now + TTL}))
    ctx.session.flush()
    return ticket, now + TTL


def redeem(ctx: Ctx, ticket: str) -> None:
    """Accept the ticket once; AuthenticationError when it is unknown, used already or expired."""
    refused = AuthenticationError("InvalidStreamTicket", "The event-stream ticket is unknown, used already or "
                                                         "expired: ask POST /_sim/events/tickets for a new one.")
    if not ticket or len(ticket) > 200:
        raise refused
    row = ctx.session.get(SimSetting, _key(ticket))
    expires = float((row.value or {}).get("expiresAt", 0)) if row is not None else 0.0
    gone = ctx.session.execute(delete(SimSetting).where(SimSetting.key == _key(ticket)))
    if row is None or getattr(gone, "rowcount", 0) != 1 or expires <= time.time():
        raise refused
