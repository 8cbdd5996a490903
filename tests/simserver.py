"""Start a real `arm-sim serve` on free ports in a temporary home, for tests and benchmarks.

The code lives in `arm_sim.testing.server` (public, used by the pytest plugin too); this module keeps the
suite's imports working."""

from arm_sim.testing.server import Sim, free_port, free_range, fresh_database_url

__all__ = ["Sim", "free_port", "free_range", "fresh_database_url"]
