"""The command line: migrate, env, clock, reset — offline against the same database the server uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.simserver import fresh_database_url


def _run(home: Path, *args: str, db: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARM_SIM_")}
    env.update(ARM_SIM_HOME=str(home), ARM_SIM_TENANT_ID="11111111-2222-3333-4444-555555555555")
    if db:
        env["ARM_SIM_DATABASE_URL"] = db
    return subprocess.run([sys.executable, "-m", "arm_sim", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture
def home(tmp_path: Path) -> tuple[Path, str]:
    return tmp_path / "home", fresh_database_url()


def test_migrate_env_formats_and_pinned_ids(home: tuple[Path, str]) -> None:
    path, db = home
    assert _run(path, "migrate", db=db).returncode == 0
    out = json.loads(_run(path, "env", "--format", "json", db=db).stdout)
    assert out["ARM_SIM_TENANT"] == out["AZURE_TENANT_ID"] == "11111111-2222-3333-4444-555555555555"
    assert out["AZURE_CLIENT_ID"] == out["ARM_SIM_CLIENT_ID"] and out["ARM_SIM_CLIENT_SECRET"]
    assert out["REQUESTS_CA_BUNDLE"].endswith("ca-bundle.pem") and out["AZURE_AUTHORITY_HOST"].startswith("https://")
    shell = _run(path, "env", db=db).stdout
    assert f"export ARM_SIM_SUBSCRIPTION={out['ARM_SIM_SUBSCRIPTION']}" in shell
    dotenv = _run(path, "env", "--format", "dotenv", db=db).stdout
    assert f"AZURE_SUBSCRIPTION_ID={out['ARM_SIM_SUBSCRIPTION']}" in dotenv.splitlines()
    # the ids are created once and kept
    assert json.loads(_run(path, "env", "--format", "json", db=db).stdout) == out


def test_clock_commands(home: tuple[Path, str]) -> None:
    path, db = home
    start = json.loads(_run(path, "clock", "show", db=db).stdout)
    moved = json.loads(_run(path, "clock", "advance", "2d3h", db=db).stdout)
    assert moved["epoch"] - start["epoch"] >= 2 * 86400 + 3 * 3600 - 5
    frozen = json.loads(_run(path, "clock", "freeze", db=db).stdout)
    assert frozen["frozen"] is True
    assert json.loads(_run(path, "clock", "show", db=db).stdout)["epoch"] == frozen["epoch"]
    assert json.loads(_run(path, "clock", "unfreeze", db=db).stdout)["frozen"] is False
    bad = _run(path, "clock", "advance", "soon", db=db)
    assert bad.returncode != 0 and "duration" in (bad.stderr + bad.stdout).lower()
    assert _run(path, "clock", "advance", db=db).returncode == 2


def test_reset_forgets_state_but_keeps_pinned_ids(home: tuple[Path, str]) -> None:
    path, db = home
    first = json.loads(_run(path, "env", "--format", "json", db=db).stdout)
    _run(path, "clock", "advance", "10d", db=db)
    assert _run(path, "reset", db=db).returncode == 0
    after = json.loads(_run(path, "env", "--format", "json", db=db).stdout)
    assert after["ARM_SIM_TENANT"] == first["ARM_SIM_TENANT"]  # pinned
    assert after["ARM_SIM_CLIENT_ID"] != first["ARM_SIM_CLIENT_ID"]  # not pinned: new principal
    assert json.loads(_run(path, "clock", "show", db=db).stdout)["offsetSeconds"] < 60
