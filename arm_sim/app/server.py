"""Serve every listener from one process: main (HTTPS), identity (HTTP) and the vault port pool (HTTPS)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Iterator

import uvicorn

from arm_sim.app import Apps, create_apps, prepare, tls
from arm_sim.core.settings import Settings
from arm_sim.domain.keypool import POOL

log = logging.getLogger("arm_sim")


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


def _config(app: object, settings: Settings, tls_files: tuple[str, str] | None) -> uvicorn.Config:
    kwargs: dict[str, object] = {}
    if tls_files:
        kwargs.update(ssl_certfile=tls_files[0], ssl_keyfile=tls_files[1])
    return uvicorn.Config(app, log_level=settings.log_level if settings.log_level != "info" else "warning",
                          access_log=settings.log_level == "debug", lifespan="off", loop="auto", http="auto",
                          timeout_keep_alive=30, timeout_graceful_shutdown=2, **kwargs)  # type: ignore[arg-type]


async def serve_async(settings: Settings, apps: Apps | None = None, ready: asyncio.Event | None = None) -> None:
    cert, key = tls.ensure(settings.home, settings.public_host)
    runtime = prepare(settings)
    POOL.start()  # identity certificates need RSA keys: make them ahead of need
    apps = apps or create_apps(settings, runtime)
    files = (str(cert), str(key))
    lo, hi = settings.vault_ports
    listeners = [
        (_Server(_config(apps.main_listener, settings, files)), [_bind(settings.host, settings.port)]),
        (_Server(_config(apps.identity, settings, None)), [_bind(settings.host, settings.imds_port)]),
        (_Server(_config(apps.vaults_listener, settings, files)), [_bind(settings.host, p) for p in range(lo, hi + 1)]),
    ]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server, _ in listeners:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)
    print(f"arm-sim {settings.public_url} (identity {settings.imds_url}, vaults {lo}-{hi}, "
          f"data {settings.home.resolve()})", flush=True)
    tasks = [asyncio.create_task(server.serve(sockets=socks)) for server, socks in listeners]
    if ready is not None:
        while not all(server.started for server, _ in listeners):
            await asyncio.sleep(0.01)
        ready.set()
    await asyncio.gather(*tasks)


def serve(settings: Settings) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve_async(settings))
    else:
        uvloop.run(serve_async(settings))
