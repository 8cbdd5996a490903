"""A small crash loop (bench/crashloop.py): SIGKILL under 8 concurrent writers, restart on the same database, and
nothing acknowledged is lost, no lifecycle invariant breaks, no child process outlives a kill. On PostgreSQL when
ARM_SIM_TEST_DATABASE_URL is set, as the rest of the suite."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.simserver import fresh_database_url

BENCH = Path(__file__).resolve().parents[1] / "bench" / "crashloop.py"


def crashloop() -> ModuleType:
    spec = importlib.util.spec_from_file_location("arm_sim_bench_crashloop", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through it
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("cycles", "uptime"), [(3, (0.5, 2.0))])
def test_sigkill_under_concurrent_writes_loses_nothing(tmp_path: Path, cycles: int, uptime: tuple[float, float]
                                                       ) -> None:
    cl = crashloop()
    url = fresh_database_url()
    loop = cl.CrashLoop(tmp_path / "sim", url, cycles=cycles, writers=8, uptime=uptime, seed=20261207)
    figures = loop.run()
    lines: list[str] = []
    cl.report(figures, "PostgreSQL" if url else "SQLite", loop.elapsed, out=lines.append)
    print("\n".join(lines))
    assert figures.cycles == cycles and figures.checked == cycles
    assert figures.acknowledged > 0
    assert (figures.lost, figures.violations, figures.survivors) == (0, 0, 0), "\n".join(lines)
