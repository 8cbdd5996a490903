"""Microsoft.Web: App Service and Function apps (sites) with their identity endpoint; plans stored generically."""

from __future__ import annotations

from arm_sim.core.identity_types import BOTH_WITH_SPACE
from arm_sim.providers.base import Provider


class WebProvider(Provider):
    namespace = "Microsoft.Web"
    identity_both = BOTH_WITH_SPACE
