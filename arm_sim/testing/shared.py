"""One simulator for all the xdist workers of a session.

The controller picks a directory and hands it to every worker (`workerinput`). The first worker that needs a
simulator starts it there, under a file lock, and records how to reach it (`connection.json`, its owner's only:
it holds the bootstrap secret) and its pid; the others attach. No worker stops it: a worker that finishes early
cannot know whether another is about to start a test. The controller stops it once every worker is done
(`pytest_unconfigure`), SIGTERM then SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path

from arm_sim.testing.simulator import ArmSim

try:
    import fcntl
except ImportError:  # (Windows: each worker keeps a simulator of its own)
    fcntl = None  # type: ignore[assignment]

__all__ = ["KEY", "in_background", "supported", "start_or_attach", "stop"]

KEY = "arm_sim_shared"  # the workerinput entry: the shared directory
supported = fcntl is not None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _gone(pid: int) -> bool:
    """Whether `pid` has exited (a zombie has: only its exit status is left for a parent to collect)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def start_or_attach(directory: Path, launch: Callable[[Path], ArmSim]) -> ArmSim:
    """The session's simulator: attach to the one recorded in `directory`, or start it with `launch(home)`."""
    directory.mkdir(parents=True, exist_ok=True)
    record, home = directory / "connection.json", directory / "home"
    with _locked(directory / "lock"):
        try:
            saved = json.loads(record.read_text())
        except (OSError, ValueError):
            saved = None
        if saved and not _gone(int(saved["pid"])):
            return ArmSim.attach(home=home, env=saved["env"], shared=True)
        sim = launch(home)
        assert sim.server is not None and sim.server.proc is not None
        sim.shared = True
        fd = os.open(directory / ".connection.tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"pid": sim.server.proc.pid, "env": sim.env()}, f)
        os.replace(directory / ".connection.tmp", record)
        return sim


def in_background(directory: Path, launch: Callable[[Path], ArmSim]) -> Future[ArmSim]:
    """`start_or_attach` in a thread: a worker begins as soon as it has collected, so that the server boots while
    the workers start and the controller schedules, rather than after."""
    future: Future[ArmSim] = Future()

    def run() -> None:
        try:
            future.set_result(start_or_attach(directory, launch))
        except BaseException as e:  # (handed to the fixture, which raises it in the test that needs the server)
            future.set_exception(e)

    threading.Thread(target=run, name="arm-sim-start", daemon=True).start()
    return future


def stop(directory: Path, timeout: float = 20) -> None:
    """Stop the simulator recorded in `directory`, if any (every worker is done with it)."""
    record = directory / "connection.json"
    try:
        pid = int(json.loads(record.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    record.unlink(missing_ok=True)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while not _gone(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.05)
