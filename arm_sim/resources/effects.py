"""What provider hooks return (providers.base.Effect), applied through THE write path in the hook's transaction:
the resources and groups a resource provider makes or removes on its own, such as AKS's node resource group."""

from __future__ import annotations

from arm_sim.core import ids
from arm_sim.domain.context import Ctx
from arm_sim.providers.base import DeleteResourceGroup, Effect, PutResource, PutResourceGroup
from arm_sim.resources import groups, service


def apply(ctx: Ctx, effects: list[Effect] | None) -> None:
    for effect in effects or ():
        if isinstance(effect, PutResourceGroup):
            groups.put(ctx, effect.subscription_id, effect.name, effect.body)
        elif isinstance(effect, PutResource):
            service.put(ctx, ids.parse(effect.resource_id), effect.body, effect.api_version)
        elif isinstance(effect, DeleteResourceGroup):
            groups.delete(ctx, effect.subscription_id, effect.name)  # already gone: nothing to do
        else:
            raise TypeError(f"not an effect: {effect!r}")
