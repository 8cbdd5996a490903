"""A VM's IMDS identity routes at `/vms/{vmKey}/metadata/identity/…` and the legacy extension endpoint.

`vmKey` is the VM's secret endpoint key (domain/identity_endpoints.py), not its public `vmId`. A key that
matches no VM, whether it never did or its VM was deleted, answers exactly like a VM without that identity:
400 `invalid_request` "Identity not found".
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from starlette.responses import Response

from arm_sim.core.errors import DomainError
from arm_sim.domain import identity_tokens
from arm_sim.domain.identity_tokens import IssuedToken, Refused, TokenRequest
from arm_sim.domain.runtime import Runtime
from arm_sim.hosts.http import json_response, off_loop
from arm_sim.hosts.imds import common

router = APIRouter(tags=["identity"])

IMDS_SELECTORS = ("client_id", "object_id", "msi_res_id", "mi_res_id")
EXTENSION_SELECTORS = ("client_id", "object_id", "msi_res_id")
AUDIENCE_MISSING = "Required audience parameter not specified"


def run_chain(request: Request, token_request: TokenRequest,
              answer: Callable[[IssuedToken, float], Response], refuse: Callable[[Refused], Response]) -> Response:
    """One unit of work around the token chain; refusals commit too (they are events). A cached token writes
    nothing, so the unit is read-mostly: it commits only what the chain wrote."""
    rt: Runtime = request.app.state.runtime
    try:
        with rt.unit(read_mostly=True) as ctx:
            outcome = identity_tokens.acquire(ctx, token_request)
            now = ctx.now
    except DomainError as e:
        return refuse(Refused(400, "invalid_request", e.message))
    return refuse(outcome) if isinstance(outcome, Refused) else answer(outcome, now)


def token(request: Request, vm_key: str, via: str) -> Response:
    """A token request at a VM's IMDS or extension endpoint (also answered below FastAPI: imds/lane.py)."""
    identity = True
    problem = common.header_problem(request, identity)
    if problem is not None and via == "extension" and request.headers.get("metadata") != "true":
        # the extension's own wording (its error table predates IMDS)
        return common.identity_error("bad_request_102", "Required metadata header not specified")
    if problem is not None:
        return problem
    q, dup = common.query(request)
    if dup:
        return common.repeated(dup, identity)
    if via == "imds" and (problem := common.version_problem(q, common.IDENTITY_MIN_VERSION)) is not None:
        return problem
    if not q.get("resource"):
        return common.identity_error("invalid_request", AUDIENCE_MISSING)
    chosen = common.selector(q, IMDS_SELECTORS if via == "imds" else EXTENSION_SELECTORS)
    if isinstance(chosen, Response):
        return chosen
    bypass = common.bypass_cache(q)
    if isinstance(bypass, Response):
        return bypass
    token_request = TokenRequest(vm_key, "vm", via, q["resource"], chosen, bypass)
    return run_chain(request, token_request, lambda t, now: common.imds_token(t, now, chosen), common.refused)


@router.get("/vms/{vm_key}/metadata/identity/oauth2/token", summary="IMDS: a token for the VM's identity")
@router.get("/vms/{vm_key}/metadata/identity/oauth2/token/", include_in_schema=False)
async def imds_token(request: Request, vm_key: str) -> Response:
    return await off_loop(lambda: token(request, vm_key, "imds"))


@router.get("/vms/{vm_key}/extension/oauth2/token",
            summary="Legacy ManagedIdentityExtension endpoint (only while the extension is installed)")
@router.get("/vms/{vm_key}/extension/oauth2/token/", include_in_schema=False)
async def extension_token(request: Request, vm_key: str) -> Response:
    return await off_loop(lambda: token(request, vm_key, "extension"))


@router.get("/vms/{vm_key}/metadata/identity/info", summary="IMDS: the tenant of the VM's identity")
async def identity_info(request: Request, vm_key: str) -> Response:
    return await off_loop(lambda: _identity_info(request, vm_key))


def _identity_info(request: Request, vm_key: str) -> Response:
    problem = common.header_problem(request, True)
    if problem is not None:
        return problem
    q, dup = common.query(request)
    if dup:
        return common.repeated(dup, True)
    if (problem := common.version_problem(q, common.IDENTITY_MIN_VERSION)) is not None:
        return problem
    rt: Runtime = request.app.state.runtime
    with rt.unit() as ctx:
        tenant = identity_tokens.identity_tenant(ctx, vm_key)
    if tenant is None:
        return common.identity_error("invalid_request", identity_tokens.IDENTITY_NOT_FOUND)
    return json_response({"tenantId": tenant})
