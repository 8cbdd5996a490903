"""`$ARM_SIM_HOME/server.json`: how the CLI, the pytest plugin and scripts find a running server.

The server writes it once every listener is bound (with the real ports, so `--port 0` is usable) and removes it
on exit. It is replaced atomically, so a reader sees the whole file or none. A file whose process is gone (a
server killed with SIGKILL) reads as no server.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

FILE = "server.json"


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    url: str  # the main listener: ARM, Entra, Graph, /_sim (https)
    imds_url: str  # the identity listener (plain http)
    port: int
    imds_port: int
    vault_ports: tuple[int, int]
    home: str  # absolute
    database: str  # "sqlite" or the server's database dialect; never the URL (it may hold a password)

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "vault_ports": list(self.vault_ports)}


def path(home: Path) -> Path:
    return home / FILE


def write(home: Path, info: ServerInfo) -> None:
    home.mkdir(parents=True, exist_ok=True)
    tmp = home / f".{FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(info.as_json(), indent=2) + "\n")
    os.replace(tmp, path(home))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def read(home: Path) -> ServerInfo | None:
    """The running server of `home`, or None (no file, a damaged one, or its process is gone)."""
    try:
        raw = json.loads(path(home).read_text())
        info = ServerInfo(**{**raw, "vault_ports": tuple(raw["vault_ports"])})
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return info if _alive(info.pid) else None


def remove(home: Path, pid: int | None = None) -> None:
    """Remove the file, only if it is still this process's (a newer server may have replaced it)."""
    with contextlib.suppress(OSError, ValueError, KeyError):
        if pid is None or json.loads(path(home).read_text())["pid"] == pid:
            path(home).unlink()
