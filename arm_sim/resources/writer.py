"""THE write path as provider hooks reach it: for resources a resource provider creates on its own (AKS's node
resource group and the identities in it). Providers may not import this layer, so the composition root hands a
ServiceWriter to the Runtime, and every unit of work carries it as `ctx.resource_writer`."""

from __future__ import annotations

from typing import Any

from arm_sim.core import ids
from arm_sim.domain.context import Ctx
from arm_sim.resources import groups, service


class ServiceWriter:
    def put_resource_group(self, ctx: Ctx, subscription_id: str, name: str, body: dict[str, Any]) -> None:
        groups.put(ctx, subscription_id, name, body)

    def put(self, ctx: Ctx, resource_id: str, body: dict[str, Any], api_version: str) -> dict[str, Any]:
        return service.put(ctx, ids.parse(resource_id), body, api_version)[0]

    def delete_resource_group(self, ctx: Ctx, subscription_id: str, name: str) -> None:
        groups.delete(ctx, subscription_id, name)
