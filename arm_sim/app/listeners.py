"""The listening sockets of a server: bound once (by a single server, or by the supervisor of `--workers`) and
handed to each worker process, which serves every listener on the same shared sockets."""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass

from arm_sim.core.settings import Settings


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
    """The listening sockets: main, identity, one per vault port, and the proxy's (none with the proxy off)."""

    main: list[socket.socket]
    identity: list[socket.socket]
    vaults: list[socket.socket]
    proxy: list[socket.socket]

    @classmethod
    def bind(cls, settings: Settings) -> Listeners:
        lo, hi = settings.vault_ports
        proxy = [] if settings.proxy_port is None else [settings.proxy_port]
        bound: list[socket.socket] = []
        try:
            for port in (settings.port, settings.imds_port, *proxy, *range(lo, hi + 1)):
                bound.append(_bind(settings.host, port))
        except BaseException:
            for sock in bound:
                sock.close()
            raise
        after = 2 + len(proxy)
        return cls(bound[:1], bound[1:2], bound[after:], bound[2:after])

    def all(self) -> list[socket.socket]:
        return [*self.main, *self.identity, *self.vaults, *self.proxy]

    def fds(self) -> dict[str, list[int]]:
        return {name: [s.fileno() for s in getattr(self, name)] for name in ("main", "identity", "vaults", "proxy")}

    @classmethod
    def adopt(cls, fds: dict[str, list[int]]) -> Listeners:
        """The sockets a worker inherited from the supervisor (the same open sockets, shared)."""
        return cls(**{name: [socket.socket(fileno=fd) for fd in numbers] for name, numbers in fds.items()})

    def close(self) -> None:
        for sock in self.all():
            with contextlib.suppress(OSError):
                sock.close()


@dataclass
class WorkerSpec:
    """What the supervisor hands a worker process (pickled on its stdin)."""

    settings: Settings
    fds: dict[str, list[int]]
    tls_files: tuple[str, str]
    parent: int
    ready_fd: int | None = None  # a pipe's write end: the worker writes one byte to it once it serves
