"""The command line: `env` prints the running server's settings (found through server.json, whatever its port),
`clock` goes through the running server or, with none, the database; `migrate` and `reset` work offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.simserver import fresh_database_url
from tests.test_discovery import Served

TENANT = "11111111-2222-3333-4444-555555555555"


def _run(home: Path, *args: str, db: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARM_SIM_")}
    env.update(ARM_SIM_HOME=str(home), ARM_SIM_TENANT_ID=TENANT)
    if db:
        env["ARM_SIM_DATABASE_URL"] = db
    return subprocess.run([sys.executable, "-m", "arm_sim", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture
def home(tmp_path: Path) -> tuple[Path, str]:
    return tmp_path / "home", fresh_database_url()


def _served(path: Path, db: str) -> Served:
    return Served(path, extra={"ARM_SIM_TENANT_ID": TENANT, **({"ARM_SIM_DATABASE_URL": db} if db else {})})


def test_migrate_env_formats_and_pinned_ids(home: tuple[Path, str]) -> None:
    path, db = home
    assert _run(path, "migrate", db=db).returncode == 0
    server = _served(path, db).start()
    try:
        out = json.loads(_run(path, "env", "--format", "json").stdout)  # (no database URL: it asks the server)
        assert out["ARM_SIM_TENANT"] == out["AZURE_TENANT_ID"] == TENANT
        assert out["AZURE_CLIENT_ID"] == out["ARM_SIM_CLIENT_ID"] and out["ARM_SIM_CLIENT_SECRET"]
        assert out["REQUESTS_CA_BUNDLE"].endswith("ca-bundle.pem") and out["AZURE_AUTHORITY_HOST"].startswith("https://")
        shell = _run(path, "env").stdout
        assert f"export ARM_SIM_SUBSCRIPTION={out['ARM_SIM_SUBSCRIPTION']}" in shell
        dotenv = _run(path, "env", "--format", "dotenv").stdout
        assert f"AZURE_SUBSCRIPTION_ID={out['ARM_SIM_SUBSCRIPTION']}" in dotenv.splitlines()
        assert server.stop() == 0
        server.start()  # the ids are created once and kept (the URL is the new server's)
        again = json.loads(_run(path, "env", "--format", "json").stdout)
        assert {k: v for k, v in again.items() if "URL" not in k and "AUTHORITY" not in k} == \
            {k: v for k, v in out.items() if "URL" not in k and "AUTHORITY" not in k}
    finally:
        server.kill()


def test_clock_commands(home: tuple[Path, str]) -> None:
    path, db = home  # no server: the commands change the database directly
    start = json.loads(_run(path, "clock", "show", db=db).stdout)
    moved = json.loads(_run(path, "clock", "advance", "2d3h", db=db).stdout)
    assert moved["epoch"] - start["epoch"] >= 2 * 86400 + 3 * 3600 - 5
    frozen = json.loads(_run(path, "clock", "freeze", db=db).stdout)
    assert frozen["frozen"] is True
    assert json.loads(_run(path, "clock", "show", db=db).stdout)["epoch"] == frozen["epoch"]
    assert json.loads(_run(path, "clock", "unfreeze", db=db).stdout)["frozen"] is False
    bad = _run(path, "clock", "advance", "soon", db=db)
    assert bad.returncode == 1 and "duration" in bad.stderr.lower() and "Traceback" not in bad.stderr
    assert _run(path, "clock", "advance", db=db).returncode == 2
    server = _served(path, db).start()  # the same commands through the server
    try:
        shown = json.loads(_run(path, "clock", "show").stdout)
        assert shown["offsetSeconds"] >= 2 * 86400  # (less the time it was frozen)
        moved = json.loads(_run(path, "clock", "advance", "1d").stdout)
        assert moved["offsetSeconds"] >= shown["offsetSeconds"] + 86400 - 5
        assert json.loads(_run(path, "clock", "freeze").stdout)["frozen"] is True
        assert json.loads(_run(path, "clock", "unfreeze").stdout)["frozen"] is False
        bad = _run(path, "clock", "advance", "soon")
        assert bad.returncode == 1 and "InvalidDuration" in bad.stderr and "Traceback" not in bad.stderr
    finally:
        server.kill()


def test_reset_forgets_state_but_keeps_pinned_ids(home: tuple[Path, str]) -> None:
    path, db = home
    server = _served(path, db).start()
    try:
        first = json.loads(_run(path, "env", "--format", "json").stdout)
        through = _run(path, "reset", db=db)  # through the running server: state gone, the same credentials
        assert through.returncode == 0 and "through the server" in through.stdout, through.stderr
        assert json.loads(_run(path, "clock", "show").stdout)["offsetSeconds"] < 60
        assert server.stop() == 0
        _run(path, "clock", "advance", "10d", db=db)
        assert _run(path, "reset", db=db).returncode == 0
        server.start()
        after = json.loads(_run(path, "env", "--format", "json").stdout)
        assert after["ARM_SIM_TENANT"] == first["ARM_SIM_TENANT"]  # pinned
        assert after["ARM_SIM_CLIENT_ID"] != first["ARM_SIM_CLIENT_ID"]  # not pinned: new principal
        assert json.loads(_run(path, "clock", "show").stdout)["offsetSeconds"] < 60
    finally:
        server.kill()
