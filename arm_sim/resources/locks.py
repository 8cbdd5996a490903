"""Management locks (`Microsoft.Authorization/locks`): what ARM refuses under them, whoever asks.

A lock applies at its scope and everything below it. `CanNotDelete` refuses deletes; `ReadOnly` refuses deletes,
writes and POST actions (listKeys included, as in Azure). Deleting a scope is refused when a lock stands at it,
above it or anywhere inside it (the delete would remove the locked resource). Locks themselves can always be
written and deleted by whoever may (that is how they are removed), and data planes are not affected.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from sqlalchemy import bindparam, select

from arm_sim.core import ids
from arm_sim.core.errors import DomainError
from arm_sim.db.engine import HotSelect
from arm_sim.db.models import Resource
from arm_sim.domain import rbac
from arm_sim.domain.context import Ctx

LOCK = "microsoft.authorization/locks"
_MARK = "/providers/microsoft.authorization/locks/"

Operation = Literal["write", "delete"]


class _LockRecord(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def properties(self) -> dict[str, Any]: ...


# Every write and delete asks (issue 18: an ORM execute here was a seventh of a generic PUT): a prebuilt read of the
# subscription's locks, read every time (nothing cached), through the ORM only when the unit holds unflushed changes
# (which the ORM flushes first and the prebuilt read would not see).
_R = Resource.__table__.c
_LOCKS: HotSelect[_LockRecord] = HotSelect(select(_R.id, _R.properties).where(
    _R.subscription_id == bindparam("subscription"), _R.type_key == LOCK))


def _locks(ctx: Ctx, subscription: str) -> list[tuple[str, dict[str, Any]]]:
    session = ctx.session
    if session.new or session.dirty or session.deleted:
        return [(i, p) for i, p in session.execute(select(Resource.id, Resource.properties).where(
            Resource.subscription_id == subscription, Resource.type_key == LOCK)).all()]
    return [(r.id, r.properties) for r in _LOCKS.all(session, {"subscription": subscription})]


def _locked_scopes(ctx: Ctx, target: str, operation: Operation) -> list[str]:
    segs = ids.split(target)
    if len(segs) < 2 or segs[0].lower() != "subscriptions":
        return []
    rows = _locks(ctx, segs[1].lower())
    if not rows:
        return []
    above = rbac.ancestors(target)
    inside = ids.key(target) + "/"
    found: list[str] = []
    for lock_id, props in rows:
        scope = lock_id[:ids.key(lock_id).rindex(_MARK)] or "/"
        level = (props or {}).get("level")
        applies = ids.key(scope) in above or (operation == "delete" and ids.key(scope).startswith(inside))
        if applies and (level == "ReadOnly" or operation == "delete") and scope not in found:
            found.append(scope)
    return found


def check(ctx: Ctx, target: str, operation: Operation) -> None:
    """Refuse (409 ScopeLocked) a write or delete of `target` that a lock forbids."""
    if _MARK in ids.key(target):  # a lock itself, or something below one: never locked by locks
        return
    locked = ", ".join(f"'{s}'" for s in _locked_scopes(ctx, target, operation))
    if locked:
        raise DomainError(409, "ScopeLocked",
                          f"The scope '{target}' cannot perform {operation} operation because following scope(s) "
                          f"are locked: {locked}. Please remove the lock and try again.")
