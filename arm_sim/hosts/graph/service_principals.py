"""Graph's service principal writes: POST /servicePrincipals (from an application's appId), PATCH and DELETE
/servicePrincipals/{id} (or (appId='…')). Reads and appRoleAssignments live elsewhere (routes.py, app_roles.py)."""

from __future__ import annotations

from arm_sim.domain import app_role_assignments, directory, directory_apps, graph, graph_permissions
from arm_sim.hosts.graph.writes import Answer, Write


def handle(w: Write) -> Answer | None:
    if w.rest:
        return None
    if w.method == "POST" and not w.addressed:
        graph_permissions.require(w.caller.claims, graph_permissions.WRITE_APPLICATIONS)
        sp = directory_apps.create_service_principal(w.ctx, w.caller.tenant_id, w.json_body())
        return 201, w.entity("servicePrincipals", graph.get(w.ctx, graph.SERVICE_PRINCIPALS, sp.tenant_id,
                                                            object_id=sp.object_id))
    if not w.addressed or w.method not in ("PATCH", "DELETE"):
        return None
    graph_permissions.require(w.caller.claims, graph_permissions.WRITE_APPLICATIONS)
    if w.key is not None:
        sp = app_role_assignments.principal(w.ctx, w.caller.tenant_id, w.key)
    else:
        found = directory.service_principal_by_app_id(w.ctx, w.app_id or "", w.caller.tenant_id)
        if found is None:
            raise graph.not_found(w.app_id or "")
        sp = found
    directory_apps.guard_administrator(w.ctx, sp.app_id, w.caller, w.method)
    if w.method == "PATCH":
        directory_apps.update_service_principal(w.ctx, sp, w.json_body())
    else:
        directory_apps.delete_service_principal(w.ctx, sp)
    return 204, None
