"""Azure RBAC decisions: who may perform which action at which scope.

Role assignments are ARM resources (written through ResourceService); the `role_assignments` table is
their index for decisions, kept by the Authorization provider's hooks in the same transaction.
Assignments are inherited downwards: a grant at a subscription covers its groups and their resources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select

from arm_sim.core import ids
from arm_sim.core.errors import DomainError
from arm_sim.db.engine import dbapi_connection
from arm_sim.db.models import Resource, RoleAssignment
from arm_sim.domain import events, tenancy
from arm_sim.domain.context import Ctx
from arm_sim.domain.rbac_builtins import BY_NAME, RoleDefinition, permits

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ROLE_DEFINITION_TYPE = "microsoft.authorization/roledefinitions"


def is_guid(value: str) -> bool:
    return bool(_GUID.match(value))


def ancestors(scope: str) -> frozenset[str]:
    """Keys of the scope and every scope above it: resource(s) -> resource group -> subscription -> root."""
    return _ancestors(scope)


@lru_cache(maxsize=8192)  # a pure function of the text, asked on every authorized call
def _ancestors(scope: str) -> frozenset[str]:
    segs = [x.lower() for x in ids.split(scope)]
    out, i = ["/"], 0
    if segs[:1] == ["subscriptions"] and len(segs) >= 2:
        i = 2
        out.append("/" + "/".join(segs[:i]))
        if len(segs) >= 4 and segs[2] == "resourcegroups":
            i = 4
            out.append("/" + "/".join(segs[:i]))
    while i < len(segs):
        i += 4 if segs[i] == "providers" else 2  # providers/{ns}/{type}/{name}, or a child's {type}/{name}
        if i > len(segs):
            break
        out.append("/" + "/".join(segs[:i]))
    return frozenset(out)


def role_guid(role_definition_id: str) -> str:
    """The GUID that names a role definition, from its full id or the bare GUID."""
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def tenant_of_scope(ctx: Ctx, scope: str) -> str | None:
    sub = ids.parse(scope).subscription if scope.strip("/") else None
    return tenancy.subscription_tenant(ctx, sub) if sub else None


def definition_rows(ctx: Ctx, guid: str, tenant_id: str | None) -> list[Resource]:
    """The custom role definitions named `guid` in the tenant (one, since ids are unique in a tenant)."""
    rows = ctx.session.scalars(select(Resource).where(Resource.type_key == ROLE_DEFINITION_TYPE,
                                                      func.lower(Resource.name) == guid.lower())).all()
    return [r for r in rows
            if tenant_id is None or tenancy.subscription_tenant(ctx, r.subscription_id or "") == tenant_id]


def role_definition(ctx: Ctx, role_definition_id: str, tenant_id: str | None = None) -> RoleDefinition | None:
    """A built-in role by GUID, or the custom role definition that `role_definition_id` references.

    A custom role's GUID is unique in its tenant, so the GUID (or a full id at any scope of the tenant) names one
    definition; a definition of another tenant is never the answer. Where an older database holds several rows
    of one GUID, only the exact id resolves, never a same-named copy elsewhere.
    """
    guid = role_guid(role_definition_id)
    builtin = BY_NAME.get(guid)
    if builtin is not None:
        return builtin
    rows = definition_rows(ctx, guid, tenant_id)
    exact = [r for r in rows if r.key == ids.key(role_definition_id)]
    row = exact[0] if exact else rows[0] if len(rows) == 1 else None
    return custom_from_properties(guid, row.properties) if row is not None else None


def assignable_at(role: RoleDefinition, scope: str) -> bool:
    """Whether `scope` is at or below one of the role's assignable scopes."""
    above = ancestors(scope)
    return any((ids.key(s) or "/") in above for s in role.assignable_scopes)


def custom_from_properties(guid: str, props: dict[str, Any]) -> RoleDefinition:
    perms = (props.get("permissions") or [{}])
    first: dict[str, Any] = perms[0] if perms else {}
    return RoleDefinition(
        name=guid, role_name=str(props.get("roleName", "")), description=str(props.get("description", "")),
        actions=tuple(first.get("actions") or ()), not_actions=tuple(first.get("notActions") or ()),
        data_actions=tuple(first.get("dataActions") or ()),
        not_data_actions=tuple(first.get("notDataActions") or ()),
        assignable_scopes=tuple(props.get("assignableScopes") or ()), role_type="CustomRole",
    )


@dataclass
class Decision:
    allowed: bool
    principal_id: str
    action: str
    scope: str
    granted_by: list[dict[str, str]] = field(default_factory=list)  # assignments that allow it
    considered: list[dict[str, str]] = field(default_factory=list)  # assignments that apply but do not

    def reason(self) -> str:
        if self.allowed:
            return "allowed by " + ", ".join(f"{a['roleName']} at {a['scope']}" for a in self.granted_by)
        if not self.considered:
            return "no role assignment for this principal at this scope or above"
        return "no assignment grants it; considered " + ", ".join(
            f"{a['roleName']} at {a['scope']}" for a in self.considered)


def assignments_for(ctx: Ctx, principal_id: str) -> list[RoleAssignment]:
    return list(ctx.session.scalars(select(RoleAssignment).where(RoleAssignment.principal_id == principal_id.lower())))


_OF_PRINCIPAL = "SELECT id, scope, scope_key, role_definition_id FROM role_assignments WHERE principal_id = "


def _applicable(ctx: Ctx, principal_id: str) -> list[tuple[str, str, str, str]]:
    """The principal's assignments: (id, scope, scope key, role definition id).

    Decisions run on every ARM call, so this is a bare DB-API query on the unit's own connection (it sees the
    unit's flushed writes), as the clock read is: SQLAlchemy's statement machinery costs more than the query.
    A unit that decides many times (a deployment checks every write) asks once: the answer is kept in the unit's
    memo until the unit itself writes a role assignment.
    """
    memo_key = (_MEMO, principal_id.lower())
    kept: list[tuple[str, str, str, str]] | None = ctx.memo.get(memo_key)
    if kept is not None:
        return kept
    marker = "?" if ctx.session.get_bind().dialect.paramstyle == "qmark" else "%s"
    ctx.session.flush()  # the raw cursor sees only what was flushed (a no-op when nothing is pending)
    cursor = dbapi_connection(ctx.session).cursor()
    try:
        cursor.execute(_OF_PRINCIPAL + marker, (principal_id.lower(),))
        rows = list(cursor.fetchall())
    finally:
        cursor.close()
    ctx.memo[memo_key] = rows
    return rows


_MEMO = "rbac.applicable"


def _forget(ctx: Ctx) -> None:
    for k in [k for k in ctx.memo if isinstance(k, tuple) and k[0] == _MEMO]:
        del ctx.memo[k]


def decide(ctx: Ctx, principal_id: str, action: str, scope: str, data: bool = False) -> Decision:
    decision = Decision(False, principal_id, action, scope)
    above = ancestors(scope)
    for ra_id, ra_scope, scope_key, role_id in _applicable(ctx, principal_id):
        if scope_key not in above:
            continue
        role = role_definition(ctx, role_id, tenant_of_scope(ctx, ra_scope))
        entry = {"id": ra_id, "scope": ra_scope, "roleDefinitionId": role_id,
                 "roleName": role.role_name if role else "(deleted role)"}
        # a definition narrowed after the assignment was made grants nothing where it is no longer assignable
        if role is not None and assignable_at(role, ra_scope) and permits(role, action, data):
            decision.allowed = True
            decision.granted_by.append(entry)
        else:
            decision.considered.append(entry)
    return decision


def index_assignment(ctx: Ctx, doc: dict[str, Any]) -> None:
    """Keep the decision index in step with a role-assignment resource."""
    _forget(ctx)
    props = doc["properties"]
    key = ids.key(doc["id"])
    row = ctx.session.get(RoleAssignment, key)
    if row is None:
        row = RoleAssignment(key=key, id=doc["id"], name=doc["name"], created_at=ctx.now)
        ctx.session.add(row)
    row.scope, row.scope_key = props["scope"], ids.key(props["scope"]) or "/"
    row.role_definition_id, row.principal_id = props["roleDefinitionId"], str(props["principalId"]).lower()
    row.principal_type = props.get("principalType") or "ServicePrincipal"
    row.properties = {k: props.get(k) for k in ("condition", "conditionVersion", "description")}
    row.updated_at, row.created_by, row.updated_by = ctx.now, props.get("createdBy"), props.get("updatedBy")


def unindex_assignment(ctx: Ctx, assignment_id: str) -> None:
    _forget(ctx)
    row = ctx.session.get(RoleAssignment, ids.key(assignment_id))
    if row is not None:
        ctx.session.delete(row)


def find_assignment(ctx: Ctx, principal_id: str, role_guid: str, scope: str) -> RoleAssignment | None:
    """The assignment of this principal + role at exactly this scope, whatever its name."""
    for ra in assignments_for(ctx, principal_id):
        if ra.scope_key == (ids.key(scope) or "/") and ra.role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower() \
                == role_guid.lower():
            return ra
    return None


def assignments_of_role(ctx: Ctx, role_guid: str) -> list[RoleAssignment]:
    rows = ctx.session.scalars(select(RoleAssignment)).all()
    return [r for r in rows if r.role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower() == role_guid.lower()]


def custom_definitions(ctx: Ctx) -> list[dict[str, Any]]:
    rows = ctx.session.scalars(select(Resource).where(Resource.type_key == ROLE_DEFINITION_TYPE)).all()
    return [{"id": r.id, "name": r.name, "type": r.type, "properties": r.properties,
             "subscriptionId": r.subscription_id} for r in rows]


def list_assignments(ctx: Ctx, scope: str, at_scope: bool, principal_id: str | None) -> list[dict[str, Any]]:
    scope_key = ids.key(scope) or "/"
    above = ancestors(scope)
    q = select(RoleAssignment).order_by(RoleAssignment.key)
    if principal_id:
        q = q.where(RoleAssignment.principal_id == principal_id.lower())
    out = []
    for ra in ctx.session.scalars(q):
        inside = ra.scope_key == scope_key or ra.scope_key.startswith(scope_key.rstrip("/") + "/")
        if ra.scope_key in above or (inside and not at_scope):
            row = ctx.session.get(Resource, ra.key)
            if row is not None:
                out.append({"id": row.id, "name": row.name, "type": row.type, "properties": row.properties})
    return out


def enforce(ctx: Ctx, action: str, scope: str, *, linked_from: tuple[str, str] | None = None) -> Decision | None:
    """Refuse the caller (403) unless an assignment grants `action` at `scope`, per ARM_SIM_RBAC.

    `linked_from` = (action, scope) of the request that needs this linked permission, e.g. writing a VM
    that names a user-assigned identity needs assign/action on the identity (LinkedAuthorizationFailed).
    Internal work (no caller) and ARM_SIM_RBAC=off are not checked; audit records would-be denials.
    """
    mode = ctx.settings.rbac
    if ctx.caller is None or mode == "off":
        return None
    decision = decide(ctx, ctx.caller.object_id, action, scope)
    if decision.allowed:
        return decision
    details = {"principalId": decision.principal_id, "action": action, "scope": scope,
               "reason": decision.reason(), "considered": decision.considered, "mode": mode}
    events.record_refusal(ctx, "access.denied" if mode == "enforce" else "access.audited", scope, **details)
    if mode == "audit":
        return decision
    if linked_from is not None:
        client, oid = ctx.caller.client_id, ctx.caller.object_id
        raise DomainError(
            403, "LinkedAuthorizationFailed",
            f"The client '{client}' with object id '{oid}' has permission to perform action '{linked_from[0]}' on "
            f"scope '{linked_from[1]}'; however, it does not have permission to perform action(s) '{action}' on the "
            f"linked scope(s) '{scope}' (respectively) or the linked scope(s) are invalid.")
    raise authorization_failed(ctx, action, scope)


def authorization_failed(ctx: Ctx, action: str, scope: str) -> DomainError:
    client, oid = (ctx.caller.client_id, ctx.caller.object_id) if ctx.caller else ("", "")
    return DomainError(
        403, "AuthorizationFailed",
        f"The client '{client}' with object id '{oid}' does not have authorization to perform action '{action}' over "
        f"scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.")


def visible(ctx: Ctx, action: str, scope: str) -> bool:
    """Whether the caller may read `scope` (lists show only what the caller can see)."""
    if ctx.caller is None or ctx.settings.rbac != "enforce":
        return True
    return decide(ctx, ctx.caller.object_id, action, scope).allowed


def reaches(ctx: Ctx, principal_id: str, scope: str) -> bool:
    """Whether the principal holds any role assignment at `scope`, above it or anywhere below it.

    ARM shows a subscription only to such a principal (a Reader on one of its groups sees it), and filters that
    principal's subscription-wide lists item by item; to anyone else the subscription does not exist."""
    above = ancestors(scope)
    inside = (ids.key(scope) or "/").rstrip("/") + "/"
    return any(k in above or k.startswith(inside) for _, _, k, _ in _applicable(ctx, principal_id))


def present(ctx: Ctx, scope: str) -> bool:
    """Whether the caller may see `scope` at all (lists of subscriptions show only these)."""
    if ctx.caller is None or ctx.settings.rbac != "enforce":
        return True
    return reaches(ctx, ctx.caller.object_id, scope)


def enforce_presence(ctx: Ctx, action: str, scope: str, refusal: DomainError | None = None) -> None:
    """Refuse a caller with no role assignment at, above or below `scope`, per ARM_SIM_RBAC: with `refusal`
    (GET of a subscription answers 404 SubscriptionNotFound), else 403 AuthorizationFailed on `action`."""
    mode = ctx.settings.rbac
    if ctx.caller is None or mode == "off" or reaches(ctx, ctx.caller.object_id, scope):
        return
    events.record_refusal(ctx, "access.denied" if mode == "enforce" else "access.audited", scope,
                          principalId=ctx.caller.object_id, action=action, scope=scope,
                          reason="no role assignment for this principal at, above or below this scope",
                          considered=[], mode=mode)
    if mode == "enforce":
        raise refusal if refusal is not None else authorization_failed(ctx, action, scope)
