"""`serve --workers N`: a supervisor binds the listening sockets once, migrates once, and runs N worker processes
that each serve every listener on those shared sockets with their own event loop and database engine. It forwards
SIGTERM/SIGINT, replaces a worker that dies, and exits when they have; workers exit by themselves when it is gone."""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import time
from collections import deque
from types import FrameType

from arm_sim.app import announce, prepare, tls
from arm_sim.app.listeners import Listeners, WorkerSpec
from arm_sim.core.settings import Settings

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_WORKER_CMD = "from arm_sim.app.server import worker_main; worker_main()"
_RESTARTS = 5  # a worker that dies unasked is replaced, unless this many died within _RESTART_WINDOW
_RESTART_WINDOW = 60.0


class Supervisor:
    """Binds once, migrates once, starts N workers on the shared sockets, forwards signals and waits."""

    def __init__(self, settings: Settings, count: int) -> None:
        self.settings, self.count = settings, count
        self.workers: list[subprocess.Popen[bytes]] = []
        self.stopping: int | None = None  # the signal that asked to stop
        self.told: set[int] = set()  # workers it was forwarded to
        self.deaths: deque[float] = deque(maxlen=_RESTARTS)
        self.failed = False
        self.waiting: dict[int, int] = {}  # worker pid -> the read end of its "serving" pipe, until it writes
        self.announced = False  # server.json written, the ready line printed

    def run(self) -> int:
        # a signal while binding or migrating stops it once that is done (no worker is started then)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in SIGNALS}
        try:
            self._prepare()
            try:
                for _ in range(self.count):
                    if self.stopping is None:
                        self.workers.append(self._start())
                self._wait()
            finally:
                announce.withdraw(self.settings)
                self.socks.close()
                for fd in self.waiting.values():
                    with contextlib.suppress(OSError):
                        os.close(fd)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        # a worker still starting when the signal came may have died of it: stopped as asked all the same
        clean = {0, -signal.SIGTERM, -signal.SIGINT}
        return 1 if self.failed or any(w.returncode not in clean for w in self.workers) else 0

    def _prepare(self) -> None:
        s = self.settings
        # first: `--port 0` gets its real port before anything hands out a URL
        self.socks: Listeners = Listeners.bind(s)
        try:
            s = self.settings = announce.with_real_ports(s, self.socks)
            cert, key = tls.ensure(s.home, s.public_host, s.host)
            runtime = prepare(s)  # migrations and bootstrap, once, before any worker starts
            self.creds = announce.credentials(runtime, os.getpid())
            self.console = announce.console_link(runtime)
            engine = runtime.sessions.kw.get("bind")
            if engine is not None:
                engine.dispose()  # the supervisor keeps no database connection
        except BaseException:
            self.socks.close()
            raise
        self.tls_files = (str(cert), str(key))

    def _start(self) -> subprocess.Popen[bytes]:
        read_end, write_end = os.pipe()
        os.set_blocking(read_end, False)
        spec = WorkerSpec(self.settings, self.socks.fds(), self.tls_files, os.getpid(), write_end)
        # a session of its own: Ctrl-C in a terminal reaches the supervisor alone, which forwards it once
        try:
            proc = subprocess.Popen([sys.executable, "-c", _WORKER_CMD], stdin=subprocess.PIPE,
                                    start_new_session=True,
                                    pass_fds=[*(s.fileno() for s in self.socks.all()), write_end])
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        self.waiting[proc.pid] = read_end
        assert proc.stdin is not None
        try:
            proc.stdin.write(pickle.dumps(spec))
            proc.stdin.close()
        except BrokenPipeError:  # it died at once; _wait sees it
            pass
        return proc

    def _serving(self, proc: subprocess.Popen[bytes]) -> bool:
        """Whether `proc` said it serves (its pipe is closed and forgotten then)."""
        fd = self.waiting.get(proc.pid)
        if fd is None:
            return True
        try:
            said = os.read(fd, 1)
        except OSError:  # (BlockingIOError: nothing said yet)
            return False
        if said != b"1":  # end of file: it died before serving; _wait replaces it
            return False
        os.close(fd)
        del self.waiting[proc.pid]
        return True

    def _announce_when_all_serve(self) -> None:
        if self.announced or self.stopping is not None:
            return
        serving = [self._serving(w) for w in self.workers]  # (each checked: pipes of those that serve are closed)
        if all(serving):
            self.announced = True
            announce.publish(self.settings, self.creds, self.count, self.console)

    def _on_signal(self, sig: int, _frame: FrameType | None) -> None:
        self.stopping = sig
        announce.withdraw(self.settings)  # stopping: nobody should find it now
        self.told.clear()  # a second signal is forwarded too (it makes the workers stop waiting)
        self._forward()
        if self.workers:  # (while it binds and migrates, run() closes them once that is done)
            self.socks.close()  # once the workers closed theirs too, new connections are refused, not left queued

    def _forward(self) -> None:
        assert self.stopping is not None
        for w in self.workers:
            if w.pid not in self.told and w.poll() is None:
                self.told.add(w.pid)
                with contextlib.suppress(ProcessLookupError):
                    w.send_signal(self.stopping)

    def _wait(self) -> None:
        while True:
            if self.stopping is not None:
                self._forward()  # a worker started while the signal was handled was not told yet
            else:
                self._announce_when_all_serve()
            alive = False
            for i, w in enumerate(self.workers):
                code = w.poll()
                if code is None:
                    alive = True
                elif self.stopping is None and not self.failed:
                    alive = True
                    self._replace(i, code)
            if not alive:
                return
            time.sleep(0.1)

    def _replace(self, i: int, code: int) -> None:
        now = time.monotonic()
        self.deaths.append(now)
        if len(self.deaths) == _RESTARTS and now - self.deaths[0] < _RESTART_WINDOW:
            print(f"arm-sim: workers keep exiting (last code {code}); stopping", file=sys.stderr, flush=True)
            self.failed = True
            self._on_signal(signal.SIGTERM, None)
            return
        print(f"arm-sim: worker {self.workers[i].pid} exited with code {code}; starting another", file=sys.stderr,
              flush=True)
        with contextlib.suppress(KeyError, OSError):
            os.close(self.waiting.pop(self.workers[i].pid))
        self.workers[i] = self._start()
