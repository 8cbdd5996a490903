"""ARM's preflight: what it refuses before a write reaches the resource provider, for a REST PUT and for every
resource of a template before any is created — a type its namespace does not have, an api-version the type
does not support, a location the type is not offered in."""

from __future__ import annotations

from arm_sim.core import ids
from arm_sim.domain.context import Ctx


def check(ctx: Ctx, path: ids.ArmPath, api_version: str, location: str | None) -> None:
    """Refuse (DomainError with ARM's code) a resource ARM would not accept at this path, api-version and
    location. `location` is None when the body has none (extension and child resources)."""
    return None
