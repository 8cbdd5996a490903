"""Graph's FastAPI edge: authenticate, route by OData segment, apply query options, render Graph's envelope.

One catch-all route parses the path itself, because Graph's alternate keys (`servicePrincipals(appId='…')`)
are not path segments FastAPI can match, and because every path arm-sim does not simulate must still
answer in Graph's envelope (never a fake success).
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from arm_sim.core.errors import AuthenticationError, DomainError, bad_request
from arm_sim.domain import graph, graph_permissions
from arm_sim.domain.context import Caller, Ctx
from arm_sim.domain.runtime import Runtime
from arm_sim.hosts import body_limits
from arm_sim.hosts.arm.auth import authenticate
from arm_sim.hosts.graph import (
    app_roles,
    applications,
    directory_objects,
    errors,
    federated_credentials,
    service_principals,
    users,
)
from arm_sim.hosts.graph.errors import RequestInfo
from arm_sim.hosts.graph.writes import Answer, Write
from arm_sim.hosts.http import bearer, off_loop, parse_json

router = APIRouter(prefix="/v1.0", tags=["graph"])

GRAPH_RESOURCE = "https://graph.microsoft.com"
_ENTITY_SETS = {"serviceprincipals": graph.SERVICE_PRINCIPALS, "applications": graph.APPLICATIONS,
                "users": graph.USERS}
_WRITERS = {"applications": applications.handle, "serviceprincipals": service_principals.handle,
            "users": users.handle}
# what an app-only caller needs to read each entity set
_READ_PERMISSIONS = {"users": graph_permissions.READ_USERS}
_BY_APP_ID = re.compile(r"^(\w+)\(appId='([^']*)'\)$", re.IGNORECASE)
_LIST_OPTIONS = ("$filter", "$select", "$top", "$skiptoken")
SIMULATED = ("arm-sim simulates only servicePrincipals and applications (GET by id, by appId and listed with "
             "$filter, $select, $top; POST, PATCH, DELETE; an application's addPassword and removePassword), users "
             "(GET, POST, DELETE), a service principal's appRoleAssignments and appRoleAssignedTo (GET, POST, "
             "DELETE), an application's federatedIdentityCredentials (GET, POST, PATCH, DELETE), "
             "directoryObjects/getByIds (POST) and /me of Microsoft Graph v1.0.")


def _base_url(request: Request, rt: Runtime) -> str:
    host = request.headers.get("host")
    return f"https://{host}" if host else rt.settings.public_url


def _audiences(ctx: Ctx, request: Request) -> tuple[str, ...]:
    # The Azure CLI uses the simulator's own URL as Graph's resource (clients.md §5).
    own = [ctx.settings.public_url]
    if request.headers.get("host"):
        own.append(f"https://{request.headers['host']}")
    return (GRAPH_RESOURCE, GRAPH_RESOURCE + "/", *own, *(u + "/" for u in own))


def _unsupported(method: str, path: str) -> DomainError:
    return bad_request("BadRequest", f"arm-sim does not simulate {method} {path}. {SIMULATED}")


class _Call:
    """One Graph request after authentication: what the handlers below need."""

    def __init__(self, request: Request, ctx: Ctx, caller: Caller, rest: str, body: tuple[Any, str | None]) -> None:
        self.ctx, self.caller, self.rest = ctx, caller, rest
        self.body, self.body_error = body
        self.base = _base_url(request, request.app.state.runtime)
        self.method = request.method
        self.path = request.url.path
        self.params = list(request.query_params.multi_items())
        self.options = {k.lower(): v for k, v in self.params if k.startswith("$")}

    def context(self, es: graph.EntitySet, selected: tuple[str, ...] | None, entity: bool) -> str:
        shape = f"({','.join(selected)})" if selected else ""
        return f"{self.base}/v1.0/$metadata#{es.name}{shape}{'/$entity' if entity else ''}"

    def next_link(self, after: str) -> str:
        kept = [(k, v) for k, v in self.params if k.lower() != "$skiptoken"]
        query = urlencode([*kept, ("$skiptoken", graph.skiptoken(after))], quote_via=quote, safe="$'(),:/=")
        return f"{self.base}{self.path}?{query}"

    def check_options(self, allowed: tuple[str, ...]) -> None:
        for name in self.options:
            if name not in allowed:
                raise bad_request("BadRequest", f"arm-sim does not simulate the {name} query option on "
                                                f"{self.method} {self.path}. {SIMULATED}")


def _get_one(call: _Call, es: graph.EntitySet, *, object_id: str | None = None,
             app_id: str | None = None) -> dict[str, object]:
    call.check_options(("$select",))
    selected = graph.parse_select(es, call.options.get("$select"))
    doc = graph.get(call.ctx, es, call.caller.tenant_id, object_id=object_id, app_id=app_id, selected=selected)
    return {"@odata.context": call.context(es, selected, entity=True), **doc}


def _list(call: _Call, es: graph.EntitySet) -> dict[str, object]:
    call.check_options(_LIST_OPTIONS)
    selected = graph.parse_select(es, call.options.get("$select"))
    flt = graph.parse_filter(es, call.options.get("$filter"))
    page = graph.list_page(call.ctx, es, call.caller.tenant_id, flt, graph.parse_top(call.options.get("$top")),
                           graph.parse_skiptoken(call.options.get("$skiptoken")), selected)
    body: dict[str, object] = {"@odata.context": call.context(es, selected, entity=False)}
    if page.next_after is not None:
        body["@odata.nextLink"] = call.next_link(page.next_after)
    body["value"] = page.value
    return body


def _me(call: _Call) -> dict[str, object]:
    # Every token arm-sim issues is app-only (client credentials, managed identity): Graph refuses /me for those.
    if call.caller.claims.get("idtyp") == "app" or "scp" not in call.caller.claims:
        raise bad_request("BadRequest", "/me request is only valid with delegated authentication flow.")
    raise _unsupported(call.method, call.path)


def _dispatch(call: _Call) -> tuple[int, dict[str, object] | None]:
    segments = [s for s in call.rest.split("/") if s]
    side = app_roles.SIDES.get(segments[2].lower()) if len(segments) in (3, 4) else None
    if side is not None and segments[0].lower() == "serviceprincipals":
        call.check_options(())
        return app_roles.handle(call.ctx, call.caller, call.method, segments[1], side,
                                segments[3] if len(segments) == 4 else None, call.body, call.body_error, call.base)
    if [s.lower() for s in segments] == ["directoryobjects", "getbyids"] and call.method == "POST":
        call.check_options(())
        return 200, directory_objects.get_by_ids(call.ctx, call.caller, call.body, call.body_error, call.base)
    trusted = _federated_credentials(call, segments)
    if trusted is not None:
        return trusted
    if call.method != "GET" and segments:
        written = _write(call, segments)
        if written is not None:
            return written
    return 200, _read(call, segments)


def _federated_credentials(call: _Call, segments: list[str]) -> Answer | None:
    """An application's federatedIdentityCredentials (reads too: the generic reader serves entity sets only)."""
    keyed = _BY_APP_ID.match(segments[0]) if segments else None
    if not segments or (keyed.group(1) if keyed else segments[0]).lower() != "applications":
        return None
    rest = segments[1:] if keyed else segments[2:]
    if not rest or not federated_credentials.SEGMENT.match(rest[0]):
        return None
    call.check_options(())
    return federated_credentials.handle(Write(
        call.ctx, call.caller, call.method, None if keyed else segments[1], keyed.group(2) if keyed else None, rest,
        call.body, call.body_error, call.base))


def _write(call: _Call, segments: list[str]) -> Answer | None:
    keyed = _BY_APP_ID.match(segments[0])
    handler = _WRITERS.get((keyed.group(1) if keyed else segments[0]).lower())
    if handler is None:
        return None
    key = None if keyed or len(segments) < 2 else segments[1]
    rest = segments[1:] if keyed else segments[2:]
    write = Write(call.ctx, call.caller, call.method, key, keyed.group(2) if keyed else None, rest, call.body,
                  call.body_error, call.base)
    call.check_options(())
    return handler(write)


def _read(call: _Call, segments: list[str]) -> dict[str, object]:
    if call.method != "GET" or not segments:
        raise _unsupported(call.method, call.path)
    if len(segments) == 1 and segments[0].lower() == "me":
        return _me(call)
    if len(segments) == 1 and segments[0].lower() == "domains":
        call.check_options(())
        graph_permissions.require(call.caller.claims, graph_permissions.READ_DOMAINS)
        return {"@odata.context": f"{call.base}$metadata#domains", **graph.domains_json(call.ctx,
                                                                                       call.caller.tenant_id)}
    keyed = _BY_APP_ID.match(segments[0])
    es = _ENTITY_SETS.get((keyed.group(1) if keyed else segments[0]).lower())
    if es is None:
        raise bad_request("BadRequest", f"Resource not found for the segment '{segments[0]}'. {SIMULATED}")
    if len(segments) > (1 if keyed else 2):
        raise _unsupported(call.method, call.path)
    if keyed and es is graph.USERS:
        raise bad_request("BadRequest", f"Resource not found for the segment '{segments[0]}'.")
    # an app-only caller reads the directory only with an application permission
    graph_permissions.require(call.caller.claims, _READ_PERMISSIONS.get(es.name.lower(),
                                                                        graph_permissions.READ_APPLICATIONS))
    if keyed:
        return _get_one(call, es, app_id=keyed.group(2))
    if len(segments) == 1:
        return _list(call, es)
    if es is graph.USERS:
        return _get_one(call, es, object_id=users.object_id(call.ctx, call.caller.tenant_id, segments[1]))
    return _get_one(call, es, object_id=segments[1])


async def graph_call(request: Request) -> Response:
    raw: bytes | None = b""
    if request.method in ("POST", "PATCH", "PUT"):  # checked before anything parses the body
        raw = await body_limits.read_capped(request.scope, request.receive, body_limits.GRAPH_LIMIT)
    return await off_loop(lambda: _graph_call(request, raw))


def _checked(request: Request, raw: bytes | None) -> tuple[tuple[Any, str | None], DomainError | None]:
    """(parsed body, the refusal of a body too large, of the wrong type or nested too deep)."""
    ctype = request.headers.get("content-type")
    if raw is None:
        return (None, None), DomainError(413, "RequestEntityTooLarge", "The request size exceeds the maximum limit "
                                                                       "of 4 MB.")
    if body_limits.has_body(raw) and not body_limits.is_json(ctype):
        return (None, None), DomainError(415, "UnsupportedMediaType", body_limits.media_message(ctype))
    deep = body_limits.too_deep(raw)
    if deep is not None:
        return (None, None), bad_request("BadRequest", f"Invalid request body: {body_limits.depth_message(raw, deep)}")
    return parse_json(raw), None


def _graph_call(request: Request, raw: bytes | None) -> Response:
    body, refusal = _checked(request, raw)
    rt: Runtime = request.app.state.runtime
    request_id = str(uuid.uuid4())
    info = RequestInfo(request_id, request.headers.get("client-request-id") or request_id, 0.0)
    rest = request.url.path.removeprefix("/v1.0").strip("/")

    def work(ctx: Ctx) -> Response:
        info.now = ctx.now
        ctx.correlation_id = getattr(request.state, "correlation_id", ctx.correlation_id)
        caller = authenticate(ctx, bearer(request), None, host="graph", audiences=_audiences(ctx, request),
                              audience_message="Access token validation failure. Invalid audience.")
        if refusal is not None:
            raise refusal
        status, doc = _dispatch(_Call(request, ctx, caller, rest, body))
        return errors.ok(doc, info, status)

    try:  # a grant that lost a race to the same grant is run again, and then finds it exists
        return rt.run(work, read_mostly=request.method == "GET")
    except AuthenticationError as e:
        return errors.render_auth(e, info, rt.settings.public_url)
    except DomainError as e:
        return errors.render(e, info)


# One method per documented route with a fixed operation id: FastAPI derives ids from a set of methods,
# which would make the generated OpenAPI document differ from run to run. PUT only ever answers 400.
# `graph_call` reads the path itself (it also serves the bare prefix), so the document declares `rest` here: a
# path template without its parameter is an invalid OpenAPI document.
_REST = {"parameters": [{"name": "rest", "in": "path", "required": True, "schema": {"type": "string"},
                         "description": "The OData path after /v1.0/, e.g. servicePrincipals(appId='...') or "
                                        "servicePrincipals/{id}/appRoleAssignments"}],
         "security": [{"bearer": []}]}
router.add_api_route("/{rest:path}", graph_call, methods=["GET"], operation_id="graph_get", openapi_extra=_REST,
                     summary="Microsoft Graph v1.0: servicePrincipals, applications, users, appRoleAssignments, /me")
router.add_api_route("/{rest:path}", graph_call, methods=["POST"], operation_id="graph_post", openapi_extra=_REST,
                     summary="Microsoft Graph v1.0: create applications, servicePrincipals, users; addPassword, "
                             "removePassword; grant an app role (servicePrincipals/{id}/appRoleAssignments)")
router.add_api_route("/{rest:path}", graph_call, methods=["PATCH"], operation_id="graph_patch", openapi_extra=_REST,
                     summary="Microsoft Graph v1.0: update an application or a service principal")
router.add_api_route("/{rest:path}", graph_call, methods=["DELETE"], operation_id="graph_delete",
                     openapi_extra=_REST, summary="Microsoft Graph v1.0: delete an application, a service principal "
                                                  "or a user; revoke an app role assignment")
router.add_api_route("/{rest:path}", graph_call, methods=["PUT"], include_in_schema=False)
router.add_api_route("", graph_call, methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
