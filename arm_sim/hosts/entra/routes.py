"""Entra endpoints at `/{tenant}/…`, as MSAL expects them (the authority is the host, the tenant the first
path segment)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.responses import Response

from arm_sim.core.errors import EntraError
from arm_sim.core.hosts import LOGIN
from arm_sim.domain.runtime import Runtime
from arm_sim.domain.tokens import entra, keyring
from arm_sim.hosts import body_limits
from arm_sim.hosts.entra import issuers
from arm_sim.hosts.http import json_response, off_loop

router = APIRouter(tags=["entra"])


def _base(request: Request) -> str:
    host = request.headers.get("host")
    rt: Runtime = request.app.state.runtime
    return f"https://{host}" if host else rt.settings.public_url


def _error(e: EntraError, correlation_id: str) -> Response:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    trace = str(uuid.uuid4())
    body = {
        "error": e.error,
        "error_description": f"AADSTS{e.aadsts}: {e.description}\r\nTrace ID: {trace}\r\n"
                             f"Correlation ID: {correlation_id}\r\nTimestamp: {now}",
        "error_codes": [e.aadsts], "timestamp": now, "trace_id": trace, "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={e.aadsts}",
    }
    return json_response(body, e.status, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})


def _openid(base: str, tenant: str, tenant_id: str, v2: bool) -> dict[str, Any]:
    tid = "{tenantid}" if tenant.lower() in ("common", "organizations") else tenant_id
    v = "/v2.0" if v2 else ""
    return {
        "token_endpoint": f"{base}/{tenant}/oauth2{v}/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{base}/{tenant}/discovery{v}/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/{tid}/v2.0" if v2 else f"https://sts.windows.net/{tid}/",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{base}/oidc/userinfo",
        "authorization_endpoint": f"{base}/{tenant}/oauth2{v}/authorize",
        "device_authorization_endpoint": f"{base}/{tenant}/oauth2{v}/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/{tenant}/oauth2{v}/logout",
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                             "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr",
                             "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "tenant_region_scope": None if tid == "{tenantid}" else "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }


def _discovery(request: Request, tenant: str, v2: bool) -> Response:
    rt: Runtime = request.app.state.runtime
    try:
        with rt.unit() as ctx:
            t = entra.resolve_tenant(ctx, tenant)
            doc = _openid(_base(request), tenant, t.id, v2)
    except EntraError as e:
        return _error(e, request.state.correlation_id)
    return json_response(doc, headers={"Cache-Control": "max-age=86400, private",
                                       "Access-Control-Allow-Origin": "*"})


@router.get("/{tenant}/v2.0/.well-known/openid-configuration", summary="OIDC discovery (v2)")
async def openid_v2(request: Request, tenant: str) -> Response:
    return await off_loop(lambda: _discovery(request, tenant, True))


@router.get("/{tenant}/.well-known/openid-configuration", summary="OIDC discovery (v1)")
async def openid_v1(request: Request, tenant: str) -> Response:
    return await off_loop(lambda: _discovery(request, tenant, False))


def _keys(request: Request, tenant: str) -> Response:
    rt: Runtime = request.app.state.runtime
    base = _base(request)
    try:
        with rt.unit() as ctx:
            everyone = tenant.lower() in ("common", "organizations")
            tid = None if everyone else entra.resolve_tenant(ctx, tenant).id
            keys = [keyring.jwk(k, f"{base}/{'{tenantid}' if everyone else k.tenant_id}/v2.0")
                    for k in keyring.published(ctx, tid)]
    except EntraError as e:
        return _error(e, request.state.correlation_id)
    return json_response({"keys": keys}, headers={"Cache-Control": "max-age=86400, private"})


@router.get("/{tenant}/discovery/v2.0/keys", summary="JWKS (v2)")
async def keys_v2(request: Request, tenant: str) -> Response:
    return await off_loop(lambda: _keys(request, tenant))


@router.get("/{tenant}/discovery/keys", summary="JWKS (v1)")
async def keys_v1(request: Request, tenant: str) -> Response:
    return await off_loop(lambda: _keys(request, tenant))


@router.get("/common/discovery/instance", summary="MSAL instance discovery")
async def instance_discovery(request: Request) -> Response:
    base = _base(request)
    host = base.split("://", 1)[1]
    # through the proxy, Azure's public cloud: MSAL reads its aliases after a failed token request
    metadata = _PUBLIC_CLOUD if host == LOGIN else {"preferred_network": host, "preferred_cache": host,
                                                    "aliases": [host]}
    return json_response({
        "tenant_discovery_endpoint": f"{base}/common/v2.0/.well-known/openid-configuration",
        "api-version": "1.1",
        "metadata": [metadata],
    })


_PUBLIC_CLOUD = {"preferred_network": LOGIN, "preferred_cache": "login.windows.net",
                 "aliases": [LOGIN, "login.windows.net", "login.microsoft.com", "sts.windows.net"]}


async def _token(request: Request, tenant: str, v1: bool) -> Response:
    rt: Runtime = request.app.state.runtime
    capped = await body_limits.read_capped(request.scope, request.receive, body_limits.ENTRA_LIMIT)
    if capped is None:  # refused before a byte more is read or anything is parsed
        return _error(EntraError(413, "invalid_request", 9002313, "Invalid request. The request body is larger "
                                 "than 1 MB."), request.state.correlation_id)
    # a body that is not a form (JSON, say) holds no grant_type: Entra answers AADSTS900144, as `_issue` does
    raw = capped.decode("utf-8", "replace")
    return await off_loop(lambda: _issue(request, rt, tenant, raw, v1))


def _issue(request: Request, rt: Runtime, tenant: str, raw: str, v1: bool) -> Response:
    form = dict(parse_qsl(raw, keep_blank_values=True))
    base = _base(request)
    try:
        with rt.unit() as ctx:
            t = entra.resolve_tenant(ctx, tenant)
            bases = {base, rt.settings.public_url}
            endpoints = tuple(f"{b}/{name}{sfx}" for b in bases for name in {tenant, t.id}
                              for sfx in ("/oauth2/token", "/oauth2/v2.0/token"))
            body = entra.client_credentials(ctx, tenant, form, endpoints, v1)
    except EntraError as e:
        return _error(e, request.state.correlation_id)
    return json_response(body, headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})


@router.post("/{tenant}/oauth2/v2.0/token", summary="Token endpoint (v2, client credentials)")
async def token_v2(request: Request, tenant: str) -> Response:
    return await _token(request, tenant, False)


@router.post("/{tenant}/oauth2/token", summary="Token endpoint (v1, client credentials with resource=)")
async def token_v1(request: Request, tenant: str) -> Response:
    return await _token(request, tenant, True)


router.include_router(issuers.router)  # the external OIDC issuers arm-sim plays, served on the same listener
