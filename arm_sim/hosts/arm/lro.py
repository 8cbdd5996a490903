"""How ARM answers writes: at once (ARM_SIM_LRO=sync) or through the long-running-operation protocol."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from arm_sim.domain.context import Ctx
from arm_sim.hosts.arm.call import Call
from arm_sim.hosts.http import json_response
from arm_sim.providers.base import ActionResult
from arm_sim.resources import lro

IN_PROGRESS = {"PUT": "Creating", "PATCH": "Updating", "DELETE": "Deleting"}


def _headers(ctx: Ctx, call: Call, namespace: str, location: str, resource_id: str) -> dict[str, str]:
    op = lro.record(ctx, call.arm.subscription or "", namespace, location, resource_id, call.method)
    async_url, location_url = lro.urls(call.base_url, op, call.api_version)
    return {"Azure-AsyncOperation": async_url, "Location": location_url, "Retry-After": "1"}


def written(ctx: Ctx, call: Call, doc: dict[str, Any], created: bool, long_running: bool,
            status: int | None = None) -> Response:
    """A PUT/PATCH answer: 201/200 (or the provider's `status`) with the resource; async mode shows a
    non-terminal state and the status URL, as ARM does for long-running types."""
    status = status or (201 if created else 200)
    if not long_running or ctx.settings.lro == "sync":
        return json_response(doc, status)
    ns = doc["type"].split("/", 1)[0]
    headers = _headers(ctx, call, ns, doc.get("location", ""), doc["id"])
    shown = dict(doc, properties=dict(doc.get("properties") or {},
                                      provisioningState=IN_PROGRESS["PUT" if created else "PATCH"]))
    return json_response(shown, status, headers)


def deleted(ctx: Ctx, call: Call, existed: bool, long_running: bool, namespace: str, location: str,
            resource_id: str) -> Response:
    if not existed:
        return Response(status_code=204)
    if not long_running or ctx.settings.lro == "sync":
        return Response(status_code=200)
    return Response(status_code=202, headers=_headers(ctx, call, namespace, location, resource_id))


def action(ctx: Ctx, call: Call, doc: dict[str, Any], result: ActionResult) -> Response:
    """A POST action: at once, or 202 + Location/Azure-AsyncOperation for long-running ones."""
    if not result.long_running or ctx.settings.lro == "sync":
        if result.media_type is not None:
            return Response(result.body, result.status, media_type=result.media_type)
        return json_response(result.body, result.status) if result.body is not None else Response(
            status_code=result.status)
    ns = doc["type"].split("/", 1)[0]
    return Response(status_code=202, headers=_headers(ctx, call, ns, doc.get("location", ""), doc["id"]))


def status(ctx: Ctx, call: Call, op_id: str) -> Response:
    return json_response(lro.status_doc(lro.get(ctx, call.arm.subscription or "", op_id)))


def result(ctx: Ctx, call: Call, op_id: str) -> Response:
    op = lro.get(ctx, call.arm.subscription or "", op_id)
    if op.status == "InProgress":
        return Response(status_code=202, headers={"Retry-After": "1"})
    if op.status == "Failed":
        return json_response({"error": op.error or {}}, 400)
    return Response(status_code=204) if op.method == "DELETE" else json_response(lro.status_doc(op))
