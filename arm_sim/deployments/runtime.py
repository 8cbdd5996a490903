"""What `reference()`, `list*()` and the scope functions read: the simulator's live state, through the same
service calls a REST client's GET and POST go through (and the same RBAC checks).
"""

from __future__ import annotations

from typing import Any

from arm_sim.core import ids
from arm_sim.db.models import Tenant
from arm_sim.deployments import store
from arm_sim.deployments.store import Target
from arm_sim.domain import rbac, tenancy
from arm_sim.domain.context import Ctx
from arm_sim.resources import groups, scope, service

HIDDEN = ("etag", "systemData")  # what `reference(…, 'Full')` leaves out of the GET body


def resource_group_doc(ctx: Ctx, target: Target) -> dict[str, Any]:
    return groups.to_doc(scope.resource_group(ctx, target.subscription_id, target.resource_group or ""))


def subscription_doc(ctx: Ctx, subscription_id: str) -> dict[str, Any]:
    sub = scope.subscription(ctx, subscription_id)
    return {"id": f"/subscriptions/{sub.id}", "subscriptionId": sub.id, "tenantId": sub.tenant_id,
            "displayName": sub.display_name}


def tenant_doc(ctx: Ctx, subscription_id: str) -> dict[str, Any]:
    tid = tenancy.subscription_tenant(ctx, subscription_id) or ""
    tenant = ctx.session.get(Tenant, tid)
    return {"countryCode": "US", "displayName": tenant.display_name if tenant else "", "id": f"/tenants/{tid}",
            "tenantId": tid}


def deployer_doc(ctx: Ctx) -> dict[str, Any]:
    caller = ctx.caller
    return {"objectId": caller.object_id if caller else "", "tenantId": caller.tenant_id if caller else "",
            "userPrincipalName": ""}


def is_deployment(resource_id: str) -> bool:
    path = ids.parse(resource_id)
    return bool(path.parts) and path.resource_type.lower() == store.DEPLOYMENT_TYPE.lower()


def read(ctx: Ctx, resource_id: str, api_version: str, full: bool, template_resource: bool) -> Any:
    """GET the resource as `api_version` shows it: its `properties`, or the whole body with 'Full'."""
    path = ids.parse(resource_id)
    if len(path.parts) == 1 and path.resource_type.lower() == "microsoft.resources/resourcegroups" and \
            len(path.parts[0].segments) == 2:  # subscriptionResourceId('Microsoft.Resources/resourceGroups', …)
        path = ids.ArmPath(path.subscription, path.parts[0].segments[1], (), ())
    if not path.parts and path.resource_group:  # a resource group (subscription-scope templates create them)
        rbac.enforce(ctx, "Microsoft.Resources/subscriptions/resourceGroups/read", resource_id)
        shown = groups.to_doc(groups.get(ctx, path.subscription or "", path.resource_group))
    elif is_deployment(resource_id):
        rbac.enforce(ctx, "Microsoft.Resources/deployments/read", resource_id)
        row = store.get(ctx, resource_id)
        if row is None:
            raise store.not_found_error(path.name)
        shown = store.render(row)
    else:
        rbac.enforce(ctx, f"{path.resource_type}/read", resource_id)
        shown = service.render(ctx, service.get(ctx, path), api_version)
    if not full:
        return shown.get("properties", {})
    out = {k: v for k, v in shown.items() if k not in HIDDEN}
    out.update({"apiVersion": api_version, "resourceId": shown.get("id", resource_id),
                "referenceApiVersion": api_version, "subscriptionId": path.subscription,
                "resourceGroupName": path.resource_group, "condition": True, "isConditionTrue": True,
                "isTemplateResource": template_resource, "isAction": False, "provisioningOperation": "Read"})
    return out


def invoke(ctx: Ctx, resource_id: str, action: str, api_version: str, body: Any) -> Any:
    """POST `{id}/{action}` (listKeys, listSecrets …) answered by the resource's provider, as REST would."""
    path = ids.parse(f"{resource_id.rstrip('/')}/{action}")
    target = ids.parse(resource_id)
    rbac.enforce(ctx, f"{target.resource_type}/{action}/action", resource_id)
    _, result = service.action(ctx, path, body if body is not None else {}, api_version)
    return result.body
