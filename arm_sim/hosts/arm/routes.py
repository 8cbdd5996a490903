"""ARM's HTTP edge: authenticate, require api-version, parse the body, dispatch, render errors."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.types import Receive, Scope

from arm_sim.core import ids
from arm_sim.core.errors import AuthenticationError, DomainError
from arm_sim.domain.context import Ctx
from arm_sim.domain.runtime import Runtime
from arm_sim.hosts.arm import deployments, dispatch, errors
from arm_sim.hosts.arm.auth import authenticate
from arm_sim.hosts.arm.call import Call
from arm_sim.hosts.arm.metadata import cloud
from arm_sim.hosts.http import json_response, off_loop, parse_bearer, parse_json, query_of, read_body

router = APIRouter(tags=["arm"])
# ARM's own paths (case-insensitive, as ARM's are): served by `arm` through a Lane (hosts/http.py), never by
# FastAPI's router; the OpenAPI document describes them through `openapi.merge`.
PREFIXES = ("/subscriptions", "/providers", "/tenants")


def base_url(request: Request, rt: Runtime) -> str:
    host = request.headers.get("host")
    return f"https://{host}" if host else rt.settings.public_url


def is_arm_path(path: str) -> bool:
    lowered = path[:15].lower()
    return any(lowered == p or lowered.startswith(p + "/") for p in PREFIXES)


def _parse_body(path: str, raw: bytes) -> tuple[Any, str | None]:
    body, error = parse_json(raw)
    if error:  # the Azure CLI's deployment body is not JSON (reference/clients.md §5)
        body, error = deployments.lenient_body(path, raw, body, error)
    return body, error


async def arm(rt: Runtime, scope: Scope, receive: Receive) -> Response:
    path, method = scope["path"], scope["method"]
    # ASGI header names are already lower-case: the raw pairs make the dict without a Headers object.
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    q = query_of(scope)
    raw = await read_body(receive) if method in ("PUT", "PATCH", "POST") else b""
    body, body_error = _parse_body(path, raw)
    correlation_id = scope["state"]["correlation_id"]
    attempts = 0

    def work(ctx: Ctx) -> Response:
        nonlocal attempts
        attempts += 1
        # a retry (db.conflicts) parses the body as sent again: the first attempt may have changed its objects
        request_body = body if attempts == 1 else _parse_body(path, raw)[0]
        arm_path = ids.parse(path)
        authenticate(ctx, parse_bearer(headers.get("authorization")), arm_path.subscription)
        dispatch.check_api_version(q)
        if body_error:
            raise DomainError(400, "InvalidRequestContent", body_error)
        ctype = headers.get("content-type", "application/json")
        if request_body is not None and "json" not in ctype.lower():
            raise DomainError(415, "UnsupportedMediaType",
                              f"The content media type '{ctype}' is not supported. Only 'application/json' is "
                              "supported.")
        host = headers.get("host")
        base = f"https://{host}" if host else rt.settings.public_url
        call = Call(method, path, arm_path, q, request_body, headers, base)
        response = dispatch.dispatch(ctx, call)
        if ctx.warnings:
            response.headers["x-ms-arm-sim-warning"] = " ".join(dict.fromkeys(ctx.warnings))
        return response

    def answer() -> Response:
        try:
            # GET/HEAD normally only read: their unit skips the COMMIT when nothing was written.
            return rt.run(work, read_mostly=method in ("GET", "HEAD"), correlation_id=correlation_id)
        except AuthenticationError as e:
            return errors.render_auth(e, rt.settings.public_url)
        except DomainError as e:
            return errors.render(e)

    return await off_loop(answer)


@router.get("/metadata/endpoints", summary="Cloud metadata (single object)")
async def metadata_endpoints(request: Request) -> Response:
    return json_response(cloud(base_url(request, request.app.state.runtime)))


@router.get("/metadata/endpoints/list", summary="Cloud metadata (list form, for ARM_CLOUD_METADATA_URL)")
async def metadata_endpoints_list(request: Request) -> Response:
    return json_response([cloud(base_url(request, request.app.state.runtime))])
