"""The identity block: one reconciler for every resource type that carries `identity`.

It turns the requested block (PUT replaces, PATCH merges) into the stored one, creates the system-assigned
principal when SystemAssigned is enabled, deletes it when disabled or when the resource goes, and checks
that every user-assigned identity exists. All of it happens in the caller's transaction, so a resource and
its principal commit together or not at all (DESIGN.md §3).
"""

from __future__ import annotations

from typing import Any

from arm_sim.core import ids
from arm_sim.core.errors import DomainError, bad_request
from arm_sim.core.identity_types import BOTH_NO_SPACE, parse_type, type_name
from arm_sim.db.models import Resource
from arm_sim.domain import managed_identities, rbac, tenancy
from arm_sim.domain.context import Ctx

UAI_TYPE = "microsoft.managedidentity/userassignedidentities"
ASSIGN_ACTION = "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"


def _requested(before: dict[str, Any] | None, body: Any, patch: bool) -> tuple[bool, bool, dict[str, Any]]:
    """The wanted (system, user, user-assigned ids) after applying the request to what exists."""
    if body is not None and not isinstance(body, dict):
        raise bad_request("BadRequest", "The 'identity' property must be an object.")
    old_system, old_user = parse_type((before or {}).get("type"))
    old_uais = dict((before or {}).get("userAssignedIdentities") or {})
    if body is None:
        return (old_system, old_user, old_uais) if patch else (False, False, {})
    system, user = parse_type(body.get("type")) if "type" in body else (old_system, old_user)
    asked = body.get("userAssignedIdentities")
    if asked is not None and not isinstance(asked, dict):
        raise bad_request("BadRequest", "'userAssignedIdentities' must be an object keyed by identity resource id.")
    uais: dict[str, Any] = {}
    if user:
        base = old_uais if patch else {}
        merged = {ids.key(k): (k, v) for k, v in base.items()}
        for k, v in (asked or {}).items():
            if v is None:
                merged.pop(ids.key(k), None)  # merge-patch: null removes one entry
            else:
                merged[ids.key(k)] = (merged.get(ids.key(k), (k, {}))[0], {})
        uais = {k: v for k, v in merged.values()}
    elif asked:
        raise bad_request("BadRequest", "'userAssignedIdentities' may only be given when the identity type includes "
                                        "'UserAssigned'.")
    if user and not uais:
        raise bad_request("BadRequest", "The identity type includes 'UserAssigned' but no user-assigned identity is "
                                        "listed in 'userAssignedIdentities'.")
    return system, user, uais


def _user_assigned(ctx: Ctx, resource_id: str, uais: dict[str, Any],
                   before: dict[str, Any]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    kept = {ids.key(k): v for k, v in before.items()}
    for uai_id in uais:
        row = ctx.session.get(Resource, ids.key(uai_id))
        if row is None or row.type_key != UAI_TYPE:
            if ids.key(uai_id) in kept:  # a reference to an identity deleted since: kept as it was
                out[uai_id] = kept[ids.key(uai_id)]
                continue
            raise DomainError(
                400, "FailedIdentityOperation",
                f"Identity operation for resource '{resource_id}' failed with error 'Resource '{uai_id}' was not "
                "found.'.", target="identity.userAssignedIdentities")
        if ids.key(uai_id) not in kept:  # assigning an identity needs Managed Identity Operator on it
            rbac.enforce(ctx, ASSIGN_ACTION, row.id,
                         linked_from=(f"{ids.parse(resource_id).resource_type}/write", resource_id))
        out[uai_id] = {"principalId": row.properties["principalId"], "clientId": row.properties["clientId"]}
    return out


def reconcile(ctx: Ctx, resource_id: str, name: str, before: dict[str, Any] | None, body: Any, *, patch: bool,
              both: str = BOTH_NO_SPACE) -> dict[str, Any] | None:
    """The identity block to store for a PUT (patch=False) or PATCH of the resource."""
    system, user, uais = _requested(before, body, patch)
    old_principal = (before or {}).get("principalId")
    if not system and not user:
        if old_principal:
            managed_identities.delete_principal(ctx, old_principal, "system-assigned identity disabled")
        return None
    out: dict[str, Any] = {"type": type_name(system, user, both)}
    if system:
        tenant_id = tenancy.subscription_tenant(ctx, ids.parse(resource_id).subscription or "") or ""
        if old_principal and managed_identities.exists(ctx, old_principal):
            out["principalId"], out["tenantId"] = old_principal, (before or {}).get("tenantId", tenant_id)
        else:
            sp = managed_identities.create_principal(ctx, tenant_id, name, resource_id, explicit=False)
            out["principalId"], out["tenantId"] = sp.object_id, tenant_id
    elif old_principal:
        managed_identities.delete_principal(ctx, old_principal, "system-assigned identity disabled")
    if user:
        out["userAssignedIdentities"] = _user_assigned(ctx, resource_id, uais,
                                                       (before or {}).get("userAssignedIdentities") or {})
    return out


def release(ctx: Ctx, identity: dict[str, Any] | None) -> None:
    """The resource is going: its system-assigned principal goes with it; grants naming it stay (orphans)."""
    principal = (identity or {}).get("principalId")
    if principal:
        managed_identities.delete_principal(ctx, principal, "resource deleted")
