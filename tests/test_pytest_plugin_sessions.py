"""The pytest plugin in whole sessions, each in a subprocess (pytester), and simulators of the tests' own: options
and a given database, one simulator shared by xdist workers (and stopped after them), attach mode by URL and by
home, and the example suite (tests/examples) run against a server started apart from it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from arm_sim.testing import ArmSim, Sim, free_port
from arm_sim.testing.wire import request

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent


def plain_env() -> dict[str, str]:
    """This environment without the outer session's xdist and arm-sim variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("ARM_SIM_", "PYTEST_XDIST_", "PYTEST_CURRENT"))}


# --- simulators of a test's own -----------------------------------------------------------------------------------

def test_clock_events_and_reset(tmp_path: Path) -> None:
    # a simulator of its own: the clock and a reset are global, and the session's may be shared by xdist workers
    sim = ArmSim.launch(tmp_path / "own")
    try:
        kept = {"tenant": sim.tenant, "subscription": sim.subscription, "client": sim.client_id}
        group = sim.create_resource_group()
        first = sim.advance_clock("1h")
        second = sim.advance_clock(90)
        assert second["offsetSeconds"] - first["offsetSeconds"] == pytest.approx(90)
        assert [e["details"]["by"] for e in sim.events(kind="clock.advanced")][-2:] == ["1h", "90"]

        sim.reset()
        assert {"tenant": sim.tenant, "subscription": sim.subscription, "client": sim.client_id} == kept
        assert sim.request("GET", f"{sim.group_id(group)}?api-version=2025-04-01").status == 404
        assert sim.request("GET", "/_sim/clock").body["offsetSeconds"] == 0
        assert sim.events(kind="clock.advanced") == []
    finally:
        sim.stop()


def test_attach_by_home_or_by_url(arm_sim: ArmSim, tmp_path: Path) -> None:
    by_home = ArmSim.attach(home=arm_sim.home)  # its server.json and credentials.json
    by_url = ArmSim.attach(arm_sim.url, env=arm_sim.env())  # what `arm-sim env` prints
    for attached in (by_home, by_url):
        assert (attached.url, attached.tenant, attached.client_secret) == (arm_sim.url, arm_sim.tenant,
                                                                           arm_sim.client_secret)
        assert attached.server is None and attached.shared
        assert attached.request("GET", f"/subscriptions/{arm_sim.subscription}?api-version=2022-12-01").ok
        with pytest.raises(RuntimeError, match="shared or attached"):
            attached.reset()
        attached.stop()  # not ours to stop: nothing happens
    assert arm_sim.request("GET", "/_sim/health").ok

    with pytest.raises(RuntimeError, match="no server runs for home"):
        ArmSim.attach(home=tmp_path, env={})
    with pytest.raises(RuntimeError, match="missing: ARM_SIM_CA"):
        ArmSim.attach("https://localhost:1", env={})
    with pytest.raises(RuntimeError, match="no arm-sim answers"):
        ArmSim.attach(f"https://localhost:{free_port()}", env=arm_sim.env())


# --- whole sessions ---------------------------------------------------------------------------------------------

SESSION = '''
created = []


def test_first(arm_sim, arm_sim_rg):
    assert arm_sim.tenant == "{tenant}"  # the bootstrap of the database it was given
    created.append(arm_sim_rg)
    other = arm_sim.create_resource_group()
    r = arm_sim.request("DELETE", arm_sim.group_id(other) + "?api-version=2025-04-01")
    assert r.status == 202 and "azure-asyncoperation" in r.headers  # --arm-sim-lro async: as Azure


def test_second(arm_sim, arm_sim_rg):
    assert arm_sim_rg != created[0]
    gone = arm_sim.request("GET", arm_sim.group_id(created[0]) + "?api-version=2025-04-01")
    assert gone.status == 404  # the first test's group went when the test ended


def test_reset(arm_sim_reset):
    assert arm_sim_reset.server is not None and not arm_sim_reset.shared  # serial: the session's own
    assert arm_sim_reset.request("GET", arm_sim_reset.group_id(created[0]) + "?api-version=2025-04-01").status == 404
'''


def test_a_session_with_the_plugin(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # a database that already has a bootstrap (another tenant than the plugin would pin): the plugin adopts it
    url, tenant = f"sqlite:///{pytester.path / 'given.db'}", str(uuid.uuid4())
    out = subprocess.run([sys.executable, "-m", "arm_sim", "--home", str(pytester.path / "given"), "--database-url",
                          url, "migrate"], env={**os.environ, "ARM_SIM_TENANT_ID": tenant}, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    monkeypatch.setenv("ARM_SIM_LRO", "sync")  # the shell's ARM_SIM_* settings do not reach the plugin's simulator
    pytester.makepyfile(test_session=SESSION.replace("{tenant}", tenant))
    result = pytester.runpytest_subprocess("--arm-sim-lro", "async", "--arm-sim-database-url", url,
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


SHARED = '''
import os
from pathlib import Path

import pytest


@pytest.mark.parametrize("n", range(6))
def test_where(arm_sim, arm_sim_rg, n):
    assert arm_sim.shared and arm_sim.request("GET", arm_sim.group_id(arm_sim_rg) + "?api-version=2025-04-01").ok
    Path(os.environ["OUT"], f"{n}").write_text(f"{arm_sim.url} {os.environ['PYTEST_XDIST_WORKER']}")


def test_no_reset_of_a_shared_simulator(arm_sim_reset):
    pass
'''


def test_xdist_workers_share_one_simulator(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    out = pytester.mkdir("out")
    monkeypatch.setenv("OUT", str(out))
    pytester.makepyfile(test_shared=SHARED)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6, errors=1)
    result.stdout.fnmatch_lines(["*arm_sim_reset would wipe a simulator that other tests use*"])
    seen = [f.read_text().split() for f in out.iterdir()]
    assert len({url for url, _ in seen}) == 1 and len({worker for _, worker in seen}) == 2
    with pytest.raises(OSError):  # the controller stopped it once both workers were done
        request("GET", f"{seen[0][0]}/_sim/health", str(next(pytester.path.rglob("arm-sim-shared/home/ca.pem"))),
                timeout=5)


ATTACHED = '''
def test_attached(arm_sim, arm_sim_rg):
    assert arm_sim.server is None and arm_sim.url == "{url}"


def test_no_reset_of_an_attached_simulator(arm_sim_reset):
    pass
'''


def test_a_session_attached_by_url(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                   arm_sim: ArmSim) -> None:
    for name, value in arm_sim.env().items():  # as after `eval "$(arm-sim env)"`
        monkeypatch.setenv(name, value)
    pytester.makepyfile(test_attached=ATTACHED.replace("{url}", arm_sim.url))
    result = pytester.runpytest_subprocess("--arm-sim-url", arm_sim.url, "-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    assert arm_sim.request("GET", "/_sim/health").ok  # still running: not the session's to stop


def test_the_example_suite_against_a_running_server(tmp_path: Path) -> None:
    server = Sim(home=tmp_path / "server", hermetic=True, extra_env={"ARM_SIM_LRO": "sync"}).start()
    try:
        run = subprocess.run([sys.executable, "-m", "pytest", "tests/examples", "--arm-sim-home", str(server.home),
                              "-n", "2", "-q", "-p", "no:cacheprovider"], cwd=ROOT, env=plain_env(),
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
        assert server.proc is not None and server.proc.poll() is None  # attached: left running
    finally:
        server.stop()


def test_bad_settings_are_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\narm_sim_env =\n    NOT_A_SETTING\n")
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*arm_sim_env lines are ARM_SIM_NAME=value*"])
