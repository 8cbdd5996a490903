"""`Microsoft.Resources/deployments` at resource group and subscription scope, and calculateTemplateHash.

Routed here by `dispatch` before the generic resource handler: deployments are not resource rows but
deployment records, run by the engine in `arm_sim.deployments`. Both path forms are served: with
`/providers/Microsoft.Resources` and the older one without it (azure-mgmt-resource 24 lists operations at
`…/resourcegroups/{rg}/deployments/{name}/operations`).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from arm_sim.core import jsonc
from arm_sim.core.errors import DomainError, not_implemented
from arm_sim.deployments import api, store
from arm_sim.deployments.store import Target
from arm_sim.domain import rbac
from arm_sim.domain.context import Ctx
from arm_sim.hosts.arm import lro
from arm_sim.hosts.arm.call import Call
from arm_sim.hosts.http import json_response

NAMESPACE = "microsoft.resources"
_STATE_FILTER = "provisioningstate eq '"


def lenient_body(path: str, raw: bytes, body: Any, error: str | None) -> tuple[Any, str | None]:
    """A deployment body that is not JSON, read as ARM reads it: the Azure CLI sends `…, template:{<the file's
    text, comments and all>}}` (reference/clients.md §5). Other paths keep the strict reader's verdict."""
    if error is None or "/providers/microsoft.resources/deployments/" not in path.lower():
        return body, error
    try:
        return jsonc.loads(raw), None
    except jsonc.JsoncError as e:
        return None, f"The request content was invalid and could not be deserialized: '{e}'."


def _segments(call: Call) -> list[str] | None:
    """The `deployments[/{name}[/…]]` segments when the call is about deployments, else None."""
    a = call.arm
    if a.parts:
        last = a.parts[-1]
        if last.namespace.lower() == NAMESPACE and last.segments and last.segments[0].lower() == "deployments":
            return list(last.segments)
        return None
    if a.subscription and a.tail and a.tail[0].lower() == "deployments":
        return list(a.tail)
    return None


def matches(call: Call) -> bool:
    a = call.arm
    if a.subscription is None and len(a.parts) == 1 and a.parts[0].namespace.lower() == NAMESPACE and \
            [s.lower() for s in a.parts[0].segments] == ["calculatetemplatehash"]:
        return True
    return _segments(call) is not None


def handle(ctx: Ctx, call: Call) -> Response:
    a, m = call.arm, call.method
    if a.subscription is None and a.parts and a.parts[0].segments[0].lower() == "calculatetemplatehash":
        if m != "POST":
            raise DomainError(405, "MethodNotAllowed", f"The method '{m}' is not allowed on calculateTemplateHash.")
        return json_response(api.calculate_template_hash(call.body))
    segs = _segments(call) or []
    if a.subscription is None or len(a.parts) > 1:
        raise not_implemented("deployments at management group, tenant or extension scope")
    target = Target(a.subscription, a.resource_group)
    if not a.parts:  # the older path form: authorize as its /providers/Microsoft.Resources twin would be
        rbac.enforce(ctx, "Microsoft.Resources/deployments/" + ("read" if m in ("GET", "HEAD") else "write"),
                     target.deployment_id(segs[1]) if len(segs) > 1 else target.id)
    if len(segs) == 1:
        if m != "GET":
            raise DomainError(405, "MethodNotAllowed", f"The method '{m}' is not allowed on a deployment list.")
        flt = (call.query.get("$filter") or "").strip()
        state = flt[len(_STATE_FILTER):].rstrip("'") if flt.lower().startswith(_STATE_FILTER) else None
        return json_response({"value": api.list_at(ctx, target, state, call.top())})
    name = segs[1]
    if len(segs) == 2:
        return _deployment(ctx, call, target, name)
    verb = segs[2].lower()
    if len(segs) == 3 and m == "POST":
        if verb == "validate":
            status, body = api.validate(ctx, target, name, call.body)
            return json_response(body, status)
        if verb == "whatif":
            return json_response(api.what_if(ctx, target, name, call.body))
        if verb == "cancel":
            api.cancel(ctx, target, name)
            return Response(status_code=204)
        if verb == "exporttemplate":
            return json_response(api.export_template(ctx, target, name))
    if m == "GET" and verb == "operations":
        if len(segs) == 3:
            ops = api.operations(ctx, target, name)
            top = call.top()
            return json_response({"value": ops[:top] if top else ops})
        if len(segs) == 4:
            return json_response(api.operation(ctx, target, name, segs[3]))
    if m == "GET" and len(segs) == 4 and verb in ("operationstatuses", "operationresults"):
        if verb == "operationstatuses":
            return lro.status(ctx, call, segs[3])
        return json_response(api.get(ctx, target, name))
    raise DomainError(404, "NoRegisteredProviderFound", f"No route for '{m} {call.path}' is simulated by arm-sim.")


def _deployment(ctx: Ctx, call: Call, target: Target, name: str) -> Response:
    m = call.method
    if m == "PUT":
        record, created = api.create_or_update(ctx, target, name, call.body)
        doc = store.render(record)
        status = 201 if created else 200
        if ctx.settings.lro == "sync":
            return json_response(doc, status)
        base = f"{call.base_url}{record.id}"
        op = api.track(ctx, record)
        version = call.api_version
        headers = {"Azure-AsyncOperation": f"{base}/operationStatuses/{op}?api-version={version}",
                   "Location": f"{base}/operationResults/{op}?api-version={version}", "Retry-After": "1"}
        shown = dict(doc, properties=dict(doc["properties"], provisioningState="Accepted"))
        return json_response(shown, status, headers)
    if m == "GET":
        return json_response(api.get(ctx, target, name))
    if m == "HEAD":
        return Response(status_code=204 if api.exists(ctx, target, name) else 404)
    if m == "DELETE":
        existed = api.delete(ctx, target, name)
        return lro.deleted(ctx, call, existed, True, "Microsoft.Resources", "", target.deployment_id(name))
    raise DomainError(405, "MethodNotAllowed", f"The method '{m}' is not allowed on a deployment.")
