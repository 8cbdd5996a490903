"""What the lifecycle leaves behind: orphaned grants, dangling identity references, expired credentials."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from arm_sim.core import ids
from arm_sim.db.models import Event, Resource, RoleAssignment, ServicePrincipal, User, Vault
from arm_sim.domain import managed_identities
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx

UAI_TYPE = "microsoft.managedidentity/userassignedidentities"
VAULT_TYPE = "microsoft.keyvault/vaults"


def _deleted_at(ctx: Ctx, principal_id: str) -> str | None:
    row = ctx.session.scalars(select(Event).where(Event.kind == "servicePrincipal.deleted",
                                                  Event.subject == principal_id)).first()
    return iso(row.at) if row is not None else None


def _principals(ctx: Ctx) -> set[str]:
    """Object ids grants may name: service principals and users (Graph-created users are principals too)."""
    return {*ctx.session.scalars(select(ServicePrincipal.object_id)), *ctx.session.scalars(select(User.object_id))}


def orphaned_role_assignments(ctx: Ctx) -> list[dict[str, Any]]:
    known = _principals(ctx)
    out = []
    for ra in ctx.session.scalars(select(RoleAssignment).order_by(RoleAssignment.key)):
        if ra.principal_id not in known:
            out.append({"kind": "roleAssignment", "id": ra.id, "scope": ra.scope, "principalId": ra.principal_id,
                        "roleDefinitionId": ra.role_definition_id, "principalDeletedAt": _deleted_at(ctx,
                                                                                                     ra.principal_id)})
    return out


def orphaned_access_policies(ctx: Ctx) -> list[dict[str, Any]]:
    """Key Vault access-policy entries naming a principal that no longer exists, in active vaults and in
    soft-deleted ones (recover brings their policies back)."""
    known = {oid.lower() for oid in _principals(ctx)}
    holders: list[tuple[str, str, str, dict[str, Any]]] = [
        (row.id, row.name, "active", row.properties or {})
        for row in ctx.session.scalars(select(Resource).where(Resource.type_key == VAULT_TYPE).order_by(Resource.key))]
    holders += [(v.resource_id, (v.snapshot or {}).get("name") or v.name, "deleted",
                 (v.snapshot or {}).get("properties") or {})
                for v in ctx.session.scalars(select(Vault).where(Vault.state == "deleted").order_by(Vault.name))]
    out = []
    for vault_id, vault_name, state, props in holders:
        for entry in props.get("accessPolicies") or []:
            object_id = str(entry.get("objectId", ""))
            if object_id.lower() not in known:
                out.append({"kind": "accessPolicy", "vault": vault_id, "vaultName": vault_name, "vaultState": state,
                            "objectId": object_id, "tenantId": entry.get("tenantId"),
                            "permissions": entry.get("permissions") or {},
                            "principalDeletedAt": _deleted_at(ctx, object_id.lower())})
    return out


def dangling_identity_references(ctx: Ctx) -> list[dict[str, Any]]:
    out = []
    for row in ctx.session.scalars(select(Resource).where(Resource.identity.is_not(None))):
        for uai_id in ((row.identity or {}).get("userAssignedIdentities") or {}):
            target = ctx.session.get(Resource, ids.key(uai_id))
            if target is None or target.type_key != UAI_TYPE:
                out.append({"kind": "userAssignedIdentityReference", "resourceId": row.id, "identityId": uai_id})
    return out


def expired_credentials(ctx: Ctx) -> list[dict[str, Any]]:
    out = []
    for sp in ctx.session.scalars(select(ServicePrincipal).where(
            ServicePrincipal.service_principal_type == "ManagedIdentity")):
        certs = managed_identities.certificates(ctx, sp)
        if certs and certs[0].end_at <= ctx.now:
            out.append({"kind": "expiredCredential", "principalId": sp.object_id, "clientId": sp.app_id,
                        "keyId": certs[0].key_id, "expiredAt": iso(certs[0].end_at),
                        "resourceId": sp.alternative_names[1] if len(sp.alternative_names) > 1 else None})
    return out


def report(ctx: Ctx) -> dict[str, list[dict[str, Any]]]:
    return {
        "orphanedRoleAssignments": orphaned_role_assignments(ctx),
        "orphanedAccessPolicies": orphaned_access_policies(ctx),
        "danglingUserAssignedIdentities": dangling_identity_references(ctx),
        "expiredCredentials": expired_credentials(ctx),
    }
