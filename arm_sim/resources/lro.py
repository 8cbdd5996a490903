"""ARM long-running operations, implemented once for every provider.

The work itself is committed inside the request (one unit of work); the operation record lets clients
follow ARM's protocol: 201/202 + Azure-AsyncOperation/Location, then poll until a terminal status.
"""

from __future__ import annotations

import uuid
from typing import Any

from arm_sim.core.errors import not_found
from arm_sim.db.models import Operation
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx


def record(ctx: Ctx, subscription_id: str, namespace: str, location: str, resource_id: str,
           method: str) -> Operation:
    op = Operation(id=str(uuid.uuid4()), subscription_id=subscription_id.lower(), namespace=namespace,
                   location=location or "global", status="Succeeded", resource_id=resource_id, method=method,
                   start_at=ctx.now, end_at=ctx.now)
    ctx.session.add(op)
    return op


def urls(base: str, op: Operation, api_version: str) -> tuple[str, str]:
    """(Azure-AsyncOperation, Location) for an operation."""
    prefix = f"{base}/subscriptions/{op.subscription_id}/providers/{op.namespace}/locations/{op.location}"
    return (f"{prefix}/operationStatuses/{op.id}?api-version={api_version}",
            f"{prefix}/operationResults/{op.id}?api-version={api_version}")


def get(ctx: Ctx, subscription_id: str, op_id: str) -> Operation:
    op = ctx.session.get(Operation, op_id.lower())
    if op is None or op.subscription_id != subscription_id.lower():
        raise not_found("OperationNotFound", f"The operation '{op_id}' could not be found.")
    return op


def status_doc(op: Operation) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": op.id, "name": op.id, "status": op.status, "startTime": iso(op.start_at)}
    if op.end_at is not None:
        doc["endTime"] = iso(op.end_at)
    if op.error:
        doc["error"] = op.error
    return doc
