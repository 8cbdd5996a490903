"""`/_sim/*`: health and the CA need no token; everything else needs the bootstrap principal's ARM token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from arm_sim import __version__
from arm_sim.core.errors import AuthenticationError, DomainError, bad_request
from arm_sim.domain import (
    clock,
    directory,
    events,
    fixtures,
    graph_permissions,
    identity_endpoints,
    managed_identities,
    replication,
    tenancy,
    vaults,
)
from arm_sim.domain.context import Ctx
from arm_sim.domain.runtime import Runtime
from arm_sim.hosts import body_limits
from arm_sim.hosts.arm import errors
from arm_sim.hosts.arm.auth import authenticate
from arm_sim.hosts.http import bearer, json_response, off_loop, parse_json
from arm_sim.hosts.sim import event_filters

router = APIRouter(prefix="/_sim", tags=["sim"])


@router.get("/health", summary="Liveness (no token needed)")
async def health() -> Response:
    return json_response({"status": "ok", "version": __version__})


@router.get("/ca.pem", summary="The simulator's CA certificate (no token needed)")
async def ca_pem(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    return Response((rt.settings.home / "ca.pem").read_bytes(), media_type="application/x-pem-file")


async def _guarded(request: Request, work: Callable[[Ctx, Any], Any]) -> Response:
    rt: Runtime = request.app.state.runtime
    raw = b""
    if request.method in ("POST", "PUT"):  # checked before anything parses the body
        capped = await body_limits.read_capped(request.scope, request.receive, body_limits.SIM_LIMIT)
        ctype = request.headers.get("content-type")
        if capped is None:
            return errors.render(DomainError(413, "RequestContentTooLarge",
                                             "The request content size exceeds the maximum size of 4 MB."))
        raw = capped
        if body_limits.has_body(raw) and not body_limits.is_json(ctype):
            return errors.render(DomainError(415, "UnsupportedMediaType", body_limits.media_message(ctype)))
    return await off_loop(lambda: _answer(request, rt, work, raw))


def _answer(request: Request, rt: Runtime, work: Callable[[Ctx, Any], Any], raw: bytes) -> Response:
    body, body_error = parse_json(raw)  # on a request thread: a large body never holds the event loop
    try:
        with rt.unit() as ctx:
            caller = authenticate(ctx, bearer(request), None, host="sim")
            boot = tenancy.current_bootstrap(ctx)
            if boot is None or caller.client_id != boot.client_id:
                raise DomainError(403, "AuthorizationFailed",
                                  f"The client '{caller.client_id}' with object id '{caller.object_id}' may not use "
                                  "the simulator API; only the bootstrap principal may.")
            if body_error:
                raise DomainError(400, "InvalidRequestContent", body_error)
            return json_response(work(ctx, body))
    except AuthenticationError as e:
        return errors.render_auth(e, rt.settings.public_url)
    except DomainError as e:
        return errors.render(e)


@router.get("/clock", summary="The simulated clock")
async def get_clock(request: Request) -> Response:
    return await _guarded(request, lambda ctx, _: clock.state(ctx.session) | {"replication": replication.state(ctx)})


def _advance(ctx: Ctx, body: Any, query: dict[str, str]) -> dict[str, object]:
    text = query.get("by") or (body.get("duration") if isinstance(body, dict) else None)
    if not text:
        raise bad_request("InvalidDuration", "Give the duration as ?by=46d or {\"duration\": \"46d\"}.")
    before = ctx.now
    waiting = replication.pending(ctx)
    clock.advance(ctx.session, clock.parse_duration(str(text)))
    ctx.now = clock.now(ctx.session)
    events.record(ctx, "clock.advanced", "/_sim/clock", by=str(text), fromEpoch=before, toEpoch=ctx.now)
    managed_identities.sweep(ctx)  # certificates roll (45 days) or expire (90) as the clock passes those ages
    vaults.purge_expired(ctx)  # soft-deleted vaults past retention are purged
    still = {p["objectId"] for p in replication.pending(ctx)}
    return clock.state(ctx.session) | {"replication": replication.state(ctx),
                                       "replicationFinished": [p for p in waiting if p["objectId"] not in still]}


@router.post("/clock/advance", summary="Move the simulated clock forward (?by=46d or {\"duration\": \"46d\"})")
async def advance_clock(request: Request) -> Response:
    q = dict(request.query_params)
    return await _guarded(request, lambda ctx, body: _advance(ctx, body, q))


@router.post("/clock/freeze", summary="Freeze the simulated clock")
async def freeze_clock(request: Request) -> Response:
    def work(ctx: Ctx, _: Any) -> dict[str, object]:
        clock.freeze(ctx.session)
        events.record(ctx, "clock.frozen", "/_sim/clock")
        return clock.state(ctx.session)

    return await _guarded(request, work)


@router.post("/clock/unfreeze", summary="Let the simulated clock run again")
async def unfreeze_clock(request: Request) -> Response:
    def work(ctx: Ctx, _: Any) -> dict[str, object]:
        clock.unfreeze(ctx.session)
        events.record(ctx, "clock.unfrozen", "/_sim/clock")
        return clock.state(ctx.session)

    return await _guarded(request, work)


@router.get("/events", summary="The event log (filters: resource, principal, kind, since, until, after)")
async def list_events(request: Request) -> Response:
    q = dict(request.query_params)

    def work(ctx: Ctx, _: Any) -> dict[str, object]:
        return {"value": events.query(ctx, **event_filters.parse(q), limit=event_filters.top(q))}

    return await _guarded(request, work)


def _create_application(ctx: Ctx, body: Any) -> dict[str, object]:
    if not isinstance(body, dict) or not isinstance(body.get("displayName"), str) or not body["displayName"]:
        raise bad_request("InvalidRequestContent", "Give the application a 'displayName'.")
    boot = tenancy.current_bootstrap(ctx)
    assert boot is not None
    app, sp = directory.create_application(ctx, body.get("tenantId") or boot.tenant_id, body["displayName"])
    out: dict[str, object] = {"appId": app.app_id, "applicationObjectId": app.object_id,
                              "servicePrincipalObjectId": sp.object_id, "tenantId": app.tenant_id}
    if body.get("certificate"):
        cred = directory.add_certificate(ctx, app.app_id, directory.certificate_der(str(body["certificate"])))
        out["certificateThumbprint"] = cred.thumbprint_sha1
    if body.get("secret", not body.get("certificate")):
        out["clientSecret"] = directory.add_password(ctx, app.app_id, display_name="arm-sim")
    return out


@router.post("/applications", summary="Register an application and its service principal (secret and/or cert)")
async def create_application(request: Request) -> Response:
    return await _guarded(request, _create_application)


def _grant_graph_permissions(ctx: Ctx, app_id: str, body: Any) -> dict[str, object]:
    permissions = body.get("permissions") if isinstance(body, dict) else None
    if not isinstance(permissions, list) or not permissions or not all(isinstance(p, str) for p in permissions):
        raise bad_request("InvalidRequestContent", "Give {\"permissions\": [\"Application.Read.All\", ...]}: "
                                                   "Microsoft Graph application permissions by name.")
    sp = directory.service_principal_by_app_id(ctx, app_id)
    if sp is None:
        raise DomainError(404, "ServicePrincipalNotFound", f"No service principal has the appId '{app_id}'.")
    held = graph_permissions.grant(ctx, sp, permissions)
    return {"appId": sp.app_id, "servicePrincipalObjectId": sp.object_id, "permissions": held}


@router.post("/applications/{app_id}/graphPermissions",
             summary="Grant Microsoft Graph application permissions (app roles) to an app or managed identity",
             description="Bootstrap principal only. `{\"permissions\": [\"Application.Read.All\"]}`; the "
                         "principal's next Graph token carries them as its `roles` claim. `app_id` is the client "
                         "id of an application or of a managed identity.")
async def grant_graph_permissions(request: Request, app_id: str) -> Response:
    return await _guarded(request, lambda ctx, body: _grant_graph_permissions(ctx, app_id, body))


def _create_tenant(ctx: Ctx, body: Any) -> dict[str, object]:
    body = body if isinstance(body, dict) else {}
    tenant = tenancy.create_tenant(ctx, body.get("tenantId"), str(body.get("displayName") or "arm-sim tenant"))
    return {"tenantId": tenant.id, "defaultDomain": tenant.default_domain}


@router.post("/tenants", summary="Create another tenant (its own key ring and token endpoints)")
async def create_tenant(request: Request) -> Response:
    return await _guarded(request, _create_tenant)


def _imds_endpoint(ctx: Ctx, resource_id: str | None) -> dict[str, object]:
    if not resource_id:
        raise bad_request("MissingResourceId", "Give the VM's or site's resource id as ?resourceId=.")
    row = identity_endpoints.for_resource(ctx, resource_id)
    if row is None:
        raise DomainError(404, "IdentityEndpointNotFound",
                          f"No identity endpoint is registered for '{resource_id}': it is not a virtual machine or "
                          "site, or it does not exist.")
    base = ctx.settings.imds_url
    if row.kind == "site":
        return {"kind": "site", "endpoint": f"{base}/sites/{row.key}/msi/token", "header": row.secret}
    out: dict[str, object] = {"kind": "vm", "endpoint": f"{base}/vms/{row.key}"}
    if row.extension_port is not None:
        out["extensionEndpoint"] = f"{base}/vms/{row.key}/extension/oauth2/token"
        out["extensionPort"] = row.extension_port
    return out


@router.get("/imds-endpoint", summary="Where code inside a VM or site asks for tokens (?resourceId=)",
            description="Bootstrap principal only. A VM's address carries its secret IMDS key (`/vms/{vmKey}`, "
                        "never its public `vmId`): whoever holds it gets the VM's tokens, so treat it as a "
                        "credential.")
async def imds_endpoint(request: Request) -> Response:
    resource_id = request.query_params.get("resourceId")
    return await _guarded(request, lambda ctx, _: _imds_endpoint(ctx, resource_id))


def _set_rolling(ctx: Ctx, body: Any) -> dict[str, object]:
    if not isinstance(body, dict) or not isinstance(body.get("enabled"), bool):
        raise bad_request("InvalidRequestContent", "Give {\"enabled\": true} or {\"enabled\": false}.")
    managed_identities.set_rolling(ctx, body["enabled"])
    return {"enabled": body["enabled"]}


@router.get("/credentials/rolling", summary="Whether managed-identity certificates are rolled at 45 days")
async def get_rolling(request: Request) -> Response:
    return await _guarded(request, lambda ctx, _: {"enabled": managed_identities.rolling_enabled(ctx)})


@router.post("/credentials/rolling", summary="Turn certificate rolling on or off ({\"enabled\": false})")
async def set_rolling(request: Request) -> Response:
    return await _guarded(request, _set_rolling)


@router.put("/deploymentScripts/{name}/outputs", summary="What the deployment script `name` outputs (a JSON object)")
async def set_script_outputs(request: Request, name: str) -> Response:
    return await _guarded(request, lambda ctx, body: {"name": name,
                                                      "outputs": fixtures.set_script_outputs(ctx, name, body)})


@router.get("/deploymentScripts/{name}/outputs", summary="The outputs registered for the deployment script `name`")
async def get_script_outputs(request: Request, name: str) -> Response:
    return await _guarded(request, lambda ctx, _: {"name": name, "outputs": fixtures.script_outputs(ctx, name)})
