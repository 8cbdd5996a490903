"""The event log: every lifecycle step appends one row, on the simulated clock."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arm_sim.db.engine import HotInsert
from arm_sim.db.models import Event
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx

SUBJECT_MAX = 1024  # the column's length (db.models.Event.subject)


def _subject(subject: str) -> str:
    """A subject that fits its column: a refused request may name a path of any length (PostgreSQL, unlike SQLite,
    refuses a longer value, and the refusal's own event must not fail)."""
    return subject if len(subject) <= SUBJECT_MAX else subject[:SUBJECT_MAX - 12] + "…(clipped)"


def record(ctx: Ctx, kind: str, subject: str, /, **details: Any) -> None:
    ctx.session.add(Event(at=ctx.now, kind=kind, subject=_subject(subject), actor=ctx.actor, details=details))


def record_refusal(ctx: Ctx, kind: str, subject: str, /, **details: Any) -> None:
    """An event that survives the rollback of the refused request (token refused, access denied), or a decision
    that stands whatever the operation then does (access allowed). Written by `write_durable`."""
    ctx.durable_events.append({"at": ctx.now, "kind": kind, "subject": _subject(subject), "actor": ctx.actor,
                               "details": details})


# SQLAlchemy types a declarative class's __table__ as a FromClause; a class with __tablename__ maps a Table
_DURABLE = HotInsert(Event.__table__)  # type: ignore[arg-type]


def write_durable(session: Session, rows: list[dict[str, Any]]) -> None:
    """Append the durable events of a unit, after whatever it recorded itself (so `seq` keeps their order).

    Every data-plane read records its decision, so this is a prebuilt statement rather than ORM objects."""
    if rows:
        session.flush()
        _DURABLE.run(session, rows)


def last_seq(ctx: Ctx) -> int:
    """The newest event's seq (0 for an empty log)."""
    return int(ctx.session.scalar(select(func.max(Event.seq))) or 0)


def _like(pattern: str) -> re.Pattern[str]:
    """A subject pattern as the SQL filter reads it (`*` or `%`: any text; `_`: any character), case-insensitive.
    Each text between two stars is matched at its first place and kept there (an atomic group): a plain `.*` per
    star backtracks through every split of the id, minutes for `*a*a*a*a*a*a*a*z`, with the GIL held."""
    def text(piece: str) -> str:
        return "".join("." if c == "_" else re.escape(c) for c in piece)

    pieces = re.split(r"[*%]+", pattern)
    if len(pieces) == 1:
        return re.compile(text(pattern), re.IGNORECASE | re.DOTALL)
    middle = "".join(f"(?>.*?{text(p)})" for p in pieces[1:-1])
    return re.compile(f"{text(pieces[0])}{middle}.*{text(pieces[-1])}", re.IGNORECASE | re.DOTALL)


def principals_of(ctx: Ctx, resource: str) -> set[str]:
    """The object ids and client ids of every principal a resource the pattern matches ever had (from the creation
    events, so deleted ones count: their orphaned grants and old tokens are the resource's story too)."""
    like = _like(resource)
    out: set[str] = set()
    for details in ctx.session.scalars(select(Event.details).where(Event.kind == "servicePrincipal.created")):
        d = details or {}
        if d.get("resourceId") and like.fullmatch(str(d["resourceId"])):
            out |= {str(d[k]).lower() for k in ("principalId", "clientId") if d.get(k)}
    return out


def _names(e: Event, ids: set[str]) -> bool:
    """Whether the event is a principal's in `ids`: as its subject, its actor or its `principalId` detail."""
    return (e.subject.lower() in ids or (e.actor or "").lower() in ids
            or str((e.details or {}).get("principalId", "")).lower() in ids)


def query(
    ctx: Ctx,
    *,
    kind: str | None = None,
    subject: str | None = None,
    principal: str | None = None,
    since: float | None = None,
    until: float | None = None,
    after_seq: int = 0,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """The first `limit` events after `after_seq` (in log order) that pass every filter.

    `subject` is a resource (or a pattern of them, `*` for any text): the events filed under it, and those of
    every principal it ever had (`principals_of`), such as the grants its identity left orphaned. A principal is
    matched as the subject, the actor or a `principalId` detail, which SQL cannot see inside the JSON on both
    databases: the log is then read a page at a time until `limit` events match, so a principal's events are
    found however many others came first."""
    q = select(Event).order_by(Event.seq)
    if kind:
        q = q.where(Event.kind.like(kind.replace("*", "%")))
    owned = principals_of(ctx, subject) if subject else set()
    if subject and not owned:
        q = q.where(Event.subject.ilike(subject.replace("*", "%")))
    if since is not None:
        q = q.where(Event.at >= since)
    if until is not None:
        q = q.where(Event.at <= until)
    p = {principal.lower()} if principal else None
    like = _like(subject) if owned and subject else None
    paged = p is not None or like is not None
    out: list[dict[str, Any]] = []
    cursor = after_seq
    while len(out) < limit:
        rows = ctx.session.scalars(q.where(Event.seq > cursor).limit(limit)).all()
        for e in rows:
            if p is not None and not _names(e, p):
                continue
            if like is not None and not (like.fullmatch(e.subject) or _names(e, owned)):
                continue
            out.append({"seq": e.seq, "time": iso(e.at), "kind": e.kind, "subject": e.subject,
                        "actor": e.actor, "details": e.details})
            if len(out) == limit:
                break
        if not paged or len(rows) < limit:
            break
        cursor = rows[-1].seq
    return out
