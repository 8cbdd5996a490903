"""Graph's application writes: POST /applications, PATCH and DELETE /applications/{id} (or (appId='…')),
POST …/addPassword and …/removePassword. Reads stay with the generic entity-set code in routes.py."""

from __future__ import annotations

from arm_sim.domain import directory_apps, graph, graph_permissions
from arm_sim.hosts.graph.writes import Answer, Write


def handle(w: Write) -> Answer | None:
    """Graph's answer, or None for a request this module does not serve (the caller refuses it)."""
    action = w.rest[0].lower() if len(w.rest) == 1 else None
    if len(w.rest) > 1 or (w.rest and action not in ("addpassword", "removepassword")):
        return None
    if w.method == "POST" and not w.addressed:
        graph_permissions.require(w.caller.claims, graph_permissions.WRITE_APPLICATIONS)
        app = directory_apps.create_application(w.ctx, w.caller.tenant_id, w.json_body())
        return 201, w.entity("applications", graph.get(w.ctx, graph.APPLICATIONS, app.tenant_id,
                                                       object_id=app.object_id))
    if not w.addressed or (w.method, action) not in (("PATCH", None), ("DELETE", None), ("POST", "addpassword"),
                                                     ("POST", "removepassword")):
        return None
    graph_permissions.require(w.caller.claims, graph_permissions.WRITE_APPLICATIONS)
    app = directory_apps.application(w.ctx, w.caller.tenant_id, object_id=w.key, app_id=w.app_id)
    directory_apps.guard_administrator(w.ctx, app.app_id, w.caller, w.method)
    if w.method == "PATCH":
        directory_apps.update_application(w.ctx, app, w.json_body())
        return 204, None
    if w.method == "DELETE":
        directory_apps.delete_application(w.ctx, app)
        return 204, None
    if action == "addpassword":
        created = directory_apps.add_password(w.ctx, app, w.json_body())
        return 200, {"@odata.context": f"{w.base}/v1.0/$metadata#microsoft.graph.passwordCredential", **created}
    directory_apps.remove_password(w.ctx, app, w.json_body())
    return 204, None
