"""The home holds the bootstrap secret, every signing key, every managed identity's private key and every Key
Vault secret (in the SQLite database): the directory is its owner's alone, and every file the process makes is
private from the moment it exists (a umask, not a chmod after the write)."""

from __future__ import annotations

import os
from pathlib import Path

PUBLIC = 0o644  # certificates clients read: the CA, its bundle, the server's chain


def private_home(home: Path) -> None:
    os.umask(0o077)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    home.chmod(0o700)


def write_public(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(PUBLIC)
