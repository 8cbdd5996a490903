"""ARM's routing table: a parsed path and a method choose a handler.

ARM paths have any depth and are case-insensitive, so they are parsed here rather than declared as
FastAPI routes.
"""

from __future__ import annotations

import re

from starlette.responses import Response

from arm_sim.core.errors import DomainError, bad_request
from arm_sim.domain import rbac
from arm_sim.domain.context import Ctx
from arm_sim.hosts.arm import authorize, deployments, groups, lro, resources, subscriptions
from arm_sim.hosts.arm.call import Call
from arm_sim.hosts.http import json_response
from arm_sim.providers import catalog
from arm_sim.providers.base import ActionResult
from arm_sim.resources import service

_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-(preview|beta|alpha|privatepreview))?$", re.IGNORECASE)
_OPERATION_KINDS = {"operationstatuses": "status", "operations": "status", "asyncoperations": "status",
                    "operationresults": "result"}


def check_api_version(query: dict[str, str]) -> str:
    v = query.get("api-version")
    if not v:
        raise bad_request("MissingApiVersionParameter",
                          "The api-version query parameter (?api-version=) is required for all requests.")
    if not _API_VERSION.match(v):
        raise bad_request(
            "InvalidApiVersionParameter",
            f"The api-version '{v}' is invalid. The supported versions are dates of the form 'yyyy-MM-dd', "
            "optionally followed by '-preview'.",
        )
    return v


def _no_route(call: Call) -> DomainError:
    return DomainError(404, "NoRegisteredProviderFound" if call.arm.parts else "InvalidResourceType",
                       f"No route for '{call.method} {call.path}' is simulated by arm-sim.")


def check_route(call: Call) -> None:
    """Refuse, before anything else, a resource path ARM cannot route: segments between the scope and the first
    `providers/` (nothing is silently dropped), an empty `providers/{namespace}` run inside a resource path, and
    types their namespace cannot have (see `catalog.check_types`). The same for every method."""
    a = call.arm
    if not a.parts:
        return
    version = call.query.get("api-version")
    if a.tail:
        if a.subscription is None:
            raise bad_request("MissingSubscription",
                              "The request did not have a subscription or a valid tenant level resource provider.")
        # under a subscription or resource group, a segment outside `providers/` can only be one of
        # Microsoft.Resources' own types (resourceGroups, resources, deployments …)
        raise catalog.unknown_type("Microsoft.Resources", (a.tail[0],), version)
    provider_level = a.resource_group is None and len(a.parts) == 1
    for n, part in enumerate(a.parts):
        if not part.segments and not provider_level:
            raise DomainError(404, "InvalidResourceType", f"The resource path '{call.path}' names the namespace "
                                                          f"'{part.namespace}' without a resource type.")
        last = n == len(a.parts) - 1
        catalog.check_types(part, action=last and a.is_collection and call.method == "POST", api_version=version)


def dispatch(ctx: Ctx, call: Call) -> Response:
    check_route(call)
    needed = authorize.action_and_scope(call)
    if needed is not None:
        rbac.enforce(ctx, *needed)
    if deployments.matches(call):  # deployment records, not resource rows (arm_sim.deployments)
        return deployments.handle(ctx, call)
    a, m = call.arm, call.method
    tail = [t.lower() for t in a.tail]
    if a.subscription is None:
        if tail == ["subscriptions"] and m == "GET":
            return subscriptions.list_subscriptions(ctx, call)
        if tail == ["tenants"] and m == "GET":
            return subscriptions.list_tenants(ctx, call)
        if tail == ["providers"] and m == "GET":
            return subscriptions.list_providers(ctx, call)
        if not a.parts and not tail:
            raise _no_route(call)
    if a.parts and a.resource_group is None and len(a.parts) == 1:
        segs = a.parts[0].segments
        if not segs and m == "GET":  # /subscriptions/{s}/providers/{ns} or /providers/{ns}
            return subscriptions.get_provider(ctx, call, a.parts[0].namespace)
        if not segs and m in ("PUT", "PATCH", "DELETE"):  # a namespace is registered or unregistered, never written
            raise DomainError(405, "MethodNotAllowed", f"The method '{m}' is not allowed on a resource provider.")
        if len(segs) == 1 and segs[0].lower() in ("register", "unregister") and m == "POST":
            return subscriptions.register_provider(ctx, call, a.parts[0].namespace, segs[0].lower() == "register")
        if len(segs) == 4 and segs[0].lower() == "locations" and segs[2].lower() in _OPERATION_KINDS and m == "GET":
            kind = _OPERATION_KINDS[segs[2].lower()]
            return lro.status(ctx, call, segs[3]) if kind == "status" else lro.result(ctx, call, segs[3])
    if a.parts:
        if a.subscription is None:
            if a.resource_group is None and len(a.parts) == 1 and m == "GET":  # tenant-level provider reads
                read = service.provider_call(ctx, a.parts[0].namespace, m, None, a.parts[0].segments, call.body,
                                             call.api_version, call.query)
                if isinstance(read, tuple):
                    return json_response(read[1], read[0])
            raise _no_route(call)
        if a.resource_group is None and len(a.parts) == 1:
            handled = service.provider_call(ctx, a.parts[0].namespace, m, a.subscription, a.parts[0].segments,
                                            call.body, call.api_version)
            listed = authorize.filtered_list(call)
            if handled is not None and listed is not None:  # a provider's own list (deleted vaults): not filtered
                rbac.enforce(ctx, *listed)
            if isinstance(handled, ActionResult):
                target = {"type": f"{a.parts[0].namespace}/{a.parts[0].segments[0]}", "id": a.id,
                          "location": a.parts[0].segments[1] if len(a.parts[0].segments) > 1 else ""}
                return lro.action(ctx, call, target, handled)
            if handled is not None:
                status, body = handled
                return json_response(body, status) if body is not None else Response(status_code=status)
        if a.resource_group is not None and len(a.parts) == 1 and len(a.parts[0].segments) == 1 and m == "POST":
            answered = service.group_call(ctx, a.parts[0].namespace, m, a.subscription, a.resource_group,
                                          a.parts[0].segments, call.body, call.api_version)
            if answered is not None:
                return json_response(answered[1], answered[0])
        return resources.handle(ctx, call)
    if a.resource_group is not None:
        if not tail:
            return groups.handle(ctx, call)
        if tail == ["resources"] and m == "GET":
            return resources.list_in_scope(ctx, call)
        raise _no_route(call)
    if tail == [] and m == "GET":
        return subscriptions.get_subscription(ctx, call)
    if tail == ["resourcegroups"] and m == "GET":
        return groups.list_groups(ctx, call)
    if tail == ["resources"] and m == "GET":
        return resources.list_in_scope(ctx, call)
    if tail == ["locations"] and m == "GET":
        return subscriptions.list_locations(ctx, call)
    if tail == ["providers"] and m == "GET":
        return subscriptions.list_providers(ctx, call)
    raise _no_route(call)
