"""`/_sim/audit`, `/_sim/graph` and `/_sim/explain`: what the lifecycle left behind, the identity graph, and why
RBAC or a vault's access policies decided as they did."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from arm_sim.core.errors import AuthenticationError, DomainError, bad_request
from arm_sim.domain import (
    audit,
    federation_explain,
    identity_graph,
    rbac,
    stream_tickets,
    tenancy,
    vault_explain,
    vaults,
)
from arm_sim.domain.context import Ctx
from arm_sim.hosts.arm import errors
from arm_sim.hosts.arm.auth import authenticate
from arm_sim.hosts.http import bearer, json_response, off_loop
from arm_sim.hosts.sim import denials, event_filters, stream
from arm_sim.resources import whatif_delete

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
                                "?principalId=&action=&scope=; why federated token exchanges were refused "
                                "?identity= (a user-assigned identity's id, clientId or name)")
async def explain(request: Request) -> Response:
    q = dict(request.query_params)

    def work(ctx: Ctx) -> dict[str, Any]:
        if q.get("identity") or q.get("clientId"):  # a workload's federated exchanges, not an access decision
            return federation_explain.explain(ctx, q.get("identity") or q["clientId"])
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


@router.get("/whatif/delete", summary="What deleting a resource would do to principals and grants (?resourceId=)",
            description="Bootstrap principal only. The delete runs for real inside a transaction that is rolled "
                        "back: the principals it would delete, the role assignments and access-policy entries it "
                        "would orphan, the user-assigned identities it would detach (and keep), the child resources "
                        "it would delete. Nothing changes.")
async def whatif_delete_resource(request: Request) -> Response:
    resource_id = request.query_params.get("resourceId") or ""
    return await _answer(request, lambda ctx: whatif_delete.predict(ctx, resource_id))


def _explainable(ctx: Ctx, denial: dict[str, Any]) -> dict[str, Any] | None:
    """The explain question a denial asks: who, what, where (a Key Vault access-policy refusal names the vault and
    the permission, `secrets get`, which explain takes as `secrets/get` on the vault's id)."""
    missing, at, who = denial.get("missing"), denial.get("at"), denial.get("principal")
    if not missing or not who:
        return None
    if " " in missing:  # Key Vault, access policies: "secrets get" on key vault 'name'
        vault = vaults.vault_for_name(ctx, str(at or "").split(";")[0])
        return {"principalId": who, "action": missing.replace(" ", "/"),
                "scope": vault.resource_id if vault is not None else at}
    return {"principalId": who, "action": missing, "scope": at or ""}


@router.get("/denials", summary="The requests this server process refused lately (newest first)",
            description="Bootstrap principal only. Method, path (secret parts masked), status, the caller's object "
                        "id and what was missing, each with the `explain` question it asks. Kept in memory per "
                        "process (the last 50); never a token or a body.")
async def get_denials(request: Request) -> Response:
    def work(ctx: Ctx) -> dict[str, Any]:
        out = []
        for d in denials.recent():
            principal = identity_graph.principal_info(ctx, d["principal"]) if d.get("principal") else None
            out.append(d | {"caller": principal, "explain": _explainable(ctx, d)})
        return {"value": out}

    return await _answer(request, work)


@router.post("/events/tickets", summary="A one-time ticket for the event stream (bootstrap principal only)",
             description="EventSource cannot send an Authorization header, and a token never goes in a URL: open "
                         "`/_sim/events/stream?ticket=…` within 60 seconds; the ticket is accepted once.")
async def create_stream_ticket(request: Request) -> Response:
    def work(ctx: Ctx) -> dict[str, Any]:
        ticket, expires = stream_tickets.issue(ctx)
        return {"ticket": ticket, "expiresInSeconds": stream_tickets.TTL, "expiresAtEpoch": expires}

    return await _answer(request, work)


@router.get("/events/stream", summary="The event log as server-sent events (filters as /_sim/events; resumes "
                                      "after Last-Event-ID or ?after=)",
            description="Bootstrap principal only: its token in the Authorization header, or `?ticket=` from "
                        "`POST /_sim/events/tickets`. Ends when the server shuts down.")
async def stream_events(request: Request) -> Response:
    rt = request.app.state.runtime
    q = dict(request.query_params)
    if request.headers.get("last-event-id"):
        q["after"] = request.headers["last-event-id"]

    def admit() -> Response | dict[str, Any]:
        try:
            filters = event_filters.parse(q)
            with rt.unit() as ctx:
                if q.get("ticket") and not request.headers.get("authorization"):
                    stream_tickets.redeem(ctx, q["ticket"])
                else:
                    _bootstrap_only(ctx, request)
            return filters
        except AuthenticationError as e:
            return errors.render_auth(e, rt.settings.public_url)
        except DomainError as e:
            return errors.render(e)

    admitted = await off_loop(admit)
    if isinstance(admitted, Response):
        return admitted
    return StreamingResponse(stream.stream(rt, request.scope, admitted), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
