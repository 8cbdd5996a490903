"""Serve every listener: main (HTTPS), identity (HTTP) and the vault port pool (HTTPS).

One process serves them all, or (`serve --workers N`) a supervisor binds the listening sockets once, migrates once,
and runs N worker processes that each serve every listener on those shared sockets with their own event loop and
database engine: no state lives only in a process's memory (DESIGN §6), so any worker may answer any request.

Stopping (SIGTERM or SIGINT): listeners close at once, requests in flight may finish for `ARM_SIM_SHUTDOWN_GRACE`
seconds, and whatever is still running then is answered 503 `ServiceUnavailable` with Retry-After, in ARM's
envelope, never uvicorn's plain-text 500. Workers and the key-pool worker exit by themselves when their parent is
gone, so nothing outlives a server killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import FrameType

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arm_sim.app import Apps, create_apps, prepare, tls
from arm_sim.core.settings import Settings
from arm_sim.domain.keypool import POOL, watch_parent
from arm_sim.hosts.http import JSON_TYPE, dumps

log = logging.getLogger("arm_sim")

RETRY_AFTER = 5  # seconds: about what a restart takes
_UVICORN_MARGIN = 2.0  # uvicorn cancels what still runs this long after the 503s went out
_LEFTOVER_WAIT = 1.0  # then what still runs (a request thread deep in its work) gets this long before a hard exit
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Server(uvicorn.Server):
    """uvicorn.Server whose signals are handled once for all listeners by `serve`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise SystemExit(f"arm-sim: cannot listen on {host}:{port}: {e.strerror}") from e
    sock.listen(2048)
    sock.setblocking(False)
    return sock


@dataclass
class Listeners:
    """The listening sockets: main, identity, and one per vault port."""

    main: list[socket.socket]
    identity: list[socket.socket]
    vaults: list[socket.socket]

    @classmethod
    def bind(cls, settings: Settings) -> Listeners:
        lo, hi = settings.vault_ports
        bound: list[socket.socket] = []
        try:
            for port in (settings.port, settings.imds_port, *range(lo, hi + 1)):
                bound.append(_bind(settings.host, port))
        except BaseException:
            for sock in bound:
                sock.close()
            raise
        return cls(bound[:1], bound[1:2], bound[2:])

    def all(self) -> list[socket.socket]:
        return [*self.main, *self.identity, *self.vaults]

    def fds(self) -> dict[str, list[int]]:
        return {name: [s.fileno() for s in getattr(self, name)] for name in ("main", "identity", "vaults")}

    @classmethod
    def adopt(cls, fds: dict[str, list[int]]) -> Listeners:
        """The sockets a worker inherited from the supervisor (the same open sockets, shared)."""
        return cls(**{name: [socket.socket(fileno=fd) for fd in numbers] for name, numbers in fds.items()})

    def close(self) -> None:
        for sock in self.all():
            with contextlib.suppress(OSError):
                sock.close()


def _config(app: ASGIApp, settings: Settings, tls_files: tuple[str, str] | None) -> uvicorn.Config:
    kwargs: dict[str, object] = {}
    if tls_files:
        kwargs.update(ssl_certfile=tls_files[0], ssl_keyfile=tls_files[1])
    # uvicorn's own shutdown timeout only backs up the drain's, which answers first (see _Drain)
    kwargs["timeout_graceful_shutdown"] = settings.shutdown_grace + _UVICORN_MARGIN
    return uvicorn.Config(app, log_level=settings.log_level if settings.log_level != "info" else "warning",
                          access_log=settings.log_level == "debug", lifespan="off", loop="auto", http="auto",
                          timeout_keep_alive=30, **kwargs)  # type: ignore[arg-type]


# --- graceful shutdown ---------------------------------------------------------------------------------------------


def _unavailable_body() -> bytes:
    return dumps({"error": {"code": "ServiceUnavailable", "message": (
        "arm-sim is shutting down and could not finish this request in time; it may or may not have taken effect. "
        f"Retry after {RETRY_AFTER} seconds.")}})


class _InFlight:
    """One request being answered: its own `send`, and whether its answer has begun (or been given for it)."""

    __slots__ = ("cut", "send", "started")

    def __init__(self, send: Send) -> None:
        self.send, self.started, self.cut = send, False, False

    async def forward(self, message: Message) -> None:
        if self.cut:  # answered 503 already: what the handler says now goes nowhere
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)

    async def unavailable(self) -> None:
        """Answer 503 now, in place of whatever the handler would have said."""
        self.cut = True
        body = _unavailable_body()
        try:
            await self.send({"type": "http.response.start", "status": 503, "headers": [
                (b"content-type", JSON_TYPE.encode()), (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(RETRY_AFTER).encode()), (b"x-ms-request-id", str(uuid.uuid4()).encode())]})
            await self.send({"type": "http.response.body", "body": body})
        except Exception:  # the connection is gone: nobody is waiting for the answer
            log.debug("could not answer 503 to a request cut off by the shutdown", exc_info=True)


class _Draining:
    """Pure ASGI, outermost: keeps the set of requests in flight so that a shutdown can answer those that run past
    the grace."""

    def __init__(self, app: ASGIApp, drain: _Drain) -> None:
        self.app, self.drain = app, drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = _InFlight(send)
        requests = self.drain.requests
        requests.add(request)
        try:
            await self.app(scope, receive, request.forward)
        except asyncio.CancelledError:
            # uvicorn cancels what still runs once its own timeout is over; nothing else cancels a request
            if not self.drain.stopping:
                raise
            if not request.started and not request.cut:
                await request.unavailable()
            if not request.cut:
                raise
        finally:
            requests.discard(request)


class _Drain:
    """Stopping all listeners of one process gracefully (see the module's docstring)."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.requests: set[_InFlight] = set()
        self.stopping = False
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def wrap(self, app: ASGIApp) -> ASGIApp:
        return _Draining(app, self)

    def stop(self, servers: Sequence[uvicorn.Server]) -> None:
        """First call: stop accepting, let requests in flight finish within the grace. A second call (another
        signal): answer what still runs now."""
        if self.stopping:
            self.cut_off()
            return
        self.stopping = True
        for server in servers:
            server.should_exit = True  # uvicorn closes its listeners and idle connections, then waits for the rest
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.grace, self.cut_off)
        self._tasks.append(loop.create_task(self._close_when_answered(servers)))

    def cut_off(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._tasks.append(asyncio.ensure_future(self._answer_the_rest()))

    async def _answer_the_rest(self) -> None:
        waiting = [r for r in self.requests if not r.started and not r.cut]
        if waiting:
            log.warning("arm-sim: shutting down; %d request(s) still running after %g s answered 503",
                        len(waiting), self.grace)
        for request in waiting:
            await request.unavailable()

    async def _close_when_answered(self, servers: Sequence[uvicorn.Server]) -> None:
        """Once every request has its answer (its own or the 503), close the connections left and stop waiting.

        uvicorn would wait for every connection to close, and closing an idle keep-alive TLS connection waits for
        the peer's close_notify, which a client holding the connection in its pool never sends (asyncio gives up
        after 30 s). A connection is aborted once what it was sent has left its buffers."""
        loop = asyncio.get_running_loop()
        quiet_since: float | None = None
        while True:
            if any(not r.cut for r in self.requests):
                quiet_since = None
                await asyncio.sleep(0.05)
                continue
            now = loop.time()
            if quiet_since is None:  # a request arriving just now on a connection still open is let in
                quiet_since = now
            deadline = quiet_since + 5
            left = [c for server in servers for c in server.server_state.connections]
            if not left:
                break
            if now - quiet_since >= 0.2:
                for conn in left:
                    transport = getattr(conn, "transport", None)
                    if transport is not None and (now > deadline or _flushed(transport)):
                        transport.abort()
            await asyncio.sleep(0.05)
        for server in servers:
            server.force_exit = True  # a request cut off may run on in its thread: finish() deals with it

    async def finish(self) -> None:
        """After the servers stopped: wait briefly for requests still running (their answers are given), then exit
        hard if one is still stuck in its work. A hard exit is as safe as a crash, which must be safe: an
        unfinished transaction rolls back."""
        if self._timer is not None:
            self._timer.cancel()
        current = asyncio.current_task()
        left = [t for t in asyncio.all_tasks() if t is not current and not t.done() and t not in self._tasks]
        for task in self._tasks:
            task.cancel()
        if not left:
            return
        _, pending = await asyncio.wait(left, timeout=_LEFTOVER_WAIT)
        if pending:
            log.warning("arm-sim: %d task(s) still running at shutdown; exiting without them", len(pending))
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)


def _flushed(transport: asyncio.BaseTransport) -> bool:
    try:
        return transport.get_write_buffer_size() == 0  # type: ignore[attr-defined, no-any-return]
    except Exception:  # closed already
        return True


# --- one process -------------------------------------------------------------------------------------------------


@dataclass
class WorkerSpec:
    """What the supervisor hands a worker process (pickled on its stdin)."""

    settings: Settings
    fds: dict[str, list[int]]
    tls_files: tuple[str, str]
    parent: int


async def serve_async(settings: Settings, apps: Apps | None = None, ready: asyncio.Event | None = None, *,
                      worker: WorkerSpec | None = None) -> None:
    """Serve until SIGTERM/SIGINT (or, for a worker, until its supervisor is gone)."""
    if worker is None:
        cert, key = tls.ensure(settings.home, settings.public_host)
        runtime = prepare(settings)
        files = (str(cert), str(key))
    else:  # the supervisor migrated and made the certificates
        runtime, files = None, worker.tls_files
    POOL.start()  # identity certificates need RSA keys: make them ahead of need
    try:
        apps = apps or create_apps(settings, runtime)
        socks = Listeners.adopt(worker.fds) if worker is not None else Listeners.bind(settings)
        drain = _Drain(settings.shutdown_grace)
        servers = [_Server(_config(drain.wrap(apps.main_listener), settings, files)),
                   _Server(_config(drain.wrap(apps.identity), settings, None)),
                   _Server(_config(drain.wrap(apps.vaults_listener), settings, files))]
        listeners: list[tuple[uvicorn.Server, list[socket.socket]]] = list(
            zip(servers, [socks.main, socks.identity, socks.vaults], strict=True))
        loop = asyncio.get_running_loop()

        def stop() -> None:
            drain.stop(servers)

        for sig in _SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop)
        if worker is not None:
            def supervisor_gone() -> None:
                with contextlib.suppress(RuntimeError):  # the loop is closed: this worker is exiting anyway
                    loop.call_soon_threadsafe(stop)

            watch_parent(worker.parent, supervisor_gone)
        else:
            lo, hi = settings.vault_ports
            print(f"arm-sim {settings.public_url} (identity {settings.imds_url}, vaults {lo}-{hi}, "
                  f"data {settings.home.resolve()})", flush=True)
        tasks = [asyncio.create_task(server.serve(sockets=s)) for server, s in listeners]
        if ready is not None:
            while not all(server.started for server in servers):
                await asyncio.sleep(0.01)
            ready.set()
        await asyncio.gather(*tasks)
        await drain.finish()
    finally:
        POOL.stop()


def _run(settings: Settings, worker: WorkerSpec | None = None) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve_async(settings, worker=worker))
    else:
        uvloop.run(serve_async(settings, worker=worker))


def worker_main() -> None:
    """A worker process's entry point (started by `_Supervisor`)."""
    spec: WorkerSpec = pickle.load(sys.stdin.buffer)
    sys.stdin.close()
    _run(spec.settings, spec)


# --- N processes -------------------------------------------------------------------------------------------------

_WORKER_CMD = "from arm_sim.app.server import worker_main; worker_main()"
_RESTARTS = 5  # a worker that dies unasked is replaced, unless this many died within _RESTART_WINDOW
_RESTART_WINDOW = 60.0


class _Supervisor:
    """Binds once, migrates once, starts N workers on the shared sockets, forwards signals and waits."""

    def __init__(self, settings: Settings, count: int) -> None:
        self.settings, self.count = settings, count
        self.workers: list[subprocess.Popen[bytes]] = []
        self.stopping: int | None = None  # the signal that asked to stop
        self.told: set[int] = set()  # workers it was forwarded to
        self.deaths: deque[float] = deque(maxlen=_RESTARTS)
        self.failed = False

    def run(self) -> int:
        s = self.settings
        cert, key = tls.ensure(s.home, s.public_host)
        engine = prepare(s).sessions.kw.get("bind")  # migrations and bootstrap, once, before any worker starts
        if engine is not None:
            engine.dispose()  # the supervisor keeps no database connection
        self.socks = Listeners.bind(s)
        self.spec = pickle.dumps(WorkerSpec(s, self.socks.fds(), (str(cert), str(key)), os.getpid()))
        previous = {sig: signal.signal(sig, self._on_signal) for sig in _SIGNALS}
        try:
            for _ in range(self.count):
                if self.stopping is None:
                    self.workers.append(self._start())
            lo, hi = s.vault_ports
            print(f"arm-sim {s.public_url} (identity {s.imds_url}, vaults {lo}-{hi}, data {s.home.resolve()}, "
                  f"{self.count} workers)", flush=True)
            self._wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.socks.close()
        # a worker still starting when the signal came may have died of it: stopped as asked all the same
        clean = {0, -signal.SIGTERM, -signal.SIGINT}
        return 1 if self.failed or any(w.returncode not in clean for w in self.workers) else 0

    def _start(self) -> subprocess.Popen[bytes]:
        # a session of its own: Ctrl-C in a terminal reaches the supervisor alone, which forwards it once
        proc = subprocess.Popen([sys.executable, "-c", _WORKER_CMD], stdin=subprocess.PIPE, start_new_session=True,
                                pass_fds=[s.fileno() for s in self.socks.all()])
        assert proc.stdin is not None
        try:
            proc.stdin.write(self.spec)
            proc.stdin.close()
        except BrokenPipeError:  # it died at once; _wait sees it
            pass
        return proc

    def _on_signal(self, sig: int, _frame: FrameType | None) -> None:
        self.stopping = sig
        self.told.clear()  # a second signal is forwarded too (it makes the workers stop waiting)
        self._forward()
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
        self.workers[i] = self._start()


def serve(settings: Settings, workers: int = 1) -> None:
    if workers > 1:
        code = _Supervisor(settings, workers).run()
        if code:
            raise SystemExit(code)
        return
    _run(settings)
