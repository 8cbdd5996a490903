"""`$ARM_SIM_HOME/server.json`: how the CLI, the pytest plugin and scripts find a running server.

The server writes it once every listener is bound and serving (with the real ports, so `--port 0` is usable) and
removes it when it stops (SIGTERM, SIGINT, or a failure after start). It is replaced atomically, so a reader sees
the whole file or none. A file whose process is gone (a server killed with SIGKILL) reads as no server.

Next to it, `credentials.json` (mode 0600, the owner's only) holds the bootstrap principal's ids and secret, so
that `arm-sim env|exec|deploy|clock` need not open the database: the secret is in the database already, which the
same owner can read; the file only saves the CLI from loading the whole database stack. It comes and goes with
`server.json`. `server.json` itself holds no secret.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

FILE = "server.json"
CREDENTIALS = "credentials.json"


@dataclass(frozen=True)
class ServerInfo:
    pid: int  # the server (for `serve --workers N`, the supervisor)
    url: str  # the main listener: ARM, Entra, Graph, /_sim (https)
    imds_url: str  # the identity listener (plain http)
    port: int
    imds_port: int
    vault_ports: tuple[int, int]
    home: str  # absolute
    database: str  # "sqlite" or the server's database dialect; never the URL (it may hold a password)
    ca: str = ""  # absolute path of ca.pem (trust it for `url` and the vault ports)
    ca_bundle: str = ""  # absolute path of ca-bundle.pem (the CA followed by the public roots)
    workers: int = 1
    proxy_port: int | None = None  # the proxy listener (plain http), if it runs

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "vault_ports": list(self.vault_ports)}


@dataclass(frozen=True)
class Credentials:
    """The bootstrap principal (an Owner of the bootstrap subscription) of the server `pid`."""

    pid: int
    tenant: str
    subscription: str
    client_id: str
    client_secret: str


def path(home: Path) -> Path:
    return home / FILE


def credentials_path(home: Path) -> Path:
    return home / CREDENTIALS


def _replace(target: Path, data: dict[str, Any], mode: int) -> None:
    """Write `target` atomically, with `mode` from the start (never readable by others, not even briefly)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(data, indent=2) + "\n")
    os.chmod(tmp, mode)  # (whatever the umask did)
    os.replace(tmp, target)


def write(home: Path, info: ServerInfo) -> None:
    _replace(path(home), info.as_json(), 0o644)


def write_credentials(home: Path, creds: Credentials) -> None:
    _replace(credentials_path(home), asdict(creds), 0o600)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def _load(file: Path, cls: type[Any]) -> Any:
    raw = json.loads(file.read_text())
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in raw.items() if k in known})  # (fields a newer server adds are ignored)


def read(home: Path) -> ServerInfo | None:
    """The running server of `home`, or None (no file, a damaged one, or its process is gone)."""
    try:
        info: ServerInfo = _load(path(home), ServerInfo)
        lo, hi = info.vault_ports  # (a list in JSON)
        info = dataclasses.replace(info, vault_ports=(int(lo), int(hi)))
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return info if _alive(info.pid) else None


def read_credentials(home: Path, pid: int | None = None) -> Credentials | None:
    """The bootstrap credentials the running server (`pid`, if given) wrote, or None (not written, not readable
    by this user, damaged, or another server's)."""
    try:
        creds: Credentials = _load(credentials_path(home), Credentials)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return creds if pid is None or creds.pid == pid else None


def remove(home: Path, pid: int | None = None) -> None:
    """Remove both files, each only if it is still this process's (a newer server may have replaced it)."""
    for file in (path(home), credentials_path(home)):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            if pid is None or json.loads(file.read_text())["pid"] == pid:
                file.unlink()
