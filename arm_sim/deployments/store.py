"""Deployment records and their operations: ARM's deployment history (reference/arm-templates.md §1.5, §1.7).

A record belongs to its scope (resource group or subscription) and name; deploying the same name again
replaces it. Deleting a record removes the history only, never the deployed resources.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import select

from arm_sim.core import ids
from arm_sim.core.errors import DomainError, bad_request, not_found
from arm_sim.db.engine import HotInsert
from arm_sim.db.models import Deployment, DeploymentOperation, ResourceGroup
from arm_sim.domain import events
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx

DEPLOYMENT_TYPE = "Microsoft.Resources/deployments"
TERMINAL = ("Succeeded", "Failed", "Canceled")
_NAME = re.compile(r"^[-\w._()]{1,64}$")


@dataclass(frozen=True)
class Target:
    """Where a deployment deploys: a resource group, or a subscription (resource_group None)."""

    subscription_id: str
    resource_group: str | None = None

    @property
    def id(self) -> str:
        out = f"/subscriptions/{self.subscription_id}"
        return out + f"/resourceGroups/{self.resource_group}" if self.resource_group else out

    @property
    def scope_name(self) -> str:
        return "resourceGroup" if self.resource_group else "subscription"

    def deployment_id(self, name: str) -> str:
        return f"{self.id}/providers/{DEPLOYMENT_TYPE}/{name}"


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise bad_request("InvalidDeploymentName",
                          f"The deployment name '{name}' is invalid. It can be 1 to 64 characters long and contain "
                          "only letters, digits, '-', '.', '_', '(' and ')'.")


def not_found_error(name: str) -> DomainError:
    return not_found("DeploymentNotFound", f"Deployment '{name}' could not be found.")


def _current(ctx: Ctx, row: Deployment) -> bool:
    """False for the history of a resource group that was deleted since (and maybe created again)."""
    if "/resourcegroups/" not in row.scope_key:
        return True
    rg = ctx.session.get(ResourceGroup, row.scope_key)
    return rg is not None and row.created_at >= rg.created_at


def get(ctx: Ctx, deployment_id: str) -> Deployment | None:
    row = ctx.session.get(Deployment, ids.key(deployment_id))
    return row if row is not None and _current(ctx, row) else None


def require(ctx: Ctx, target: Target, name: str) -> Deployment:
    row = get(ctx, target.deployment_id(name))
    if row is None:
        raise not_found_error(name)
    return row


def list_at(ctx: Ctx, target: Target) -> list[Deployment]:
    rows = ctx.session.scalars(select(Deployment).where(Deployment.scope_key == ids.key(target.id))
                               .order_by(Deployment.created_at, Deployment.key))
    return [r for r in rows if _current(ctx, r)]


def begin(ctx: Ctx, target: Target, name: str, *, location: str | None, tags: dict[str, Any], template: Any,
          properties: dict[str, Any]) -> tuple[Deployment, bool]:
    """Create or replace the record (its earlier operations go with the earlier run). Returns (row, created)."""
    dep_id = target.deployment_id(name)
    row = ctx.session.get(Deployment, ids.key(dep_id))
    created = row is None or not _current(ctx, row)
    if row is None:
        row = Deployment(key=ids.key(dep_id), id=dep_id, scope_key=ids.key(target.id),
                         subscription_id=target.subscription_id.lower(), name=name, created_at=ctx.now)
        ctx.session.add(row)
    else:
        if row.provisioning_state not in TERMINAL:
            raise DomainError(409, "DeploymentActive", f"The deployment '{name}' is still running.")
        ctx.session.execute(sql_delete(DeploymentOperation).where(DeploymentOperation.deployment_key == row.key))
        if created:  # left over from a deleted resource group of the same name
            row.id, row.name, row.created_at = dep_id, name, ctx.now
    row.location, row.tags, row.template = location, tags, template
    row.properties, row.provisioning_state, row.changed_at = properties, "Running", ctx.now
    ctx.session.flush()
    events.record(ctx, "deployment.started", dep_id, mode=properties.get("mode"))
    return row, created


def finish(ctx: Ctx, row: Deployment, state: str, properties: dict[str, Any]) -> None:
    row.properties = dict(properties, provisioningState=state)
    row.provisioning_state, row.changed_at = state, ctx.now
    ctx.session.flush()
    details: dict[str, Any] = {"state": state}
    if properties.get("error"):
        details["error"] = properties["error"].get("code")
    events.record(ctx, "deployment.finished", row.id, **details)


def delete(ctx: Ctx, row: Deployment) -> None:
    if row.provisioning_state not in TERMINAL:
        raise DomainError(409, "DeploymentActive", f"The deployment '{row.name}' is running and cannot be deleted.")
    ctx.session.execute(sql_delete(DeploymentOperation).where(DeploymentOperation.deployment_key == row.key))
    ctx.session.delete(row)
    ctx.session.flush()
    events.record(ctx, "deployment.deleted", row.id)


# SQLAlchemy types a declarative class's __table__ as a FromClause; a class with __tablename__ maps a Table
_OPERATIONS = HotInsert(DeploymentOperation.__table__)  # type: ignore[arg-type]


def add_operations(ctx: Ctx, row: Deployment, properties: list[dict[str, Any]]) -> None:
    """A deployment's operations, in order, in one statement: written once the deployment has run (a row per
    resource flushed through the ORM at every resource's SAVEPOINT cost a sixth of a deployment's time)."""
    _OPERATIONS.run(ctx.session, [{"deployment_key": row.key, "operation_id": uuid.uuid4().hex[:16].upper(),
                                   "properties": props} for props in properties])


def operations(ctx: Ctx, row: Deployment) -> list[DeploymentOperation]:
    return list(ctx.session.scalars(select(DeploymentOperation).where(DeploymentOperation.deployment_key == row.key)
                                    .order_by(DeploymentOperation.seq)))


def status_code(status: int) -> str:
    """ARM's operation `statusCode`: the HTTP status as a .NET HttpStatusCode name (OK, Created, BadRequest)."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return str(status)
    return "OK" if status == 200 else phrase.replace(" ", "").replace("-", "")


def duration(seconds: float) -> str:
    return f"PT{max(seconds, 0):.7f}".rstrip("0").rstrip(".") + "S"


def render(row: Deployment) -> dict[str, Any]:
    """`DeploymentExtended`."""
    doc: dict[str, Any] = {"id": row.id, "name": row.name, "type": DEPLOYMENT_TYPE}
    if row.location:
        doc["location"] = row.location
    doc["tags"] = row.tags or {}
    doc["properties"] = dict(row.properties, provisioningState=row.provisioning_state)
    return doc


def render_operation(row: Deployment, op: DeploymentOperation) -> dict[str, Any]:
    return {"id": f"{row.id}/operations/{op.operation_id}", "operationId": op.operation_id,
            "properties": op.properties}


def find_operation(ctx: Ctx, row: Deployment, operation_id: str) -> DeploymentOperation:
    for op in operations(ctx, row):
        if op.operation_id.lower() == operation_id.lower():
            return op
    raise not_found("DeploymentOperationNotFound",
                    f"Deployment operation '{operation_id}' of deployment '{row.name}' could not be found.")


def timestamp(ctx: Ctx) -> str:
    return iso(ctx.now)
