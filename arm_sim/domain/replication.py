"""What the simulated directory has not replicated yet (the console's clock view).

A new principal becomes visible to role assignments only `directory_delay` simulated seconds after it was created
(ARM_SIM_DIRECTORY_DELAY; Azure's replication delay, providers/authorization.py): until then a role assignment
that names it without `principalType` is refused with PrincipalNotFound. Read-only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from arm_sim.db.models import ServicePrincipal
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx


def pending(ctx: Ctx, at: float | None = None) -> list[dict[str, Any]]:
    """Principals not yet replicated at simulated time `at` (default: now), oldest first, with when they will be."""
    delay = ctx.settings.directory_delay
    now = ctx.now if at is None else at
    if delay <= 0:
        return []
    rows = ctx.session.scalars(select(ServicePrincipal).where(ServicePrincipal.created_at > now - delay)
                               .order_by(ServicePrincipal.created_at))
    return [{"objectId": sp.object_id, "displayName": sp.display_name, "appId": sp.app_id,
             "servicePrincipalType": sp.service_principal_type, "createdAt": iso(sp.created_at),
             "replicatedAt": iso(sp.created_at + delay), "secondsLeft": round(sp.created_at + delay - now, 3)}
            for sp in rows]


def state(ctx: Ctx) -> dict[str, Any]:
    return {"delaySeconds": ctx.settings.directory_delay, "pending": pending(ctx)}
