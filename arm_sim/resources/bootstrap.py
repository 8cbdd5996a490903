"""The state a database starts with, and a reset back to it: the tenant, the subscription, the deployer principal
and its Owner assignment (made through the write path, as every role assignment is)."""

from __future__ import annotations

import time
import uuid

from arm_sim.core import ids
from arm_sim.db.models import Base, Bootstrap, Clock
from arm_sim.domain import directory, tenancy
from arm_sim.domain.context import Ctx
from arm_sim.resources import service


def ensure(ctx: Ctx) -> Bootstrap:
    boot = tenancy.current_bootstrap(ctx)
    if boot is None:
        boot = tenancy.bootstrap(ctx)
        sp = directory.service_principal_by_app_id(ctx, boot.client_id)
        assert sp is not None  # (bootstrap just made it)
        ra_id, body = tenancy.owner_assignment(boot, sp.object_id)
        service.put(ctx, ids.parse(ra_id), body, "2022-04-01")
    return boot


def reset(ctx: Ctx) -> Bootstrap:
    """Forget everything, in the caller's transaction, and start again with the same bootstrap ids and secret (a
    running server's clients keep working). The clock gets a new epoch, so every process's caches of the old state
    are never consulted again."""
    old = tenancy.current_bootstrap(ctx)
    settings = ctx.settings
    if old is not None:
        ctx.settings = settings.with_(tenant_id=old.tenant_id, subscription_id=old.subscription_id,
                                      client_id=old.client_id, client_secret=old.client_secret)
    ctx.session.flush()
    for table in reversed(Base.metadata.sorted_tables):
        ctx.session.execute(table.delete())
    ctx.session.expunge_all()  # objects this unit loaded (the bootstrap row, the caller's principal) are gone too
    ctx.epoch = str(uuid.uuid4())
    ctx.session.add(Clock(id=1, offset_seconds=0.0, frozen_at=None, epoch=ctx.epoch))
    ctx.session.flush()
    ctx.now = time.time()
    ctx.memo.clear()
    try:
        return ensure(ctx)
    finally:
        ctx.settings = settings
