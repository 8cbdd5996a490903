"""Every type without a model of its own: stored and returned as written."""

from __future__ import annotations

from arm_sim.providers.base import Provider


class GenericProvider(Provider):
    namespace = "*"
