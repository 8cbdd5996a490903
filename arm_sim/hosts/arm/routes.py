"""ARM's FastAPI edge: authenticate, require api-version, parse the body, dispatch, render errors."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from arm_sim.core import ids
from arm_sim.core.errors import AuthenticationError, DomainError
from arm_sim.domain.runtime import Runtime
from arm_sim.hosts.arm import deployments, dispatch, errors
from arm_sim.hosts.arm.auth import authenticate
from arm_sim.hosts.arm.call import Call
from arm_sim.hosts.arm.metadata import cloud
from arm_sim.hosts.http import json_response, parse_bearer, query, read_json

router = APIRouter(tags=["arm"])
METHODS = ["GET", "PUT", "PATCH", "DELETE", "POST", "HEAD"]


def base_url(request: Request, rt: Runtime) -> str:
    host = request.headers.get("host")
    return f"https://{host}" if host else rt.settings.public_url


async def arm(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    scope = request.scope
    path, method = scope["path"], scope["method"]
    # ASGI header names are already lower-case: the raw pairs make the dict without a Headers object.
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    q = query(request)
    body, body_error = (await read_json(request)) if method in ("PUT", "PATCH", "POST") else (None, None)
    if body_error:  # the Azure CLI's deployment body is not JSON (reference/clients.md §5)
        body, body_error = deployments.lenient_body(path, await request.body(), body, body_error)
    try:
        # GET/HEAD normally only read: their unit skips the COMMIT when nothing was written.
        with rt.unit(read_mostly=method in ("GET", "HEAD"), correlation_id=request.state.correlation_id) as ctx:
            arm_path = ids.parse(path)
            authenticate(ctx, parse_bearer(headers.get("authorization")), arm_path.subscription)
            dispatch.check_api_version(q)
            if body_error:
                raise DomainError(400, "InvalidRequestContent", body_error)
            ctype = headers.get("content-type", "application/json")
            if body is not None and "json" not in ctype.lower():
                raise DomainError(415, "UnsupportedMediaType",
                                  f"The content media type '{ctype}' is not supported. Only 'application/json' is "
                                  "supported.")
            host = headers.get("host")
            call = Call(method, path, arm_path, q, body, headers, f"https://{host}" if host else rt.settings.public_url)
            return dispatch.dispatch(ctx, call)
    except AuthenticationError as e:
        return errors.render_auth(e, rt.settings.public_url)
    except DomainError as e:
        return errors.render(e)


# Plain Starlette routes: ARM parses its own paths, and skipping FastAPI's dependency machinery keeps
# the hot GET path cheap. They are therefore absent from the generated OpenAPI document. Registered before
# the metadata routes, most frequent first: routing tries routes in order (the paths do not overlap).
for prefix in ("/subscriptions", "/providers", "/tenants"):
    router.add_route(prefix + "/{rest:path}", arm, methods=METHODS)
    router.add_route(prefix, arm, methods=METHODS)


@router.get("/metadata/endpoints", summary="Cloud metadata (single object)")
async def metadata_endpoints(request: Request) -> Response:
    return json_response(cloud(base_url(request, request.app.state.runtime)))


@router.get("/metadata/endpoints/list", summary="Cloud metadata (list form, for ARM_CLOUD_METADATA_URL)")
async def metadata_endpoints_list(request: Request) -> Response:
    return json_response([cloud(base_url(request, request.app.state.runtime))])
