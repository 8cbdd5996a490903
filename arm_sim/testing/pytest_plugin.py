"""The arm-sim pytest plugin (entry point `arm_sim`, active wherever arm-sim is installed).

Fixtures:
- `arm_sim` (session): a running simulator (`ArmSim`). The server is always a subprocess (`arm-sim serve` on free
  ports in a temporary home), started on first use; tests talk to it over HTTPS. Under pytest-xdist one server
  serves every worker (the first worker to need it starts it, the others attach; the controller stops it at the
  end) unless `--arm-sim-per-worker`. With `--arm-sim-url` / `--arm-sim-home` nothing starts: the plugin attaches
  to a server already running.
- `arm_sim_rg` (function): the name of a fresh resource group, created before the test and deleted after it
  (with everything in it, through the same path as any delete, so identity clean-up runs too; its vaults purged).
- `arm_sim_reset` (function): the `arm_sim` simulator wiped clean before the test (a restart: a few seconds);
  an error for a simulator that other workers share or that the plugin attached to.

Options (command line, or the ini file without the dashes and with underscores): `--arm-sim-lro sync|async`,
`--arm-sim-database-url URL`, `--arm-sim-url URL`, `--arm-sim-home DIR`, `--arm-sim-per-worker`, and the
ini-only `arm_sim_env` (extra `ARM_SIM_*=value` settings for the simulator, one a line).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from arm_sim.testing import shared
from arm_sim.testing.simulator import ArmSim

LRO_HELP = "arm-sim's long-running operations: 'sync' (final state at once; default) or 'async' (as Azure, polled)"
DB_HELP = "arm-sim's database URL (default: SQLite in a temporary home), e.g. postgresql+psycopg://user@host/db"
URL_HELP = ("attach to the arm-sim running at URL instead of starting one (credentials: from --arm-sim-home, or the "
            "ARM_SIM_* variables `arm-sim env` prints)")
HOME_HELP = "attach to the arm-sim running for this home (its server.json and credentials.json)"
PER_WORKER_HELP = "with xdist, a simulator per worker (default: one for the whole session)"
_SHARED = pytest.StashKey[Path]()
_STARTING = pytest.StashKey[Future[ArmSim]]()


@dataclass(frozen=True)
class Settings:
    lro: str
    database_url: str
    extra: dict[str, str]
    url: str
    home: str
    per_worker: bool

    @property
    def attach(self) -> bool:
        return bool(self.url or self.home)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("arm-sim", "arm-sim (local Azure simulator)")
    group.addoption("--arm-sim-lro", choices=("sync", "async"), default=None, help=LRO_HELP)
    group.addoption("--arm-sim-database-url", default=None, metavar="URL", help=DB_HELP)
    group.addoption("--arm-sim-url", default=None, metavar="URL", help=URL_HELP)
    group.addoption("--arm-sim-home", default=None, metavar="DIR", help=HOME_HELP)
    group.addoption("--arm-sim-per-worker", action="store_true", default=None, help=PER_WORKER_HELP)
    parser.addini("arm_sim_lro", LRO_HELP, default="sync")
    parser.addini("arm_sim_database_url", DB_HELP, default="")
    parser.addini("arm_sim_url", URL_HELP, default="")
    parser.addini("arm_sim_home", HOME_HELP, default="")
    parser.addini("arm_sim_per_worker", PER_WORKER_HELP, type="bool", default=False)
    parser.addini("arm_sim_env", "extra ARM_SIM_*=value settings for arm-sim, one a line", type="linelist",
                  default=[])


def _settings(config: pytest.Config) -> Settings:
    def get(name: str) -> str:
        return str(config.getoption(f"--{name.replace('_', '-')}") or config.getini(name) or "")

    lro = get("arm_sim_lro") or "sync"
    if lro not in ("sync", "async"):
        raise pytest.UsageError(f"arm_sim_lro must be 'sync' or 'async', not {lro!r}")
    extra: dict[str, str] = {}
    for line in config.getini("arm_sim_env"):
        key, sep, value = str(line).partition("=")
        if not sep or not key.strip().startswith("ARM_SIM_"):
            raise pytest.UsageError(f"arm_sim_env lines are ARM_SIM_NAME=value, not {line!r}")
        extra[key.strip()] = value.strip()
    per_worker = bool(config.getoption("--arm-sim-per-worker") or config.getini("arm_sim_per_worker"))
    return Settings(lro, get("arm_sim_database_url"), extra, get("arm_sim_url"), get("arm_sim_home"), per_worker)


def pytest_configure(config: pytest.Config) -> None:
    _settings(config)  # bad settings fail the run at once, not the first test that needs arm-sim


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """(xdist, in the controller) Hand every worker the directory where the session's one simulator lives."""
    config: pytest.Config = node.config
    s = _settings(config)
    if s.attach or s.per_worker or not shared.supported or int(node.workerinput.get("workercount", 2)) < 2:
        return
    if _SHARED not in config.stash:
        factory = getattr(config, "_tmp_path_factory", None)  # (where xdist puts the workers' own temp dirs)
        base = Path(factory.getbasetemp()) if factory is not None else Path(tempfile.mkdtemp(prefix="arm-sim-"))
        config.stash[_SHARED] = base / "arm-sim-shared"
    node.workerinput[shared.KEY] = str(config.stash[_SHARED])


def pytest_unconfigure(config: pytest.Config) -> None:
    starting = config.stash.get(_STARTING, None)
    if starting is not None:  # a worker: a start still under way must finish and record itself for the controller
        with contextlib.suppress(TimeoutError):
            starting.exception(timeout=120)
    if _SHARED in config.stash:  # the controller: every worker is done
        shared.stop(config.stash[_SHARED])


def _launcher(s: Settings) -> Callable[[Path], ArmSim]:
    return lambda home: ArmSim.launch(home, lro=s.lro, database_url=s.database_url, settings=s.extra)


def _shared_directory(config: pytest.Config) -> Path | None:
    directory = getattr(config, "workerinput", {}).get(shared.KEY)
    return Path(directory) if directory else None


def pytest_collection_finish(session: pytest.Session) -> None:
    """(xdist worker) When a collected test needs the shared simulator, start or find it now, in the background."""
    directory = _shared_directory(session.config)
    if directory and any("arm_sim" in getattr(item, "fixturenames", ()) for item in session.items):
        session.config.stash[_STARTING] = shared.in_background(directory, _launcher(_settings(session.config)))


@pytest.fixture(scope="session")
def arm_sim(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[ArmSim]:
    """A running arm-sim for the whole session (a subprocess; one for all xdist workers): URLs, CA, bootstrap
    credentials, clients, `deploy()`, `what_if()`, `validate()`, `audit()`. Tests share it: isolate them with
    `arm_sim_rg` (or unique names)."""
    s = _settings(pytestconfig)
    if s.attach:
        yield ArmSim.attach(s.url or None, s.home or None)
        return
    directory = _shared_directory(pytestconfig)
    if directory:  # stopped by the controller
        starting = pytestconfig.stash.get(_STARTING, None)
        yield starting.result() if starting else shared.start_or_attach(directory, _launcher(s))
        return
    sim = _launcher(s)(tmp_path_factory.mktemp("arm-sim"))
    yield sim
    sim.stop()


@pytest.fixture
def arm_sim_rg(arm_sim: ArmSim, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, empty resource group for this test (its name); deleted with its contents after the test, its vaults
    purged (so their names are free again)."""
    stem = re.sub(r"[^A-Za-z0-9_.()-]+", "-", request.node.name).strip("-.")[:60]
    name = arm_sim.create_resource_group(f"{stem or 'test'}-{uuid.uuid4().hex[:8]}")
    yield name
    arm_sim.delete_resource_group(name, purge=True)


@pytest.fixture
def azure_proxy(arm_sim: ArmSim) -> Iterator[dict[str, str]]:
    """This test's process talks to Azure's own host names through the simulator's proxy: unmodified code that
    builds `DefaultAzureCredential()`, `SecretClient("https://{name}.vault.azure.net", cred)` or a management
    client with only a subscription id reaches `arm_sim`, as its bootstrap principal. The variables set (the
    standard proxy, CA and `AZURE_*` ones) are yielded, and restored after the test. For code inside a VM, use
    `with arm_sim.proxied(vm=vm_id):`."""
    with arm_sim.proxied() as values:
        yield values


@pytest.fixture
def arm_sim_reset(arm_sim: ArmSim) -> ArmSim:
    """The session's simulator, wiped clean before this test: no resources, principals or events, the clock at
    real time (bootstrap ids and ports stay). Prefer `arm_sim_rg` where it is enough: it costs nothing. Not for a
    simulator other workers share (use --arm-sim-per-worker) or one the plugin attached to."""
    if arm_sim.server is None or arm_sim.shared:
        pytest.fail("arm_sim_reset would wipe a simulator that other tests use at the same time (shared by xdist "
                    "workers, or attached with --arm-sim-url/--arm-sim-home); run with --arm-sim-per-worker, or "
                    "start one of your own with ArmSim.launch(tmp_path)", pytrace=False)
    arm_sim.reset()
    return arm_sim
