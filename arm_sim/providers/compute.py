"""Microsoft.Compute: virtual machines (with the identity endpoint they host), extensions, scale sets."""

from __future__ import annotations

from arm_sim.core.identity_types import BOTH_WITH_SPACE
from arm_sim.providers.base import Provider


class ComputeProvider(Provider):
    namespace = "Microsoft.Compute"
    identity_both = BOTH_WITH_SPACE
