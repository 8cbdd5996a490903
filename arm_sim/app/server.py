"""Serve every listener: main (HTTPS), identity (HTTP) and the vault port pool (HTTPS).

One process serves them all, or (`serve --workers N`, app/supervisor.py) N worker processes serve them on shared
sockets: no state lives only in a process's memory (DESIGN §6), so any worker may answer any request. Stopping is
graceful (app/drain.py). Workers and the key-pool worker exit by themselves when their parent is gone, so nothing
outlives a server killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import socket
import sys
from collections.abc import Iterator
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

from arm_sim.app import Apps, announce, create_apps, prepare, proxy, request_log, tls
from arm_sim.app.drain import UVICORN_MARGIN, Drain
from arm_sim.app.home_lock import home_lock
from arm_sim.app.listeners import Listeners, WorkerSpec
from arm_sim.app.supervisor import SIGNALS, Supervisor
from arm_sim.core.settings import Settings
from arm_sim.domain.keypool import POOL, watch_parent


class _Server(uvicorn.Server):
    """uvicorn.Server whose signals are handled once for all listeners by `serve`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _config(app: ASGIApp, settings: Settings, tls_files: tuple[str, str] | None) -> uvicorn.Config:
    kwargs: dict[str, object] = {}
    if tls_files:
        kwargs.update(ssl_certfile=tls_files[0], ssl_keyfile=tls_files[1])
    # uvicorn's own shutdown timeout only backs up the drain's, which answers first (see app/drain.py)
    kwargs["timeout_graceful_shutdown"] = settings.shutdown_grace + UVICORN_MARGIN
    # no uvicorn access log: the request log (app/request_log.py) writes each request once, without secrets
    return uvicorn.Config(app, log_level=settings.log_level if settings.log_level != "info" else "warning",
                          access_log=False, lifespan="off", loop="auto", http="auto",
                          timeout_keep_alive=30, **kwargs)  # type: ignore[arg-type]


def _proxy_routes(settings: Settings) -> proxy.ProxyRoutes:
    """The proxy relays TLS for Azure's names to the main listener, and IMDS to the identity listener, on this
    machine (a wildcard listen address is reached at loopback)."""
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    return proxy.ProxyRoutes(tls_upstream=(host, settings.port), identity_upstream=(host, settings.imds_port))


async def serve_async(settings: Settings, apps: Apps | None = None, ready: asyncio.Event | None = None, *,
                      worker: WorkerSpec | None = None) -> None:
    """Serve until SIGTERM/SIGINT (or, for a worker, until its supervisor is gone).

    A single server binds its listeners first (so that `--port 0` has its real port before anything hands out a
    URL), migrates, serves, and once every listener serves writes `server.json` and prints the ready line
    (app/announce.py). A worker of `serve --workers N` tells its supervisor instead, which announces them all."""
    if worker is None:
        socks = Listeners.bind(settings)
        try:
            settings = announce.with_real_ports(settings, socks)
            cert, key = tls.ensure(settings.home, settings.public_host, settings.host)
            runtime = prepare(settings)
            creds = announce.credentials(runtime, os.getpid())
            console = announce.console_link(runtime)
        except BaseException:
            socks.close()
            raise
        files: tuple[str, str] = (str(cert), str(key))
    else:  # the supervisor bound, migrated and made the certificates
        runtime, files, creds, console = None, worker.tls_files, None, None
        socks = Listeners.adopt(worker.fds)
    POOL.start()  # identity certificates need RSA keys: make them ahead of need
    try:
        apps = apps or create_apps(settings, runtime)
        drain = Drain(settings.shutdown_grace)
        request_log.configure(settings.log_level, settings.log_format)
        request_log.watch_lifecycle(apps.runtime.sessions)
        logged = request_log.RequestLog
        servers = [_Server(_config(drain.wrap(logged(apps.main_listener, "main")), settings, files)),
                   _Server(_config(drain.wrap(logged(apps.identity_listener, "identity")), settings, None)),
                   _Server(_config(drain.wrap(logged(apps.vaults_listener, "vaults")), settings, files))]
        listeners: list[tuple[uvicorn.Server, list[socket.socket]]] = list(
            zip(servers, [socks.main, socks.identity, socks.vaults], strict=True))
        loop = asyncio.get_running_loop()

        def stop() -> None:
            if worker is None:
                announce.withdraw(settings)  # a stopping server takes no new requests: nobody should find it
            drain.stop(servers)

        for sig in SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop)
        if _early_signals:  # asked to stop while starting: stop as soon as it can, quietly
            stop()
        if worker is not None:
            def supervisor_gone() -> None:
                with contextlib.suppress(RuntimeError):  # the loop is closed: this worker is exiting anyway
                    loop.call_soon_threadsafe(stop)

            watch_parent(worker.parent, supervisor_gone)
        tasks = [asyncio.create_task(server.serve(sockets=s)) for server, s in listeners]
        proxies = [await proxy.serve(sock, _proxy_routes(settings)) for sock in socks.proxy]

        async def when_serving() -> None:
            while not all(server.started for server in servers):
                if any(task.done() for task in tasks):
                    return  # a listener failed to start: the gather below raises
                await asyncio.sleep(0.01)
            if drain.stopping:
                return
            if creds is not None:
                announce.publish(settings, creds, console=console)
            elif worker is not None and worker.ready_fd is not None:
                with contextlib.suppress(OSError):  # the supervisor is gone: this worker stops anyway
                    os.write(worker.ready_fd, b"1")
                    os.close(worker.ready_fd)
            if ready is not None:
                ready.set()

        announcing = asyncio.create_task(when_serving())
        try:
            await asyncio.gather(*tasks)
        finally:
            for server in proxies:  # (this ends the tunnels still open too)
                server.close()
            announcing.cancel()
            if worker is None:
                announce.withdraw(settings)
        await drain.finish()
    finally:
        POOL.stop()


_early_signals: list[int] = []


def _remember(sig: int, _frame: FrameType | None) -> None:
    _early_signals.append(sig)


def _run(settings: Settings, worker: WorkerSpec | None = None) -> None:
    if worker is None:  # a signal while migrating or binding stops the server once it can, as one afterwards does
        for sig in SIGNALS:
            signal.signal(sig, _remember)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve_async(settings, worker=worker))
    else:
        uvloop.run(serve_async(settings, worker=worker))


def worker_main() -> None:
    """A worker process's entry point (started by `_Supervisor`)."""
    spec: WorkerSpec = pickle.load(sys.stdin.buffer)
    # /dev/null in place of the spent pipe, not a closed fd 0: a pipe opened later would take fd 0, and whatever
    # still thinks of fd 0 as stdin could close it under its new owner (the key pool's wake-up pipe at exit)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    _run(spec.settings, spec)


def serve(settings: Settings, workers: int = 1) -> None:
    # held (shared: servers on one home may run side by side) until exit, so `arm-sim reset` cannot pull the
    # database away from under this process (app/home_lock.py); a supervisor holds it for its workers
    with home_lock(settings.home, shared=True):
        if workers > 1:
            code = Supervisor(settings, workers).run()
            if code:
                raise SystemExit(code)
            return
        _run(settings)
