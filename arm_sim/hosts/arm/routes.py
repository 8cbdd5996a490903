"""ARM's FastAPI edge: authenticate, require api-version, parse the body, dispatch, render errors."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from arm_sim.core import ids
from arm_sim.core.errors import AuthenticationError, DomainError
from arm_sim.domain.runtime import Runtime
from arm_sim.hosts.arm import dispatch, errors
from arm_sim.hosts.arm.auth import authenticate
from arm_sim.hosts.arm.call import Call
from arm_sim.hosts.arm.metadata import cloud
from arm_sim.hosts.http import bearer, json_response, query, read_json

router = APIRouter(tags=["arm"])
METHODS = ["GET", "PUT", "PATCH", "DELETE", "POST", "HEAD"]


def base_url(request: Request, rt: Runtime) -> str:
    host = request.headers.get("host")
    return f"https://{host}" if host else rt.settings.public_url


@router.get("/metadata/endpoints", summary="Cloud metadata (single object)")
async def metadata_endpoints(request: Request) -> Response:
    return json_response(cloud(base_url(request, request.app.state.runtime)))


@router.get("/metadata/endpoints/list", summary="Cloud metadata (list form, for ARM_CLOUD_METADATA_URL)")
async def metadata_endpoints_list(request: Request) -> Response:
    return json_response([cloud(base_url(request, request.app.state.runtime))])


async def arm(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    path = request.scope["path"]
    q = query(request)
    body, body_error = (await read_json(request)) if request.method in ("PUT", "PATCH", "POST") else (None, None)
    try:
        # GET/HEAD normally only read: their unit skips the COMMIT when nothing was written.
        with rt.unit(read_mostly=request.method in ("GET", "HEAD")) as ctx:
            ctx.correlation_id = request.state.correlation_id
            arm_path = ids.parse(path)
            authenticate(ctx, bearer(request), arm_path.subscription)
            dispatch.check_api_version(q)
            if body_error:
                raise DomainError(400, "InvalidRequestContent", body_error)
            ctype = request.headers.get("content-type", "application/json")
            if body is not None and "json" not in ctype.lower():
                raise DomainError(415, "UnsupportedMediaType",
                                  f"The content media type '{ctype}' is not supported. Only 'application/json' is "
                                  "supported.")
            # ASGI header names are already lower-case; reading the raw pairs skips building a Headers object.
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.scope["headers"]}
            call = Call(request.method, path, arm_path, q, body, headers, base_url(request, rt))
            return dispatch.dispatch(ctx, call)
    except AuthenticationError as e:
        return errors.render_auth(e, rt.settings.public_url)
    except DomainError as e:
        return errors.render(e)


# Plain Starlette routes: ARM parses its own paths, and skipping FastAPI's dependency machinery keeps
# the hot GET path cheap. They are therefore absent from the generated OpenAPI document.
for prefix in ("/subscriptions", "/tenants", "/providers"):
    router.add_route(prefix, arm, methods=METHODS)
    router.add_route(prefix + "/{rest:path}", arm, methods=METHODS)
