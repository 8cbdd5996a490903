"""The home holds every key and secret: right after a first start the directory is 0700 and the database, its
journal files and every key and credential file are 0600 (they were never anything else: the server's umask);
the certificates clients read stay 0644."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.simserver import Sim


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_home_is_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)  # what a careless mkdir leaves
    server = Sim(home=home).start()
    try:
        assert server.database_url == "" and (home / "arm-sim.db").exists()
        assert _mode(home) == 0o700
        # (server.log is the test harness's capture of the process's output, not a file the server makes)
        private = [p for p in home.iterdir() if p.is_file() and p.name not in ("ca.pem", "ca-bundle.pem",
                                                                               "server.pem", "server.json",
                                                                               "server.log")]
        names = {p.name for p in private}
        assert {"arm-sim.db", "ca-key.pem", "server-key.pem", "credentials.json"} <= names, names
        assert {p.name: _mode(p) for p in private} == {p.name: 0o600 for p in private}
        for public in ("ca.pem", "ca-bundle.pem", "server.pem", "server.json"):
            assert _mode(home / public) == 0o644, public
    finally:
        server.stop()
