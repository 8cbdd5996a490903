"""The home's lock (`server.lock`): every server process holds it shared while it runs, `arm-sim reset` needs it
alone. So a reset never unlinks the database under a running server's open connections (whose later writes would
go to a deleted file and be lost at the next start); a running server is reset through itself instead."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from arm_sim.core.private import private_home

LOCK = "server.lock"


class HomeInUse(Exception):
    pass


@contextlib.contextmanager
def home_lock(home: Path, *, shared: bool = False, wait: bool = True) -> Iterator[None]:
    private_home(home)
    fd = os.open(home / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise HomeInUse(f"a server is running on home {home.resolve()}: stop it, or reset it through itself "
                            "(`arm-sim reset` does when it finds the server; `POST /_sim/reset`)") from None
        yield
    finally:
        os.close(fd)  # (closing the file releases the lock)
