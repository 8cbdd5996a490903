"""Graph's `/applications/{id}/federatedIdentityCredentials[/{id or name}]` (also under `applications(appId='…')`
and as `federatedIdentityCredentials(name='…')`): list, create, get, update, delete; what `az ad app
federated-credential` sends. Reading needs Application.Read.All or Application.ReadWrite.All, writing
Application.ReadWrite.All (domain/app_federated_credentials.py says where each comes from)."""

from __future__ import annotations

import re

from arm_sim.domain import app_federated_credentials as fics
from arm_sim.domain import directory_apps, federation, graph_permissions
from arm_sim.hosts.graph.writes import Answer, Write

SEGMENT = re.compile(r"^federatedIdentityCredentials(?:\(name='([^']*)'\))?$", re.IGNORECASE)


def handle(w: Write) -> Answer | None:
    """Graph's answer, or None when the path is not an application's federated credentials."""
    keyed = SEGMENT.match(w.rest[0]) if w.rest else None
    if keyed is None or not w.addressed or len(w.rest) > 2 or (keyed.group(1) is not None and len(w.rest) > 1):
        return None
    key, by_name = (keyed.group(1), True) if keyed.group(1) is not None else (
        w.rest[1] if len(w.rest) == 2 else None, False)
    reading = w.method == "GET"
    if (w.method, key is None) not in (("GET", True), ("POST", True), ("GET", False), ("PATCH", False),
                                       ("DELETE", False)):
        return None
    graph_permissions.require(w.caller.claims, fics.READ if reading else fics.WRITE)
    app = directory_apps.application(w.ctx, w.caller.tenant_id, object_id=w.key, app_id=w.app_id)
    if not reading:
        # a trust is a credential: only the simulator's administrator app itself may add one to itself
        directory_apps.guard_administrator(w.ctx, app.app_id, w.caller, "PATCH")
    context = f"{w.base}/v1.0/$metadata#applications('{app.object_id}')/federatedIdentityCredentials"
    if key is None and reading:
        held = federation.application_credentials(w.ctx, app.object_id)
        return 200, {"@odata.context": context, "value": [fics.as_json(c) for c in held]}
    if key is None:
        created = fics.create(w.ctx, app, w.json_body())
        return 201, {"@odata.context": f"{context}/$entity", **fics.as_json(created)}
    row = fics.find(w.ctx, app, key, by_name)
    if reading:
        return 200, {"@odata.context": f"{context}/$entity", **fics.as_json(row)}
    if w.method == "PATCH":
        fics.update(w.ctx, app, row, w.json_body())
    else:
        fics.delete(w.ctx, app, row)
    return 204, None
