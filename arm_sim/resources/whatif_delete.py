"""What deleting a resource would do to principals and grants (`GET /_sim/whatif/delete`), from the code that does it.

The delete runs for real (`service.delete`, as ARM's DELETE calls it: locks, provider hooks, children, the identity
block's release) inside a SAVEPOINT that is then rolled back, as a deployment's whatIf does; what it recorded and
how the identity graph differs afterwards is the answer. So the prediction cannot drift from the lifecycle rules of
DESIGN.md §3: the system-assigned principal is deleted, its role assignments and access-policy entries are orphaned,
user-assigned identities are detached but kept, child resources go too."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from arm_sim.core import ids
from arm_sim.core.errors import DomainError, bad_request
from arm_sim.db import uow
from arm_sim.db.models import Event
from arm_sim.domain import events, identity_graph
from arm_sim.domain.context import Ctx
from arm_sim.resources import service


def _orphan_key(o: dict[str, Any]) -> tuple[str, str, str]:
    return (o["kind"], str(o.get("id") or o.get("vault") or "").lower(), str(o["principalId"]).lower())


def _uai_links(g: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The user-assigned identities each resource has attached, by the resource's id (lower-cased)."""
    return {r["id"].lower(): [p for p in r["principals"] if p.get("kind") == "userAssigned" and p.get("identityId")]
            for r in g["resources"] if r.get("identityType") != "UserAssigned"}


def predict(ctx: Ctx, resource_id: str) -> dict[str, Any]:
    """The effects of `DELETE resource_id`, computed by deleting it and rolling the deletion back."""
    if not resource_id or not resource_id.startswith("/subscriptions/"):
        raise bad_request("InvalidResourceId", "Give the resource's id as ?resourceId=/subscriptions/….")
    path = ids.parse(resource_id)
    if path.is_collection or not path.parts:
        raise bad_request("InvalidResourceId", f"'{resource_id}' is not the id of a resource.")
    before = identity_graph.graph(ctx)
    seq_before = events.last_seq(ctx)
    durable = len(ctx.durable_events)
    sp = uow.savepoint(ctx.session)
    refused: dict[str, Any] | None = None
    try:
        try:
            existed = service.delete(ctx, path)
        except DomainError as e:  # a lock: the delete would be refused, and why
            if e.status == 404:  # no such subscription or group: ARM's 404, as for a missing resource
                raise
            existed, refused = False, {"code": e.code, "message": e.message}
        written = ctx.session.scalars(select(Event).where(Event.seq > seq_before).order_by(Event.seq))
        recorded: list[dict[str, Any]] = [{"kind": e.kind, "subject": e.subject, "details": dict(e.details or {})}
                                          for e in written]
        after = identity_graph.graph(ctx)
    finally:
        sp.rollback()  # a prediction changes nothing
        del ctx.durable_events[durable:]  # (nor do the decisions the delete made on the way)
    if refused is None and not existed:
        service.get(ctx, path)  # nothing to delete: ARM's 404 for it, as a GET would answer
    deleted = [e["subject"] for e in recorded if e["kind"] == "resource.deleted"]
    gone = {d.lower() for d in deleted}
    principals = [e["details"] | {"objectId": e["subject"], "principal": identity_graph.principal_info(
        ctx, e["subject"])} for e in recorded if e["kind"] == "servicePrincipal.deleted"]
    had = {_orphan_key(o) for o in before["orphans"]}
    orphaned = [o for o in after["orphans"] if _orphan_key(o) not in had]
    links = _uai_links(before)
    detached = [{"resourceId": rid, "identityId": p["identityId"], "principalId": p.get("objectId"),
                 "kept": p["identityId"].lower() not in gone}
                for rid, attached in links.items() if rid in gone for p in attached]
    dangling = [{"resourceId": r["id"], "identityId": p["identityId"]} for r in after["resources"]
                for p in r["principals"] if p.get("dangling") and p["identityId"].lower() in gone]
    return {"resourceId": resource_id, "wouldSucceed": refused is None, "refusedWith": refused,
            "resourcesDeleted": deleted, "principalsDeleted": principals, "grantsOrphaned": orphaned,
            "userAssignedDetached": detached, "resourcesLeftDangling": dangling,
            "events": [e for e in recorded if e["kind"] != "resource.deleted"], "changed": False}
