"""ARM's preflight of a template: every resource it declares (its type, name, api-version and location
evaluated) is put to `resources.preflight` before anything is created; `existing` resources are only read, and
nested deployments and resource groups are ARM's own.

ARM answers its own catalogue refusals (an unknown type, an api-version or location the type does not have, an
unregistered namespace) as they are, as it answers a REST PUT; what a resource provider's preflight refuses comes
wrapped in `InvalidTemplateDeployment`, the inner error in its details.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from arm_sim.core import ids
from arm_sim.core.errors import DomainError
from arm_sim.resources import preflight

if TYPE_CHECKING:
    from arm_sim.deployments.engine import Run

CATALOGUE = frozenset({"InvalidResourceType", "NoRegisteredProviderFound", "LocationNotAvailableForResourceType",
                       "MissingSubscriptionRegistration", "InvalidResourceNamespace"})


def invalid_deployment(name: str, inner: DomainError) -> DomainError:
    return DomainError(400, "InvalidTemplateDeployment",
                       f"The template deployment '{name}' is not valid according to the validation procedure. The "
                       f"tracking id is '{uuid.uuid4()}'. See inner errors for details.", details=[inner.body()])


def check_all(run: Run, bodies: dict[str, Any]) -> None:
    """ARM's checks of every declared resource, then its resource provider's of every body known before the
    deployment runs (`bodies`, by instance key; the template's own resources count as existing there)."""
    declared = frozenset(ids.key(p.id) for p in run.plan.items if p.deployable)
    # a false condition does not spare a resource ARM's preflight (Azure/azure-resource-manager-schemas#1790)
    for p in run.plan.items:
        if p.existing or p.is_deployment or p.is_resource_group:
            continue
        try:
            path = ids.parse(p.id)
        except DomainError:
            continue  # an id ARM's paths refuse: its write says so
        try:
            preflight.check(run.ctx, path, p.api_version, p.location)
            body = bodies.get(p.key)
            if p.deployable and isinstance(body, dict):
                preflight.check_body(run.ctx, path, {**body, "location": p.location}, declared)
        except DomainError as e:
            if e.code in CATALOGUE:
                raise
            raise invalid_deployment(run.name, e) from None
