"""Graph's appRoleAssignment routes under a service principal: list, grant, read and revoke, from either end.

`/servicePrincipals/{id}/appRoleAssignments[/{assignmentId}]` is what principal `id` holds;
`/servicePrincipals/{id}/appRoleAssignedTo[/{assignmentId}]` is what was granted on resource `id`.
Reads need a permission that reads applications; a grant needs AppRoleAssignment.ReadWrite.All and one of
those; a revocation AppRoleAssignment.ReadWrite.All (Graph's permission tables).
"""

from __future__ import annotations

from typing import Any

from arm_sim.core.errors import bad_request
from arm_sim.domain import app_role_assignments, graph_permissions
from arm_sim.domain.app_role_assignments import Side
from arm_sim.domain.context import Caller, Ctx

SIDES: dict[str, Side] = {"approleassignments": "appRoleAssignments", "approleassignedto": "appRoleAssignedTo"}
INVALID_JSON = ("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of "
                "valid JSON format.")


def _check(caller: Caller, method: str) -> None:
    if caller.claims.get("idtyp") != "app" and "scp" in caller.claims:
        return
    roles = caller.claims.get("roles")
    if method in ("POST", "DELETE"):
        graph_permissions.require_any(roles, graph_permissions.MANAGE_APP_ROLE_ASSIGNMENTS)
    if method != "DELETE":
        graph_permissions.require_any(roles, graph_permissions.READ_APPLICATIONS)


def handle(ctx: Ctx, caller: Caller, method: str, sp_id: str, side: Side, assignment_id: str | None,
           body: Any, body_error: str | None, base: str) -> tuple[int, dict[str, object] | None]:
    """(status, body) of one call; raises DomainError for Graph's errors."""
    _check(caller, method)
    sp = app_role_assignments.principal(ctx, caller.tenant_id, sp_id)
    context = f"{base}/v1.0/$metadata#servicePrincipals('{sp.object_id}')/{side}"
    if method == "GET" and assignment_id is None:
        return 200, {"@odata.context": context, "value": app_role_assignments.list_for(ctx, sp, side)}
    if method == "GET" and assignment_id is not None:
        row = app_role_assignments.get(ctx, sp, side, assignment_id)
        return 200, {"@odata.context": f"{context}/$entity", **app_role_assignments.to_json(ctx, row)}
    if method == "POST" and assignment_id is None:
        if body_error:
            raise bad_request("BadRequest", INVALID_JSON)
        created = app_role_assignments.create(ctx, sp, side, body)
        return 201, {"@odata.context": f"{base}/v1.0/$metadata#appRoleAssignments/$entity", **created}
    if method == "DELETE" and assignment_id is not None:
        app_role_assignments.delete(ctx, sp, side, assignment_id)
        return 204, None
    raise bad_request("Request_BadRequest", f"arm-sim does not simulate {method} on servicePrincipals/{{id}}/{side}"
                                            f"{'/{id}' if assignment_id else ''}.")
