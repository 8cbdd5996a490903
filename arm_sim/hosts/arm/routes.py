"""ARM's HTTP edge: authenticate, require api-version, parse the body, dispatch, render errors."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.types import Receive, Scope

from arm_sim.core import ids
from arm_sim.core.errors import AuthenticationError, DomainError, bad_request
from arm_sim.domain.context import Ctx
from arm_sim.domain.runtime import Runtime
from arm_sim.hosts import body_limits
from arm_sim.hosts.arm import deployments, dispatch, errors
from arm_sim.hosts.arm.auth import authenticate
from arm_sim.hosts.arm.call import Call
from arm_sim.hosts.arm.metadata import cloud
from arm_sim.hosts.http import by_azure_name, json_response, parse_bearer, parse_json, query_of, read_or_off_loop
from arm_sim.providers import compute_images
from arm_sim.resources import groups

router = APIRouter(tags=["arm"])
# ARM's own paths (case-insensitive, as ARM's are): served by `arm` through a Lane (hosts/http.py), never by
# FastAPI's router; the OpenAPI document describes them through `openapi.merge`.
PREFIXES = ("/subscriptions", "/providers", "/tenants")
_WRITES = ("PUT", "PATCH", "POST")


def base_url(request: Request, rt: Runtime) -> str:
    host = request.headers.get("host")
    return f"https://{host}" if host else rt.settings.public_url


def is_arm_path(path: str) -> bool:
    lowered = path[:15].lower()
    return any(lowered == p or lowered.startswith(p + "/") for p in PREFIXES)


def _parse_body(path: str, raw: bytes) -> tuple[Any, str | None]:
    body, error = parse_json(raw)
    if error and body_limits.too_deep(raw) is None:  # the Azure CLI's deployment body is not JSON (clients.md §5)
        body, error = deployments.lenient_body(path, raw, body, error)
    return body, error


def _bad_uri(scope: Scope) -> DomainError | None:
    """ARM's front door refuses a double-encoded path (`%25`: InvalidDoubleEncodedRequestUri, its own code and
    wording). An encoded '/' inside a segment is refused too: decoded, it would move the request to another
    resource id (`resourceGroups/a%2F` would be the group `a`); the code is arm-sim's, as no Azure answer is on
    record."""
    raw = scope.get("raw_path") or b""
    if b"%" not in raw:
        return None
    uri, raw = raw.decode("latin-1"), raw.lower()
    if b"%25" in raw:
        return bad_request("InvalidDoubleEncodedRequestUri", f"The request URI '{uri}' is not valid, because it "
                                                             "contains double encoding sequence '%25'.")
    if b"%2f" not in raw and b"%5c" not in raw:
        return None
    segments = uri.split("/")
    for before, segment in zip(segments, segments[1:], strict=False):
        lowered = segment.lower()
        if ("%2f" in lowered or "%5c" in lowered) and before.lower() == "resourcegroups":
            try:  # a group's name: Azure's own refusal names the characters
                groups.check_name(unquote(segment))
            except DomainError as e:
                return e
    return bad_request("InvalidRequestUri", f"The request URI '{uri}' is not valid, because a path segment "
                                            "contains an encoded '/' or '\\'.")


async def arm(rt: Runtime, scope: Scope, receive: Receive) -> Response:
    path, method = scope["path"], scope["method"]
    if refused := _bad_uri(scope):
        return errors.render(refused)
    # ASGI header names are already lower-case: the raw pairs make the dict without a Headers object.
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    q = query_of(scope)
    capped = await body_limits.read_capped(scope, receive, body_limits.ARM_LIMIT) if method in _WRITES else b""
    if capped is None:  # refused before a byte more is read or anything is parsed
        return errors.render(DomainError(413, "RequestContentTooLarge",
                                         "The request content size exceeds the maximum size of 4 MB."))
    raw = capped
    body: Any = None
    body_error: str | None = None
    versions = body_limits.repeated(scope, "api-version")
    correlation_id = scope["state"]["correlation_id"]
    attempts = 0

    def work(ctx: Ctx) -> Response:
        nonlocal attempts
        attempts += 1
        # a retry (db.conflicts) parses the body as sent again: the first attempt may have changed its objects
        request_body = body if attempts == 1 else _parse_body(path, raw)[0]
        arm_path = ids.parse(path)
        ctx.azure_names = by_azure_name(headers.get("host"))
        authenticate(ctx, parse_bearer(headers.get("authorization")), arm_path.subscription)
        if versions:
            raise bad_request("InvalidApiVersionParameter", body_limits.repeated_message("api-version", versions))
        dispatch.check_api_version(q)
        ctype = headers.get("content-type")
        if body_limits.has_body(raw) and not body_limits.is_json(ctype):
            raise DomainError(415, "UnsupportedMediaType", body_limits.media_message(ctype))
        if body_error:
            raise DomainError(400, "InvalidRequestContent", body_error)
        host = headers.get("host")
        base = f"https://{host}" if host else rt.settings.public_url
        call = Call(method, path, arm_path, q, request_body, headers, base)
        response = dispatch.dispatch(ctx, call)
        if ctx.warnings:
            response.headers["x-ms-arm-sim-warning"] = " ".join(dict.fromkeys(ctx.warnings))
        return response

    def answer() -> Response:
        nonlocal body, body_error
        body, body_error = _parse_body(path, raw)  # on a request thread: a large body never holds the event loop
        try:
            # GET/HEAD normally only read: their unit skips the COMMIT when nothing was written.
            return rt.run(work, read_mostly=method in ("GET", "HEAD"), correlation_id=correlation_id)
        except AuthenticationError as e:
            return errors.render_auth(e, rt.settings.public_url)
        except DomainError as e:
            return errors.render(e)

    return await read_or_off_loop(rt, answer, short_read=_one_object(method, path))


def _one_object(method: str, path: str) -> bool:
    """A GET/HEAD of one subscription, group or resource: a short read (lists can be long, so they never are)."""
    if method not in ("GET", "HEAD"):
        return False
    try:
        p = ids.parse(path)
    except DomainError:
        return False
    return not p.is_collection if p.parts else not p.tail


@router.get("/metadata/endpoints", summary="Cloud metadata (single object)")
async def metadata_endpoints(request: Request) -> Response:
    return json_response(cloud(base_url(request, request.app.state.runtime)))


@router.get("/vmImageAliases.json", summary="The VM image alias document the cloud metadata names (vmImageAliasDoc)")
async def vm_image_aliases() -> Response:
    return json_response(compute_images.alias_doc())


@router.get("/metadata/endpoints/list", summary="Cloud metadata (list form, for ARM_CLOUD_METADATA_URL)")
async def metadata_endpoints_list(request: Request) -> Response:
    return json_response([cloud(base_url(request, request.app.state.runtime))])
