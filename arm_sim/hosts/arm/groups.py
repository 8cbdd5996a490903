"""Resource group endpoints."""

from __future__ import annotations

from starlette.responses import Response

from arm_sim.core.errors import DomainError
from arm_sim.domain import rbac
from arm_sim.domain.context import Ctx
from arm_sim.hosts.arm import lro
from arm_sim.hosts.arm.call import Call
from arm_sim.hosts.http import json_response
from arm_sim.resources import groups


def handle(ctx: Ctx, call: Call) -> Response:
    sub, name = call.arm.subscription or "", call.arm.resource_group or ""
    m = call.method
    if m == "PUT":
        rg, created = groups.put(ctx, sub, name, call.body)
        return json_response(groups.to_doc(rg), 201 if created else 200)
    if m == "GET":
        return json_response(groups.to_doc(groups.get(ctx, sub, name)))
    if m == "HEAD":
        return Response(status_code=204 if groups.exists(ctx, sub, name) else 404)
    if m == "PATCH":
        return json_response(groups.to_doc(groups.patch(ctx, sub, name, call.body)))
    if m == "DELETE":
        location = groups.get(ctx, sub, name).location  # unlike resources, a missing group is a 404
        groups.delete(ctx, sub, name)
        return lro.deleted(ctx, call, True, True, "Microsoft.Resources", location, call.arm.scope_id)
    raise DomainError(405, "MethodNotAllowed", f"The method '{m}' is not allowed on a resource group.")


def list_groups(ctx: Ctx, call: Call) -> Response:
    """Only the groups the caller may read, as ARM lists them; a caller with no role assignment anywhere in the
    subscription is refused."""
    action = "Microsoft.Resources/subscriptions/resourceGroups/read"
    found = groups.list_all(ctx, call.arm.subscription or "")
    rbac.enforce_presence(ctx, action, call.arm.scope_id)
    rgs = [rg for rg in found if rbac.visible(ctx, action, rg.id)]
    return json_response({"value": [groups.to_doc(rg) for rg in rgs]})
