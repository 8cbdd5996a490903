"""Which RBAC action an ARM request performs, and on which scope (checked before dispatch)."""

from __future__ import annotations

from arm_sim.core import ids
from arm_sim.hosts.arm.call import Call

VERBS = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}
_FREE_TAILS = ({"subscriptions"}, {"tenants"}, {"providers"}, {"locations"})
_OPERATIONS = ("operationstatuses", "operationresults", "operations", "asyncoperations")


def action_and_scope(call: Call) -> tuple[str, str] | None:
    """None for requests every authenticated caller of the tenant may make (tenant-level provider metadata,
    operation polling), as ARM allows, and for those whose handler decides (a subscription and its lists answer
    according to the caller's role assignments in it, see `filtered_list`). A subscription's locations and
    provider registrations need read permission on the subscription itself."""
    a, m = call.arm, call.method
    tail = [t.lower() for t in a.tail]
    if filtered_list(call) is not None:
        return None
    if not a.parts:
        if a.subscription is not None and a.resource_group is None and tail in (["locations"], ["providers"]):
            return f"Microsoft.Resources/subscriptions/{tail[0]}/read", f"/subscriptions/{a.subscription}"
        if a.subscription is None or (a.resource_group is None and (not tail or set(tail) in _FREE_TAILS)):
            return None
        if a.resource_group is None and tail in (["resources"], ["resourcegroups"]):
            return None  # filtered to what the caller can read (refused when it holds nothing in the subscription)
        if a.resource_group is not None and not tail:
            return f"Microsoft.Resources/subscriptions/resourceGroups/{VERBS.get(m, 'read')}", a.scope_id
        return None
    last = a.parts[-1]
    if a.resource_group is None and len(a.parts) == 1:
        segs = [x.lower() for x in last.segments]
        if not segs and a.subscription is not None:  # a provider's registration in the subscription
            return "Microsoft.Resources/subscriptions/providers/read", f"/subscriptions/{a.subscription}"
        if not segs or (len(segs) == 4 and segs[0] == "locations" and segs[2] in _OPERATIONS):
            return None  # tenant-level provider metadata and operation polling
        if a.subscription is None and m in ("GET", "HEAD") and segs == ["operations"]:
            return None  # every provider's operations list, Microsoft.Authorization's too: any signed-in caller
        if a.subscription is None and m in ("GET", "HEAD") and last.namespace.lower() != "microsoft.authorization":
            return None  # tenant-level provider reads (webAppStacks …): any signed-in caller; unknown ones 404
        if segs == ["calculatetemplatehash"] and a.subscription is None:
            return None  # a pure function of the body: any authenticated caller
        if segs in (["register"], ["unregister"]):
            return f"{last.namespace}/{segs[0]}/action", a.scope_id
        if segs == ["checknameavailability"]:
            return f"{last.namespace}/checkNameAvailability/read", a.scope_id
    if a.is_collection:
        if m == "POST":  # an action on a resource: {type}/{action}/action at the resource
            resource = ids.ArmPath(a.subscription, a.resource_group,
                                   (*a.parts[:-1], ids.ProviderPart(last.namespace, last.segments[:-1])), a.tail)
            return f"{resource.resource_type}/{last.segments[-1]}/action", resource.id
        return f"{a.resource_type}/read", a.parent_id
    return f"{a.resource_type}/{VERBS.get(m, 'read')}", a.id


def filtered_list(call: Call) -> tuple[str, str] | None:
    """(action, scope) of a list ARM filters item by item rather than refusing: a group's `resources` and the
    lists of one type in a subscription or group. Its handler answers it all to a caller who may read the whole
    scope, only what the caller may read to one holding a role assignment somewhere in the scope, and refuses
    anyone else. Role assignment and definition lists (their provider filters them) and deployments are not
    among these."""
    a = call.arm
    if call.method != "GET" or a.subscription is None:
        return None
    if not a.parts:
        if a.resource_group is not None and [t.lower() for t in a.tail] == ["resources"]:
            return "Microsoft.Resources/subscriptions/resourceGroups/resources/read", a.scope_id
        return None
    if len(a.parts) != 1 or len(a.parts[0].segments) != 1:
        return None
    namespace, kind = a.parts[0].namespace.lower(), a.parts[0].segments[0].lower()
    if namespace == "microsoft.authorization" or (namespace == "microsoft.resources" and kind == "deployments"):
        return None
    return f"{a.resource_type}/read", a.parent_id
