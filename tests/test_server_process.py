"""The server as a process: nothing outlives a SIGKILL, SIGTERM lets requests in flight finish (or answers them 503
in ARM's envelope past the grace), and `serve --workers N` serves from N processes that end with their parent."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from arm_sim.cli.main import _parser
from arm_sim.core.settings import from_env
from arm_sim.testing.server import descendants
from tests.simserver import Sim, fresh_database_url

API = "api-version=2025-04-01"


# --- processes -----------------------------------------------------------------------------------------------------


def running(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                out.append(pid)
        except (OSError, IndexError):
            pass
    return out


def wait_gone(pids: list[int], within: float = 5.0) -> list[int]:
    deadline = time.monotonic() + within
    while (left := running(pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def children_appear(pid: int, count: int, timeout: float = 20) -> list[int]:
    deadline = time.monotonic() + timeout
    while len(found := descendants(pid)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def serve(sim: Sim, *args: str, timeout: float = 60) -> subprocess.Popen[bytes]:
    """`arm-sim serve ARGS` for `sim`'s home, database and ports; returns once it answers."""
    sim.home.mkdir(parents=True, exist_ok=True)
    with open(sim.home / "server.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "arm_sim", "serve", *args], env=sim.env(), stdout=log,
                                stderr=subprocess.STDOUT)
    sim.proc = proc
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, (sim.home / "server.log").read_text()[-3000:]
        try:
            if httpx.get(f"{sim.url}/_sim/health", verify=sim.ca, timeout=1).status_code == 200:
                return proc
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.1)
    raise AssertionError("arm-sim did not start")


@pytest.fixture
def new_sim(tmp_path: Path) -> Iterator[Any]:
    """make(**extra_env) -> a Sim (not started); every process started is gone after the test."""
    made: list[Sim] = []

    def make(**extra_env: str) -> Sim:
        sim = Sim(home=tmp_path / f"sim{len(made)}", database_url=fresh_database_url(), extra_env=extra_env)
        made.append(sim)
        return sim

    yield make
    for sim in made:
        proc = sim.proc
        tree = descendants(proc.pid) if proc is not None else []
        sim.stop()
        for pid in running(tree):
            os.kill(pid, signal.SIGKILL)


# --- a slow request: a deployment of many resources, answered when it is done (ARM_SIM_LRO=sync) ------------------

def slow_deployment(sim: Sim, resources: int = 1600) -> tuple[threading.Thread, dict[str, Any]]:
    """Start a deployment PUT that takes seconds (generic resources: no key generation) on a thread of its own;
    the result dict gets `response` (or `error`) and `at` (monotonic time of the answer)."""
    sub = f"/subscriptions/{sim.subscription}"
    with sim.http() as c:
        assert c.put(f"{sub}/resourcegroups/slow?{API}", json={"location": "eastus"}).status_code in (200, 201)
    loops = [{"type": "Microsoft.EventHub/namespaces", "apiVersion": "2024-01-01", "location": "eastus",
              "name": f"[concat('r{i}-', copyIndex())]", "copy": {"name": f"c{i}", "count": 800}}
             for i in range(resources // 800)]
    body = {"properties": {"mode": "Incremental", "template": {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0", "resources": loops}}}
    token = sim.token()
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            with httpx.Client(base_url=sim.url, verify=sim.ca, timeout=120,
                              headers={"Authorization": f"Bearer {token}"}) as c:
                result["sent"] = time.monotonic()
                result["response"] = c.put(f"{sub}/resourcegroups/slow/providers/Microsoft.Resources/deployments/"
                                           f"big?{API}", json=body)
        except httpx.HTTPError as e:
            result["error"] = e
        result["at"] = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    while "sent" not in result:
        time.sleep(0.01)
    time.sleep(0.6)  # on the wire and running
    return thread, result


def quiet_exit(sim: Sim) -> None:
    """The server stopped as asked: no ERROR line, no traceback, and its discovery files are gone."""
    log = (sim.home / "server.log").read_text()
    assert "ERROR" not in log and "Traceback" not in log, log[-3000:]
    assert not (sim.home / "server.json").exists() and not (sim.home / "credentials.json").exists()


def refused(port: int, within: float = 5.0) -> bool:
    """Whether new connections to `port` are refused (soon: the server notices its signal within a tick)."""
    deadline = time.monotonic() + within
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except ConnectionRefusedError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


# --- A: nothing outlives a killed server ---------------------------------------------------------------------------


def test_a_killed_server_leaves_no_process_behind(new_sim: Any) -> None:
    sim = new_sim().start()
    assert sim.proc is not None
    tree = children_appear(sim.proc.pid, 2)  # the key-pool worker and the multiprocessing resource tracker
    assert any("multiprocessing" in cmdline(p) for p in tree), [cmdline(p) for p in tree]
    sim.proc.send_signal(signal.SIGKILL)
    sim.proc.wait()
    assert wait_gone(tree) == [], [cmdline(p) for p in running(tree)]


# --- B: graceful SIGTERM -------------------------------------------------------------------------------------------


def test_b_sigterm_lets_a_request_in_flight_finish_and_exits_0(new_sim: Any) -> None:
    # a grace well past the slow deployment's time, even on a loaded machine: the default 30 s once ran out in CI
    sim = new_sim(ARM_SIM_LRO="sync", ARM_SIM_SHUTDOWN_GRACE="150").start()
    assert sim.proc is not None
    tree = children_appear(sim.proc.pid, 2)
    thread, result = slow_deployment(sim)
    signalled = time.monotonic()
    sim.proc.send_signal(signal.SIGTERM)
    assert refused(sim.port)  # no new connections while the request in flight finishes
    thread.join(120)
    response = result.get("response")
    assert response is not None, result.get("error")
    assert result["at"] > signalled, "the deployment finished before the signal: make it larger"
    assert response.status_code == 201, response.text
    assert response.json()["properties"]["provisioningState"] == "Succeeded"
    assert sim.proc.wait(30) == 0
    assert wait_gone(tree) == []
    quiet_exit(sim)
    sim.proc = None
    sim.start()  # the deployment's work was committed, all of it
    with sim.http() as c:
        r = c.get(f"/subscriptions/{sim.subscription}/resourcegroups/slow/providers/Microsoft.Resources/deployments/"
                  f"big?{API}")
        assert r.json()["properties"]["provisioningState"] == "Succeeded"
        last = c.get(f"/subscriptions/{sim.subscription}/resourceGroups/slow/providers/Microsoft.EventHub/namespaces/"
                     f"r1-799?api-version=2024-01-01")
        assert last.status_code == 200, last.text


def test_b_past_the_grace_a_request_gets_an_arm_503_not_plain_text(new_sim: Any) -> None:
    sim = new_sim(ARM_SIM_LRO="sync", ARM_SIM_SHUTDOWN_GRACE="0.3").start()
    assert sim.proc is not None
    thread, result = slow_deployment(sim)
    sim.proc.send_signal(signal.SIGTERM)
    thread.join(120)
    response = result.get("response")
    assert response is not None, result.get("error")
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["error"]["code"] == "ServiceUnavailable"
    assert sim.proc.wait(30) == 0


def test_b_an_idle_keep_alive_connection_does_not_hold_the_exit_up(new_sim: Any) -> None:
    sim = new_sim().start()
    assert sim.proc is not None
    with sim.http() as c:  # a pooled TLS connection that never answers the server's close_notify
        assert c.get("/_sim/health").status_code == 200
        started = time.monotonic()
        sim.proc.send_signal(signal.SIGTERM)
        assert sim.proc.wait(30) == 0
    assert time.monotonic() - started < 10
    quiet_exit(sim)


def test_b_sigterm_while_starting_exits_0_quietly(new_sim: Any) -> None:
    sim = new_sim()
    sim.home.mkdir(parents=True)
    for delay in (0.8, 2.5):  # loading the code, then binding and migrating (on a loaded machine: later)
        with open(sim.home / "server.log", "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "arm_sim", "serve"], env=sim.env(), stdout=log,
                                    stderr=subprocess.STDOUT)
        time.sleep(delay)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, (sim.home / "server.log").read_text()
        quiet_exit(sim)


def test_b_the_grace_is_a_setting() -> None:
    assert from_env({}).shutdown_grace == 30
    assert from_env({"ARM_SIM_SHUTDOWN_GRACE": "2.5"}).shutdown_grace == 2.5
    for bad in ("-1", "nan", "inf", "soon"):
        with pytest.raises(ValueError):
            from_env({"ARM_SIM_SHUTDOWN_GRACE": bad})


# --- C: serve --workers N ------------------------------------------------------------------------------------------


def workers_of(pid: int) -> list[int]:
    return [p for p in descendants(pid) if "worker_main" in cmdline(p)]


def accepted_by(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """Which of `pids` holds the server's end of the connection from `client_port` (from /proc: no header, no
    log line in the server tells it)."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == server_port and int(fields[2].rsplit(":", 1)[1], 16) == client_port:
            inode = fields[9]
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


def test_c_workers_serve_one_state_and_end_with_a_killed_parent(new_sim: Any) -> None:
    sim = new_sim()
    proc = serve(sim, "--workers", "2")
    deadline = time.monotonic() + 20
    while len(workers := workers_of(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(workers) == 2
    sub = f"/subscriptions/{sim.subscription}"
    token = sim.token()
    context = ssl.create_default_context(cafile=sim.ca)
    served: set[int | None] = set()
    for i in range(16):  # a new connection each time: whichever worker accepts it answers
        with httpx.Client(base_url=sim.url, verify=sim.ca, headers={"Authorization": f"Bearer {token}"}) as c:
            r = c.put(f"{sub}/resourcegroups/w{i}?{API}", json={"location": "eastus", "tags": {"i": str(i)}})
            assert r.status_code == 201, r.text
        with httpx.Client(base_url=sim.url, verify=sim.ca, headers={"Authorization": f"Bearer {token}"}) as c:
            assert c.get(f"{sub}/resourcegroups/w{i}?{API}").json()["tags"] == {"i": str(i)}
        assert httpx.get(f"{sim.imds_url}/vms/unknown/metadata/instance", timeout=10).status_code < 500  # identity
        with context.wrap_socket(socket.create_connection(("127.0.0.1", sim.port)), server_hostname="localhost") as s:
            s.sendall(b"GET /_sim/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert s.recv(100).startswith(b"HTTP/1.1 200")
            served.add(accepted_by(sim.port, s.getsockname()[1], workers))
    # each connection was accepted by a worker, never by the parent (which of the two is the kernel's choice: under
    # load one may take them all)
    found = served - {None}  # (None: the lookup raced the connection's end)
    assert found and found <= set(workers), (served, workers)
    tree = descendants(proc.pid)
    assert len(tree) >= 4  # two workers, and a key-pool worker (with its resource tracker) each
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert wait_gone(tree) == [], [cmdline(p) for p in running(tree)]
    sim.proc = None
    assert refused(sim.port)


def test_c_sigterm_reaches_the_workers_and_requests_in_flight_finish(new_sim: Any) -> None:
    sim = new_sim(ARM_SIM_LRO="sync")
    proc = serve(sim, "--workers", "2")
    tree = children_appear(proc.pid, 6)  # two workers, each with a key-pool worker and its resource tracker
    thread, result = slow_deployment(sim)
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    thread.join(120)
    response = result.get("response")
    assert response is not None, result.get("error")
    assert result["at"] > signalled, "the deployment finished before the signal: make it larger"
    assert response.status_code == 201, response.text
    assert proc.wait(30) == 0
    assert wait_gone(tree) == []
    quiet_exit(sim)


def test_c_workers_must_be_a_positive_number() -> None:
    assert _parser().parse_args(["serve", "--workers", "3"]).workers == 3
    assert _parser().parse_args(["serve"]).workers == 1
    for bad in ("0", "-2", "two"):
        with pytest.raises(SystemExit):
            _parser().parse_args(["serve", "--workers", bad])


def test_serve_ports_flags() -> None:
    args = _parser().parse_args(["serve", "--port", "0", "--imds-port", "0", "--vault-ports", "9000-9009"])
    assert (args.port, args.imds_port, args.vault_ports) == (0, 0, (9000, 9009))
    assert _parser().parse_args(["serve", "--vault-ports", "9100"]).vault_ports == (9100, 9100)
    for bad in (["--port", "65536"], ["--port", "x"], ["--vault-ports", "9-8"], ["--vault-ports", "0-3"]):
        with pytest.raises(SystemExit):
            _parser().parse_args(["serve", *bad])
