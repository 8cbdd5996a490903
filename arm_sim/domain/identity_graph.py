"""The identity graph as a learner wants to see it (`GET /_sim/graph`, `arm-sim graph`): each resource with its
principals (system-assigned, user-assigned), each principal's credentials and grants (role assignments, Key Vault
access-policy entries), the grants whose principal is gone (orphans, with what they named), and the lifecycle
invariants that must never break (a managed identity's principal and its resource live and die together).

Read-only: nothing here writes (a managed identity's first certificate is made at its first token request, and is
shown as not yet issued until then)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from arm_sim.core import ids
from arm_sim.db.models import Credential, Event, Resource, ServicePrincipal, Subscription, User
from arm_sim.domain import audit, managed_identities, rbac
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx

UAI_TYPE = "microsoft.managedidentity/userassignedidentities"
VAULT_TYPE = "microsoft.keyvault/vaults"


def principal_info(ctx: Ctx, object_id: str) -> dict[str, Any]:
    """Who an object id is (or was): display name, appId, type, the resource it belongs to; for a deleted
    principal when it was deleted and which resource it belonged to (from the event log)."""
    oid = object_id.lower()
    sp = ctx.session.get(ServicePrincipal, oid)
    if sp is not None:
        return {"objectId": sp.object_id, "exists": True, "displayName": sp.display_name, "appId": sp.app_id,
                "servicePrincipalType": sp.service_principal_type, "resourceId": _resource_of(sp)}
    user = ctx.session.get(User, oid)
    if user is not None:
        return {"objectId": user.object_id, "exists": True, "displayName": user.display_name,
                "servicePrincipalType": "User", "resourceId": None}
    out: dict[str, Any] = {"objectId": object_id, "exists": False}
    gone = ctx.session.scalars(select(Event).where(Event.kind == "servicePrincipal.deleted", Event.subject == oid)
                               .order_by(Event.seq.desc())).first()
    if gone is not None:
        details = gone.details or {}
        out |= {"deletedAt": iso(gone.at), "resourceId": details.get("resourceId"), "appId": details.get("clientId"),
                "displayName": str(details.get("resourceId") or "").rsplit("/", 1)[-1] or None}
    return out


def _resource_of(sp: ServicePrincipal) -> str | None:
    if sp.service_principal_type != "ManagedIdentity":
        return None
    return str(sp.alternative_names[1]) if len(sp.alternative_names) > 1 else None


def _role_name(ctx: Ctx, role_definition_id: str, scope: str) -> str:
    role = rbac.role_definition(ctx, role_definition_id, rbac.tenant_of_scope(ctx, scope))
    return role.role_name if role else "(deleted role)"


def policies_by_principal(session: Session, naming: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every vault's access-policy entries, by the (lower-cased) object id they name: `[{vault, vaultName,
    permissions}]`. Read by subscription, then type, which the (subscription_id, type_key, key) index answers (no
    index leads with the type). `naming`: only the vaults whose properties mention that object id (a principal's
    deletion asks; the database skips the others' JSON rather than this process decoding it)."""
    out: dict[str, list[dict[str, Any]]] = {}
    vaults = select(Resource).where(Resource.subscription_id.in_(select(Subscription.id)),
                                    Resource.type_key == VAULT_TYPE).order_by(Resource.key)
    if naming is not None:
        vaults = vaults.where(func.lower(cast(Resource.properties, Text)).contains(naming.lower(), autoescape=True))
    for vault in session.scalars(vaults):
        for entry in (vault.properties or {}).get("accessPolicies") or []:
            perms = {k: v for k, v in (entry.get("permissions") or {}).items() if v}
            out.setdefault(str(entry.get("objectId", "")).lower(), []).append(
                {"vault": vault.id, "vaultName": vault.name, "permissions": perms})
    return out


def _credentials(ctx: Ctx, sp: ServicePrincipal) -> list[dict[str, Any]]:
    if sp.service_principal_type == "ManagedIdentity":
        rows = managed_identities.certificates(ctx, sp)
        rolling = managed_identities.rolling_enabled(ctx)
    else:
        rows = list(ctx.session.scalars(select(Credential).where(Credential.app_id == sp.app_id)
                                        .order_by(Credential.start_at.desc())))
        rolling = False
    out = []
    for i, c in enumerate(rows):
        item: dict[str, Any] = {"keyId": c.key_id, "kind": c.kind, "thumbprint": c.thumbprint_sha1,
                                "notBefore": iso(c.start_at), "notAfter": iso(c.end_at),
                                "expired": c.end_at <= ctx.now}
        if sp.service_principal_type == "ManagedIdentity":
            item["signs"] = i == 0 and c.end_at > ctx.now  # the newest certificate signs the client assertion
            if i == 0 and rolling:
                item["nextRotation"] = iso(c.start_at + managed_identities.ROLL_AFTER)
        if c.kind == "password":
            item["hint"] = c.hint
        out.append(item)
    return out


def _principal(ctx: Ctx, object_id: str, kind: str, policies: dict[str, list[dict[str, Any]]],
               identity_id: str | None = None) -> dict[str, Any]:
    info = principal_info(ctx, object_id)
    out: dict[str, Any] = {"kind": kind, **info}
    if identity_id:
        out["identityId"] = identity_id
    sp = ctx.session.get(ServicePrincipal, object_id.lower())
    out["credentials"] = _credentials(ctx, sp) if sp is not None else []
    out["roleAssignments"] = [{"id": ra.id, "scope": ra.scope, "roleDefinitionId": ra.role_definition_id,
                               "roleName": _role_name(ctx, ra.role_definition_id, ra.scope)}
                              for ra in rbac.assignments_for(ctx, object_id)]
    out["accessPolicies"] = policies.get(object_id.lower(), [])
    return out


def _under(resource_id: str | None, scope: str | None) -> bool:
    if scope is None:
        return True
    rid, s = (resource_id or "").lower().rstrip("/"), scope.lower().rstrip("/")
    return rid == s or rid.startswith(s + "/")


def graph(ctx: Ctx, scope: str | None = None) -> dict[str, Any]:
    """Resources that carry an identity (and user-assigned identities) at or below `scope` (None: everything),
    each with its principals, their credentials and grants; then the orphaned grants there."""
    policies = policies_by_principal(ctx.session)
    resources = []
    rows = ctx.session.scalars(select(Resource).where(
        (Resource.identity.is_not(None)) | (Resource.type_key == UAI_TYPE)).order_by(Resource.key))
    for row in rows:
        if not _under(row.id, scope):
            continue
        identity = row.identity or {}
        principals = []
        if row.type_key == UAI_TYPE:
            oid = str((row.properties or {}).get("principalId") or "")
            if oid:
                principals.append(_principal(ctx, oid, "userAssigned", policies, row.id))
        else:
            if "systemassigned" in str(identity.get("type", "")).lower().replace(" ", "") and identity.get(
                    "principalId"):
                principals.append(_principal(ctx, str(identity["principalId"]), "systemAssigned", policies))
            for uai_id, ref in (identity.get("userAssignedIdentities") or {}).items():
                target = ctx.session.get(Resource, ids.key(uai_id))
                oid = str(((target.properties or {}) if target else {}).get("principalId")
                          or (ref or {}).get("principalId") or "")
                entry = _principal(ctx, oid, "userAssigned", policies, uai_id) if oid else {
                    "kind": "userAssigned", "identityId": uai_id, "exists": False}
                if target is None:
                    entry["dangling"] = True
                principals.append(entry)
        if principals or identity:
            resources.append({"id": row.id, "name": row.name, "type": row.type,
                              "identityType": identity.get("type") if row.type_key != UAI_TYPE else "UserAssigned",
                              "principals": principals})
    orphans = []
    for o in audit.orphaned_role_assignments(ctx):
        if _under(o["scope"], scope):
            orphans.append(o | {"roleName": _role_name(ctx, o["roleDefinitionId"], o["scope"]),
                                "principal": principal_info(ctx, o["principalId"])})
    for o in audit.orphaned_access_policies(ctx):
        if _under(o["vault"], scope):
            orphans.append(o | {"principalId": o["objectId"], "principal": principal_info(ctx, o["objectId"])})
    return {"scope": scope, "resources": resources, "orphans": orphans, "invariantViolations": violations(ctx, scope)}


def violations(ctx: Ctx, scope: str | None = None) -> list[dict[str, Any]]:
    """What must never be: a managed identity's principal without its resource, a resource naming a system-assigned
    principal that does not exist, or one whose principal names another resource. (Orphaned grants are no
    violation: Azure leaves them too.)"""
    out = []
    for sp in ctx.session.scalars(select(ServicePrincipal).where(
            ServicePrincipal.service_principal_type == "ManagedIdentity")):
        rid = _resource_of(sp)
        if not _under(rid, scope):
            continue
        row = ctx.session.get(Resource, ids.key(rid)) if rid else None
        if row is None:
            out.append({"kind": "principalWithoutResource", "principalId": sp.object_id, "resourceId": rid,
                        "message": f"principal {sp.object_id} outlived its resource {rid}"})
    for row in ctx.session.scalars(select(Resource).where(Resource.identity.is_not(None))):
        identity = row.identity or {}
        oid = identity.get("principalId")
        if not oid or not _under(row.id, scope) or "systemassigned" not in str(identity.get("type", "")).lower():
            continue
        owner = ctx.session.get(ServicePrincipal, str(oid).lower())
        if owner is None:
            out.append({"kind": "resourceWithoutPrincipal", "resourceId": row.id, "principalId": oid,
                        "message": f"{row.id} names principal {oid}, which does not exist"})
        elif (_resource_of(owner) or "").lower() != row.id.lower():
            out.append({"kind": "principalOfAnotherResource", "resourceId": row.id, "principalId": oid,
                        "message": f"{row.id} names principal {oid}, which belongs to {_resource_of(owner)}"})
    return out
