"""`/_sim/audit`, `/_sim/graph` and `/_sim/explain`: what the lifecycle left behind, the identity graph, and why
RBAC or a vault's access policies decided as they did."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from arm_sim.core.errors import AuthenticationError, DomainError, bad_request
from arm_sim.domain import audit, identity_graph, rbac, tenancy, vault_explain
from arm_sim.domain.context import Ctx
from arm_sim.hosts.arm import errors
from arm_sim.hosts.arm.auth import authenticate
from arm_sim.hosts.http import bearer, json_response, off_loop

router = APIRouter(prefix="/_sim", tags=["sim"])


def _bootstrap_only(ctx: Ctx, request: Request) -> None:
    caller = authenticate(ctx, bearer(request), None, host="sim")
    boot = tenancy.current_bootstrap(ctx)
    if boot is None or caller.client_id != boot.client_id:
        raise DomainError(403, "AuthorizationFailed",
                          f"The client '{caller.client_id}' with object id '{caller.object_id}' may not use the "
                          "simulator API; only the bootstrap principal may.")


async def _answer(request: Request, work: Any) -> Response:
    return await off_loop(lambda: _answer_now(request, work))


def _answer_now(request: Request, work: Any) -> Response:
    rt = request.app.state.runtime
    try:
        with rt.unit() as ctx:
            _bootstrap_only(ctx, request)
            return json_response(work(ctx))
    except AuthenticationError as e:
        return errors.render_auth(e, rt.settings.public_url)
    except DomainError as e:
        return errors.render(e)


@router.get("/audit", summary="Orphaned role assignments, dangling user-assigned identities, expired credentials, "
                              "invariant violations")
async def get_audit(request: Request) -> Response:
    return await _answer(request, lambda ctx: audit.report(ctx) | {
        "invariantViolations": identity_graph.violations(ctx)})


@router.get("/graph", summary="The identity graph: resources, principals, credentials, grants, orphans "
                              "(?scope= a resource group's or resource's id)")
async def get_graph(request: Request) -> Response:
    scope = request.query_params.get("scope") or None
    return await _answer(request, lambda ctx: identity_graph.graph(ctx, scope))


@router.get("/explain", summary="Why RBAC (and a vault's access policies) allow or deny "
                                "?principalId=&action=&scope=")
async def explain(request: Request) -> Response:
    q = dict(request.query_params)

    def work(ctx: Ctx) -> dict[str, Any]:
        missing = [k for k in ("principalId", "action", "scope") if not q.get(k)]
        if missing:
            raise bad_request("MissingQueryParameter", f"Give {', '.join(missing)} as query parameters.")
        vault = vault_explain.explain(ctx, q["principalId"], q["action"], q["scope"])
        data = q.get("dataAction") == "true" or (vault is not None and vault["dataAction"] == q["action"])
        d = rbac.decide(ctx, q["principalId"], q["action"], q["scope"], data=data)
        out = {"allowed": d.allowed, "principalId": d.principal_id, "action": d.action, "scope": d.scope,
               "reason": d.reason(), "grantedBy": d.granted_by, "considered": d.considered}
        if vault is not None:  # Key Vault's data plane decides by its own rules: its answer is the answer
            out |= {"allowed": vault["allowed"], "reason": vault["reason"], "keyVault": vault}
        return out

    return await _answer(request, work)
