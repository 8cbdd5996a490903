"""Graph's appRoleAssignment objects: an app role of a resource's service principal granted to a principal.

Graph reaches them from both ends: `/servicePrincipals/{principal}/appRoleAssignments` lists what a principal
holds, `/servicePrincipals/{resource}/appRoleAssignedTo` what has been granted on a resource. A grant names the
principal, the resource (here Microsoft Graph's principal, the only one with app roles) and the app role id.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import select

from arm_sim.core.errors import DomainError, bad_request
from arm_sim.db.models import GraphAppRoleAssignment, ServicePrincipal
from arm_sim.domain import events, graph_permissions
from arm_sim.domain.context import Ctx

Side = Literal["appRoleAssignments", "appRoleAssignedTo"]
Doc = dict[str, Any]
ENTITY = "AppRoleAssignment"


def _iso(epoch: float) -> str:
    # appRoleAssignment's createdDateTime has Graph's seven fractional digits
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def not_found(key: str) -> DomainError:
    return DomainError(404, "Request_ResourceNotFound", f"Resource '{key}' does not exist or one of its queried "
                                                        "reference-property objects are not present.")


def _guid(value: object) -> str | None:
    try:
        return str(uuid.UUID(value)) if isinstance(value, str) else None
    except ValueError:
        return None


def _invalid(prop: str) -> DomainError:
    return bad_request("Request_BadRequest", f"Invalid value specified for property '{prop}' of resource '{ENTITY}'.")


def principal(ctx: Ctx, tenant_id: str, object_id: str) -> ServicePrincipal:
    """A service principal of the caller's tenant, else Graph's 404."""
    key = _guid(object_id)
    sp = ctx.session.get(ServicePrincipal, key) if key else None
    if sp is None or sp.tenant_id != tenant_id:
        if key is None:
            raise bad_request("Request_BadRequest", f"Invalid object identifier '{object_id}'.")
        raise not_found(object_id)
    return sp


def _referenced(ctx: Ctx, tenant_id: str, object_id: str) -> ServicePrincipal:
    sp = ctx.session.get(ServicePrincipal, object_id)
    if sp is None or sp.tenant_id != tenant_id:  # Graph's answer for a link to an object it cannot find
        raise bad_request("Request_BadRequest", "Not a valid reference update.")
    return sp


def to_json(ctx: Ctx, row: GraphAppRoleAssignment) -> Doc:
    holder = ctx.session.get(ServicePrincipal, row.principal_id)
    resource = ctx.session.get(ServicePrincipal, row.resource_id)
    return {"id": row.id, "deletedDateTime": None, "appRoleId": row.app_role_id,
            "createdDateTime": _iso(row.created_at),
            "principalDisplayName": holder.display_name if holder else None, "principalId": row.principal_id,
            "principalType": "ServicePrincipal",
            "resourceDisplayName": resource.display_name if resource else None, "resourceId": row.resource_id}


def _column(side: Side) -> Any:
    return GraphAppRoleAssignment.principal_id if side == "appRoleAssignments" else GraphAppRoleAssignment.resource_id


def list_for(ctx: Ctx, sp: ServicePrincipal, side: Side) -> list[Doc]:
    rows = ctx.session.scalars(select(GraphAppRoleAssignment).where(_column(side) == sp.object_id)
                               .order_by(GraphAppRoleAssignment.created_at, GraphAppRoleAssignment.id))
    return [to_json(ctx, r) for r in rows]


def get(ctx: Ctx, sp: ServicePrincipal, side: Side, assignment_id: str) -> GraphAppRoleAssignment:
    row = ctx.session.get(GraphAppRoleAssignment, assignment_id)
    if row is None or getattr(row, _column(side).key) != sp.object_id:
        raise not_found(assignment_id)
    return row


def create(ctx: Ctx, sp: ServicePrincipal, side: Side, body: Any) -> Doc:
    """Grant an app role. From either end, the body names all three: principalId, resourceId, appRoleId; the
    principal the URL addresses must be one of the two the body names."""
    if not isinstance(body, dict):
        raise bad_request("Request_BadRequest", "A request body with principalId, resourceId and appRoleId is "
                                                "required.")
    found: dict[str, str] = {}
    for prop in ("principalId", "resourceId", "appRoleId"):
        value = next((v for k, v in body.items() if k.lower() == prop.lower()), None)
        if value is None:
            raise bad_request("Request_BadRequest", f"Required property '{prop}' of resource '{ENTITY}' is missing.")
        guid = _guid(value)
        if guid is None:
            raise _invalid(prop)
        found[prop] = guid
    # Graph takes a grant at either end's URL (seen on appRoleAssignedTo), but only at one of its two ends
    if sp.object_id not in (found["principalId"], found["resourceId"]):
        raise _invalid("principalId" if side == "appRoleAssignments" else "resourceId")
    holder, resource = (_referenced(ctx, sp.tenant_id, found[p]) for p in ("principalId", "resourceId"))
    role = graph_permissions.app_role(found["appRoleId"]) if graph_permissions.is_graph(resource) else None
    if role is None:
        raise bad_request("Request_BadRequest",
                          f"Permission being assigned was not found on application '{resource.app_id}'.")
    held = ctx.session.scalars(select(GraphAppRoleAssignment.id).where(
        GraphAppRoleAssignment.principal_id == holder.object_id,
        GraphAppRoleAssignment.resource_id == resource.object_id,
        GraphAppRoleAssignment.app_role_id == role.id)).first()
    if held is not None:
        raise bad_request("Request_BadRequest", "Permission being assigned already exists on the object")
    row = graph_permissions.add(ctx, holder, role)
    ctx.session.flush()
    return to_json(ctx, row)


def delete(ctx: Ctx, sp: ServicePrincipal, side: Side, assignment_id: str) -> None:
    row = get(ctx, sp, side, assignment_id)
    role = graph_permissions.app_role(row.app_role_id)
    ctx.session.delete(row)
    events.record(ctx, "graphPermission.revoked", row.principal_id, principalId=row.principal_id,
                  permission=role.value if role else None, appRoleId=row.app_role_id, appRoleAssignmentId=row.id)
