"""A service principal's deletion, one path for managed identities and applications' principals alike: the
`servicePrincipal.deleted` event, then one `grant.orphaned` per grant that still names it (a role assignment, a Key
Vault access-policy entry: Azure leaves them behind), all in the deletion's own transaction, so a deletion that is
rolled back leaves no event and the log keeps what was orphaned even once the grant itself is gone."""

from __future__ import annotations

from arm_sim.db.models import ServicePrincipal
from arm_sim.domain import events, rbac
from arm_sim.domain.context import Ctx
from arm_sim.domain.tokens import revocation


def owning_resource(sp: ServicePrincipal) -> str | None:
    """The resource a managed identity's principal belongs to (its second alternative name), else None."""
    if sp.service_principal_type != "ManagedIdentity" or len(sp.alternative_names or []) < 2:
        return None
    return str(sp.alternative_names[1])


def delete(ctx: Ctx, sp: ServicePrincipal, reason: str) -> None:
    resource_id = owning_resource(sp)
    events.record(ctx, "servicePrincipal.deleted", sp.object_id, principalId=sp.object_id, clientId=sp.app_id,
                  servicePrincipalType=sp.service_principal_type, resourceId=resource_id, reason=reason)
    record_orphaned(ctx, sp.object_id, resource_id)
    ctx.session.delete(sp)
    revocation.forget(ctx, sp.object_id)


def record_orphaned(ctx: Ctx, principal_id: str, resource_id: str | None) -> int:
    """One `grant.orphaned` per grant naming `principal_id`, which this unit deletes (`resource_id`: the resource
    that owned it, if any). Returns how many. Both reads are answered by an index (role assignments by principal;
    vaults by subscription, then type), so a deletion pays no scan."""
    # imported here: the identity graph reads managed identities, whose deletion comes through this module
    from arm_sim.domain.identity_graph import policies_by_principal

    oid = principal_id.lower()
    count = 0
    for ra in rbac.assignments_for(ctx, oid):
        role = rbac.role_definition(ctx, ra.role_definition_id, rbac.tenant_of_scope(ctx, ra.scope))
        events.record(ctx, "grant.orphaned", ra.id, principalId=oid, grant="roleAssignment",
                      role=role.role_name if role else rbac.role_guid(ra.role_definition_id), scope=ra.scope,
                      roleDefinitionId=ra.role_definition_id, resourceId=resource_id)
        count += 1
    for entry in policies_by_principal(ctx.session, naming=oid).get(oid, []):
        events.record(ctx, "grant.orphaned", entry["vault"], principalId=oid, grant="accessPolicy",
                      permissions=entry["permissions"], vault=entry["vault"], vaultName=entry["vaultName"],
                      resourceId=resource_id)
        count += 1
    return count
