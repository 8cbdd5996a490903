"""Generic resource endpoints: any `{scope}/providers/{Namespace}/{type}/{name}[/…]`, and their lists."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from arm_sim.core import ids
from arm_sim.core.errors import DomainError
from arm_sim.domain import rbac
from arm_sim.domain.context import Ctx
from arm_sim.hosts.arm import authorize, lro
from arm_sim.hosts.arm.call import Call
from arm_sim.hosts.http import json_response
from arm_sim.resources import listing, preflight, service
from arm_sim.resources.documents import to_doc


def _etag_headers(doc: dict[str, Any]) -> dict[str, str]:
    return {"ETag": doc["etag"]} if doc.get("etag") else {}


def handle(ctx: Ctx, call: Call) -> Response:
    path, m = call.arm, call.method
    if path.is_collection:
        if m == "GET":
            computed = service.view(ctx, path, call.api_version)
            return json_response(computed) if computed is not None else list_collection(ctx, call)
        if m == "POST":
            return lro.action(ctx, call, *service.action(ctx, path, call.body, call.api_version, call.query))
        raise DomainError(405, "MethodNotAllowed", f"The method '{m}' is not allowed on a collection.")
    long_running = service.is_async(path.resource_type)
    if m in ("GET", "HEAD", "PATCH", "DELETE"):  # ARM answers an api-version the type lacks before anything else
        preflight.check(ctx, path, call.api_version, None, write=False)
    if m == "PUT":
        doc, created = service.put(ctx, path, call.body, call.api_version,
                                   if_match=call.headers.get("if-match"),
                                   if_none_match=call.headers.get("if-none-match"))
        resp = lro.written(ctx, call, service.render(ctx, doc, call.api_version), created, long_running,
                           service.put_status(path.resource_type, created))
    elif m == "PATCH":
        doc = service.patch(ctx, path, call.body, call.api_version, if_match=call.headers.get("if-match"))
        resp = lro.written(ctx, call, service.render(ctx, doc, call.api_version), False, long_running)
    elif m == "HEAD":
        return check_existence(ctx, path)
    elif m == "GET":
        doc = service.get(ctx, path)
        resp = json_response(service.render(ctx, doc, call.api_version, call.query.get("$expand")))
    elif m == "DELETE":
        row = service.get_row(ctx, path)
        location = (row.location or "") if row else ""
        gone = service.render(ctx, service.get(ctx, path), call.api_version) if (
            row is not None and service.delete_returns_body(path.resource_type)) else None
        existed = service.delete(ctx, path)
        if gone is not None:  # e.g. role assignments: DELETE answers the deleted object
            return json_response(gone)
        return lro.deleted(ctx, call, existed, long_running, path.parts[-1].namespace, location, path.id)
    else:
        raise DomainError(405, "MethodNotAllowed", f"The method '{m}' is not allowed on a resource.")
    resp.headers.update(_etag_headers(doc))
    return resp


def check_existence(ctx: Ctx, path: ids.ArmPath) -> Response:
    """HEAD (Resources_CheckExistence): 204 when GET would find the resource, stored or computed by its provider
    (a vault's secret, `identities/default`), 404 when GET would answer 404; any other refusal as GET's."""
    try:
        service.get(ctx, path)
    except DomainError as e:
        if e.status != 404:
            raise
        return Response(status_code=404)
    return Response(status_code=204)


# GenericResourceExpanded (Microsoft.Resources' `resources` lists): what ARM shows of any resource, without its
# properties; `$expand` adds createdTime, changedTime and provisioningState
_GENERIC = ("id", "name", "type", "sku", "kind", "location", "extendedLocation", "tags", "plan", "identity", "zones",
            "managedBy")


def _generic(doc: dict[str, Any], expand: str) -> dict[str, Any]:
    shown = {k: doc[k] for k in _GENERIC if k in doc}
    wanted = {e.strip().lower() for e in expand.split(",")}
    system = doc.get("systemData") or {}
    for key, value in (("createdTime", system.get("createdAt")), ("changedTime", system.get("lastModifiedAt")),
                       ("provisioningState", (doc.get("properties") or {}).get("provisioningState"))):
        if key.lower() in wanted and value is not None:
            shown[key] = value
    return shown


def _page(ctx: Ctx, call: Call, q: listing.Query, visible: listing.Visible | None = None,
          generic: bool = False) -> Response:
    f = listing.parse_filter(call.query.get("$filter"))
    rows, more = listing.page(ctx, q, f, call.top(), call.query.get("$skipToken") or call.query.get("$skiptoken"),
                              visible)
    if generic:  # the resources of a group or subscription: ARM's own view, whatever their provider
        body: dict[str, Any] = {"value": [_generic(to_doc(r), call.query.get("$expand") or "") for r in rows]}
    else:
        body = {"value": [service.render(ctx, to_doc(r), call.api_version) for r in rows]}
    link = call.next_link(listing.encode_token(more) if more else None)
    if link:
        body["nextLink"] = link
    return json_response(body)


def _readable_only(ctx: Ctx, action: str, scope_id: str) -> listing.Visible | None:
    """How a filtered list shows its items: all of them to a caller who may read the whole scope (no check per
    item), those it may read to a caller with some role assignment at, above or inside the scope; a caller with
    none is refused (as ARM does)."""
    rbac.enforce_presence(ctx, action, scope_id)
    return None if rbac.visible(ctx, action, scope_id) else listing.readable


def list_collection(ctx: Ctx, call: Call) -> Response:
    listed = authorize.filtered_list(call)
    visible = _readable_only(ctx, *listed) if listed is not None else None  # others: authorized before dispatch
    virtual = service.virtual_list(ctx, call.arm, call.query)
    if virtual is not None:
        if listed is not None:  # a list its provider answers itself is not filtered here: read on the whole scope
            rbac.enforce(ctx, *listed)
        return json_response({"value": [service.render(ctx, d, call.api_version) for d in virtual]})
    return _page(ctx, call, listing.collection_query(ctx, call.arm), visible)


def list_in_scope(ctx: Ctx, call: Call) -> Response:
    a = call.arm
    listed = authorize.filtered_list(call)  # a group's resources
    if listed is not None:  # refused before looking the group up, as ARM authorizes first
        visible = _readable_only(ctx, *listed)
        return _page(ctx, call, listing.scope_query(ctx, a), visible, generic=True)
    q = listing.scope_query(ctx, a)
    return _page(ctx, call, q, _readable_only(ctx, "Microsoft.Resources/subscriptions/resources/read", a.scope_id),
                 generic=True)
