"""`revokeTokens`: a per-principal "not valid before" time on the simulated clock.

Azure documents the action as "Revoke all tokens issued in the past for a specified user assigned identity"
(Microsoft.ManagedIdentity 2023-07-31-preview, UserAssignedIdentities_RevokeTokens): a token whose `iat` is before
the revocation is refused by the resource servers; tokens issued afterwards are accepted. JWT times are whole
seconds, so a token issued in the second of the revocation could be either; to keep both rules exact, the
revocation time is stored a hair past the clock and tokens issued after it carry `iat` no earlier than the next
whole second (at most a second ahead of the clock; resource servers allow five minutes of skew on `nbf`). A frozen
clock keeps the order: each revocation moves the mark past the previous one's.

Stored in `sim_settings`, so every process sharing the database refuses the same tokens.

Hot path (issue 18): every managed identity's token validation and every cached IMDS answer asks for the mark, so
it is one prebuilt single-row read (`HotSelect`) instead of an ORM `Session.get` (which cost ~2/3 of a cached IMDS
answer's own work). Nothing is cached across requests: the row is read every time, so a revocation by any process
is seen by the next request. A unit with unflushed ORM changes reads through the ORM (which flushes first).
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, select

from arm_sim.db.engine import HotSelect
from arm_sim.db.models import SimSetting
from arm_sim.domain.context import Ctx

_PREFIX = "tokens.validFrom."  # + principal object id: 53 characters, within sim_settings.key's 64
_EPSILON = 1e-3


def _key(object_id: str) -> str:
    return _PREFIX + object_id.lower()


class _MarkRecord(Protocol):
    @property
    def value(self) -> dict[str, Any]: ...


_S = SimSetting.__table__.c
_MARK: HotSelect[_MarkRecord] = HotSelect(select(_S.value).where(_S.key == bindparam("key")))


def valid_from(ctx: Ctx, object_id: str) -> float | None:
    """Tokens of the principal issued (`iat`) before this time are refused; None when never revoked."""
    session = ctx.session
    if session.new or session.dirty or session.deleted:  # the prebuilt read would not see unflushed changes
        orm = session.get(SimSetting, _key(object_id))
        return float(orm.value["validFrom"]) if orm is not None else None
    row = _MARK.first(session, {"key": _key(object_id)})
    return float(row.value["validFrom"]) if row is not None else None


def revoke(ctx: Ctx, object_id: str) -> float:
    """Refuse every token of the principal issued until now. Returns the new mark."""
    row = ctx.session.get(SimSetting, _key(object_id))
    previous = float(row.value["validFrom"]) if row is not None else None
    mark = ctx.now + _EPSILON
    if previous is not None and mark <= math.ceil(previous):  # tokens since the last one may carry iat = ceil
        mark = math.ceil(previous) + _EPSILON
    if row is None:
        ctx.session.add(SimSetting(key=_key(object_id), value={"validFrom": mark}))
    else:
        row.value = {"validFrom": mark}
    return mark


def forget(ctx: Ctx, object_id: str) -> None:
    """The principal is gone: its mark goes with it (one DELETE, most principals having none to read first)."""
    ctx.session.execute(delete(SimSetting).where(SimSetting.key == _key(object_id)))


def issued_at(ctx: Ctx, object_id: str) -> int:
    """The `iat` (and `nbf`) of a token issued now: the clock's second, or the first whole second after the
    principal's revocation mark if that is later."""
    now = int(ctx.now)
    mark = valid_from(ctx, object_id)
    return now if mark is None else max(now, math.ceil(mark))


def refused(ctx: Ctx, object_id: str, iat: float) -> bool:
    mark = valid_from(ctx, object_id)
    return mark is not None and iat < mark
