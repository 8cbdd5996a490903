"""Graph's user writes: POST /users and DELETE /users/{id or userPrincipalName}. Reads go through the generic
entity-set code in routes.py (with READ_USERS), which resolves a userPrincipalName key with `object_id`."""

from __future__ import annotations

from arm_sim.domain import directory_users, graph, graph_permissions
from arm_sim.domain.context import Ctx
from arm_sim.hosts.graph.writes import Answer, Write


def object_id(ctx: Ctx, tenant_id: str, key: str) -> str:
    """/users/{key}: an object id as given (the read checks it), a userPrincipalName resolved to its user's id."""
    return directory_users.find(ctx, tenant_id, key).object_id if "@" in key else key


def handle(w: Write) -> Answer | None:
    if w.rest or w.app_id is not None:
        return None
    if w.method == "POST" and w.key is None:
        graph_permissions.require(w.caller.claims, graph_permissions.WRITE_USERS)
        user = directory_users.create(w.ctx, w.caller.tenant_id, w.json_body())
        return 201, w.entity("users", graph.get(w.ctx, graph.USERS, user.tenant_id, object_id=user.object_id))
    if w.method == "DELETE" and w.key is not None:
        graph_permissions.require(w.caller.claims, graph_permissions.DELETE_USERS)
        directory_users.delete(w.ctx, directory_users.find(w.ctx, w.caller.tenant_id, w.key))
        return 204, None
    return None
