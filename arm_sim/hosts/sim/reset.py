"""`POST /_sim/reset`: the running server forgets every resource, principal and event and starts again, in one
transaction, its caches going with the data (the way to reset a server that runs; `arm-sim reset` uses it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from arm_sim.domain.context import Ctx
from arm_sim.hosts.sim.routes import _guarded
from arm_sim.resources import bootstrap

router = APIRouter(prefix="/_sim", tags=["sim"])


def _reset(ctx: Ctx, _: Any) -> dict[str, object]:
    boot = bootstrap.reset(ctx)
    return {"status": "reset", "tenantId": boot.tenant_id, "subscriptionId": boot.subscription_id,
            "clientId": boot.client_id}


@router.post("/reset", summary="Forget all state and bootstrap again (bootstrap principal only)",
             description="Every resource, principal, key, secret and event goes, in one transaction; ids pinned by "
                         "ARM_SIM_TENANT_ID and the like stay. Tokens issued before are refused afterwards.")
async def reset(request: Request) -> Response:
    return await _guarded(request, _reset)
