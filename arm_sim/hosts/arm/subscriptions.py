"""Subscriptions, tenants, locations and provider registrations."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from arm_sim.core.errors import not_found
from arm_sim.domain import events, rbac, tenancy
from arm_sim.domain.context import Ctx
from arm_sim.hosts.arm.call import Call
from arm_sim.hosts.http import json_response
from arm_sim.providers.catalog import LOCATIONS, NAMESPACES, location_doc, provider_doc
from arm_sim.resources import scope


def subscription_doc(sub: Any) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{sub.id}", "authorizationSource": "RoleBased", "managedByTenants": [],
        "subscriptionId": sub.id, "tenantId": sub.tenant_id, "displayName": sub.display_name,
        "state": sub.state, "tags": {},
        "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01",
                                 "spendingLimit": "Off"},
    }


def tenant_doc(t: Any) -> dict[str, Any]:
    return {"id": f"/tenants/{t.id}", "tenantId": t.id, "countryCode": "US", "displayName": t.display_name,
            "domains": [t.default_domain], "tenantCategory": "Home", "defaultDomain": t.default_domain,
            "tenantType": "AAD"}


def list_subscriptions(ctx: Ctx, call: Call) -> Response:
    tid = ctx.caller.tenant_id if ctx.caller else None
    subs = [subscription_doc(s) for s in tenancy.subscriptions(ctx)
            if s.tenant_id == tid and rbac.present(ctx, f"/subscriptions/{s.id}")]
    return json_response({"value": subs})


def get_subscription(ctx: Ctx, call: Call) -> Response:
    """A subscription where the caller holds no role assignment (at it, above or below) is not found, as in ARM."""
    sub_id = call.arm.subscription or ""
    sub = scope.subscription(ctx, sub_id)
    rbac.enforce_presence(ctx, "Microsoft.Resources/subscriptions/read", f"/subscriptions/{sub.id}",
                          scope.subscription_not_found(sub_id))
    return json_response(subscription_doc(sub))


def list_tenants(ctx: Ctx, call: Call) -> Response:
    tid = ctx.caller.tenant_id if ctx.caller else None
    return json_response({"value": [tenant_doc(t) for t in tenancy.tenants(ctx) if t.id == tid]})


def list_locations(ctx: Ctx, call: Call) -> Response:
    sub = scope.subscription(ctx, call.arm.subscription or "")
    return json_response({"value": [location_doc(sub.id, loc) for loc in LOCATIONS]})


def _namespace(name: str) -> str:
    for ns in NAMESPACES:
        if ns.lower() == name.lower():
            return ns
    raise not_found("InvalidResourceNamespace", f"The resource namespace '{name}' is invalid.")


def list_providers(ctx: Ctx, call: Call) -> Response:
    sub_id = call.arm.subscription
    off = set(scope.subscription(ctx, sub_id).unregistered_namespaces) if sub_id else set()
    return json_response({"value": [provider_doc(sub_id, ns, ns not in off) for ns in NAMESPACES]})


def get_provider(ctx: Ctx, call: Call, name: str) -> Response:
    ns = _namespace(name)
    sub_id = call.arm.subscription
    off = set(scope.subscription(ctx, sub_id).unregistered_namespaces) if sub_id else set()
    return json_response(provider_doc(sub_id, ns, ns not in off))


def register_provider(ctx: Ctx, call: Call, name: str, register: bool) -> Response:
    ns = _namespace(name)
    sub = scope.subscription(ctx, call.arm.subscription or "")
    others = [n for n in sub.unregistered_namespaces if n != ns]
    sub.unregistered_namespaces = others if register else [*others, ns]
    events.record(ctx, "provider.registered" if register else "provider.unregistered", f"/subscriptions/{sub.id}",
                  namespace=ns)
    return json_response(provider_doc(sub.id, ns, register))
