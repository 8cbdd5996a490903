"""The arm-sim pytest plugin (entry point `arm_sim`, active wherever arm-sim is installed).

Fixtures:
- `arm_sim` (session): a running simulator on free ports in a temporary home (`ArmSim`), stopped at the end.
  With pytest-xdist each worker has its own. Nothing starts unless a test asks for it.
- `arm_sim_rg` (function): the name of a fresh resource group, created before the test and deleted after it
  (with everything in it, through the same path as any delete, so identity clean-up runs too).
- `arm_sim_reset` (function): the `arm_sim` simulator wiped clean before the test (a restart: a few seconds).

Options (command line, or the ini file without the dashes and with underscores):
`--arm-sim-lro sync|async` (default sync: long-running operations answer in their final state at once),
`--arm-sim-database-url URL` (default: SQLite in the temporary home), and the ini-only `arm_sim_env`
(extra `ARM_SIM_*=value` settings for the simulator, one a line, e.g. `ARM_SIM_RBAC=audit`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from arm_sim.testing.simulator import ArmSim

LRO_HELP = "arm-sim's long-running operations: 'sync' (final state at once; default) or 'async' (as Azure, polled)"
DB_HELP = "arm-sim's database URL (default: SQLite in a temporary home), e.g. postgresql+psycopg://user@host/db"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("arm-sim", "arm-sim (local Azure simulator)")
    group.addoption("--arm-sim-lro", choices=("sync", "async"), default=None, help=LRO_HELP)
    group.addoption("--arm-sim-database-url", default=None, metavar="URL", help=DB_HELP)
    parser.addini("arm_sim_lro", LRO_HELP, default="sync")
    parser.addini("arm_sim_database_url", DB_HELP, default="")
    parser.addini("arm_sim_env", "extra ARM_SIM_*=value settings for arm-sim, one a line", type="linelist",
                  default=[])


def _settings(config: pytest.Config) -> tuple[str, str, dict[str, str]]:
    lro = config.getoption("--arm-sim-lro") or str(config.getini("arm_sim_lro") or "sync")
    if lro not in ("sync", "async"):
        raise pytest.UsageError(f"arm_sim_lro must be 'sync' or 'async', not {lro!r}")
    database_url = config.getoption("--arm-sim-database-url") or str(config.getini("arm_sim_database_url") or "")
    extra: dict[str, str] = {}
    for line in config.getini("arm_sim_env"):
        key, sep, value = str(line).partition("=")
        if not sep or not key.strip().startswith("ARM_SIM_"):
            raise pytest.UsageError(f"arm_sim_env lines are ARM_SIM_NAME=value, not {line!r}")
        extra[key.strip()] = value.strip()
    return lro, database_url, extra


def pytest_configure(config: pytest.Config) -> None:
    _settings(config)  # bad settings fail the run at once, not the first test that needs arm-sim


@pytest.fixture(scope="session")
def arm_sim(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[ArmSim]:
    """A running arm-sim for the whole session (per xdist worker): URLs, CA, bootstrap credentials, clients and
    `deploy()`. Tests share it: isolate them with `arm_sim_rg` (or unique names), or reset it with `arm_sim_reset`."""
    lro, database_url, extra = _settings(pytestconfig)
    sim = ArmSim.launch(tmp_path_factory.mktemp("arm-sim"), lro=lro, database_url=database_url, settings=extra)
    yield sim
    sim.stop()


@pytest.fixture
def arm_sim_rg(arm_sim: ArmSim, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, empty resource group for this test (its name); deleted with its contents after the test."""
    stem = re.sub(r"[^A-Za-z0-9_.()-]+", "-", request.node.name).strip("-.")[:60]
    name = arm_sim.create_resource_group(f"{stem or 'test'}-{uuid.uuid4().hex[:8]}")
    yield name
    arm_sim.delete_resource_group(name)


@pytest.fixture
def arm_sim_reset(arm_sim: ArmSim) -> ArmSim:
    """The session's simulator, wiped clean before this test: no resources, principals or events, the clock at
    real time (bootstrap ids and ports stay). Prefer `arm_sim_rg` where it is enough: it costs nothing."""
    arm_sim.reset()
    return arm_sim

