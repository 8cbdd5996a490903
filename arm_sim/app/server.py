"""Serve every listener: main (HTTPS), identity (HTTP) and the vault port pool (HTTPS).

One process serves them all, or (`serve --workers N`, app/supervisor.py) N worker processes serve them on shared
sockets: no state lives only in a process's memory (DESIGN §6), so any worker may answer any request. Stopping is
graceful (app/drain.py). Workers and the key-pool worker exit by themselves when their parent is gone, so nothing
outlives a server killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import socket
import sys
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from arm_sim.app import Apps, create_apps, prepare, tls
from arm_sim.app.drain import UVICORN_MARGIN, Drain
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
    return uvicorn.Config(app, log_level=settings.log_level if settings.log_level != "info" else "warning",
                          access_log=settings.log_level == "debug", lifespan="off", loop="auto", http="auto",
                          timeout_keep_alive=30, **kwargs)  # type: ignore[arg-type]


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
        drain = Drain(settings.shutdown_grace)
        servers = [_Server(_config(drain.wrap(apps.main_listener), settings, files)),
                   _Server(_config(drain.wrap(apps.identity), settings, None)),
                   _Server(_config(drain.wrap(apps.vaults_listener), settings, files))]
        listeners: list[tuple[uvicorn.Server, list[socket.socket]]] = list(
            zip(servers, [socks.main, socks.identity, socks.vaults], strict=True))
        loop = asyncio.get_running_loop()

        def stop() -> None:
            drain.stop(servers)

        for sig in SIGNALS:
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


def serve(settings: Settings, workers: int = 1) -> None:
    if workers > 1:
        code = Supervisor(settings, workers).run()
        if code:
            raise SystemExit(code)
        return
    _run(settings)
