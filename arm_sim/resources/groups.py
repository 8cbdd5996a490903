"""Resource groups. Deleting one deletes every resource in it through ResourceService, so hooks run."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from arm_sim.core import ids
from arm_sim.core.errors import DomainError, bad_request
from arm_sim.db.models import Resource, ResourceGroup
from arm_sim.domain import events
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx
from arm_sim.providers.catalog import LOCATION_NAMES, normalize_location
from arm_sim.resources import locks, scope, service
from arm_sim.resources.documents import check_tags, request_object

_VALID = re.compile(r"^[-\w._()]+$")


def check_name(name: str) -> None:
    bad = sorted({c for c in name if not re.match(r"[-\w._()]", c)})
    if len(name) > 90 or not _VALID.match(name) or name.endswith("."):
        chars = "".join(bad) or ("." if name.endswith(".") else "")
        raise bad_request(
            "InvalidResourceGroup",
            f"The provided resource group name '{name}' has these invalid characters: '{chars}'. The name can "
            "only be a letter, digit, '-', '.', '(', ')' or '_'."
            + (" The name must be 90 characters or fewer." if len(name) > 90 else ""),
        )


def to_doc(rg: ResourceGroup) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": rg.id, "name": rg.name, "type": "Microsoft.Resources/resourceGroups", "location": rg.location,
        "tags": rg.tags or {}, "properties": {"provisioningState": rg.provisioning_state},
    }
    if rg.managed_by:
        doc["managedBy"] = rg.managed_by
    return doc


def get(ctx: Ctx, subscription_id: str, name: str) -> ResourceGroup:
    return scope.resource_group(ctx, subscription_id, name)


def exists(ctx: Ctx, subscription_id: str, name: str) -> bool:
    return ctx.session.get(ResourceGroup, ids.key(ids.resource_group_id(subscription_id, name))) is not None


def put(ctx: Ctx, subscription_id: str, name: str, body: Any) -> tuple[ResourceGroup, bool]:
    body = request_object(body)
    check_name(name)
    scope.subscription(ctx, subscription_id)
    location = body.get("location")
    if not location or not isinstance(location, str):
        raise bad_request("LocationRequired", "The location property is required for this definition.")
    location = normalize_location(location)
    if location not in LOCATION_NAMES:
        raise bad_request(
            "LocationNotAvailableForResourceGroup",
            f"The provided location '{body['location']}' is not available for resource group. List of available "
            f"regions is '{','.join(sorted(LOCATION_NAMES))}'.",
        )
    tags = check_tags(body.get("tags"))
    rg_id = ids.resource_group_id(subscription_id, name)
    locks.check(ctx, rg_id, "write")
    rg = ctx.session.get(ResourceGroup, ids.key(rg_id))
    created = rg is None
    if rg is None:
        rg = ResourceGroup(key=ids.key(rg_id), id=rg_id, subscription_id=subscription_id.lower(), name=name,
                           location=location, provisioning_state="Succeeded", created_at=ctx.now,
                           created_by=ctx.actor)
        ctx.session.add(rg)
    elif rg.location != location:
        raise DomainError(
            409, "InvalidResourceGroupLocation",
            f"Invalid resource group location '{location}'. The Resource group already exists in location "
            f"'{rg.location}'.",
        )
    rg.tags, rg.managed_by = tags, body.get("managedBy")
    rg.changed_at, rg.changed_by = ctx.now, ctx.actor
    events.record(ctx, "resourceGroup.created" if created else "resourceGroup.updated", rg.id, location=location)
    return rg, created


def patch(ctx: Ctx, subscription_id: str, name: str, body: Any) -> ResourceGroup:
    body = request_object(body)
    rg = get(ctx, subscription_id, name)
    locks.check(ctx, rg.id, "write")
    if "tags" in body:
        rg.tags = check_tags(body["tags"])
    if body.get("managedBy") is not None:
        rg.managed_by = body["managedBy"]
    rg.changed_at, rg.changed_by = ctx.now, ctx.actor
    events.record(ctx, "resourceGroup.updated", rg.id)
    return rg


def delete(ctx: Ctx, subscription_id: str, name: str) -> bool:
    rg = ctx.session.get(ResourceGroup, ids.key(ids.resource_group_id(subscription_id, name)))
    if rg is None:
        scope.subscription(ctx, subscription_id)
        return False
    locks.check(ctx, rg.id, "delete")
    rows = ctx.session.scalars(select(Resource).where(Resource.resource_group_key == rg.key)).all()
    count = 0
    # top-level resources first in id order; each deletes its own children through the same path
    for row in sorted(rows, key=lambda r: r.key.count("/")):
        if ctx.session.get(Resource, row.key) is not None:
            service.delete_row(ctx, row)
            count += 1
    ctx.session.delete(rg)
    events.record(ctx, "resourceGroup.deleted", rg.id, resources=count)
    return True


def list_all(ctx: Ctx, subscription_id: str) -> list[ResourceGroup]:
    scope.subscription(ctx, subscription_id)
    return list(ctx.session.scalars(
        select(ResourceGroup).where(ResourceGroup.subscription_id == subscription_id.lower())
        .order_by(ResourceGroup.key)
    ))


def created_time(rg: ResourceGroup) -> str:
    return iso(rg.created_at)
