"""Finding a running server: `serve` writes `$ARM_SIM_HOME/server.json` (real ports, even for `--port 0`) and
`credentials.json` (0600) once it serves, prints one ready line, and removes both when it stops; the CLI reads them
(`env`, `exec`, `deploy`, `clock`) without loading the database stack or the web framework."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from arm_sim.app import tls
from arm_sim.core import discovery
from tests.simserver import free_range, fresh_database_url

READY = re.compile(r"^arm-sim ready (https://localhost:(\d+)) \(identity (http://localhost:(\d+)), "
                   r"vaults (\d+)-(\d+), proxy http://localhost:\d+, data (.+?)(, (\d+) workers)?\)$")
HEAVY = ("sqlalchemy", "fastapi", "starlette", "uvicorn", "pydantic", "cryptography", "alembic", "jwt")


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The calling environment without any ARM_SIM_* setting (no port: the CLI must find it), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARM_SIM_")}
    env.update(ARM_SIM_HOME=str(home), **extra)
    return env


def arm_sim(home: Path, *args: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "arm_sim", *args], env=cli_env(home, **extra), capture_output=True,
                          text=True, timeout=timeout, check=False)


@dataclass
class Served:
    """`arm-sim serve --port 0 --imds-port 0 --vault-ports LO-HI …` in `home`, its output in files."""

    home: Path
    args: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90) -> Served:
        self.home.mkdir(parents=True, exist_ok=True)
        lo, hi = free_range(4)
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "arm_sim", "serve", "--port", "0", "--imds-port", "0", "--proxy-port", "0",
                 "--vault-ports", f"{lo}-{hi}", *self.args],
                env=cli_env(self.home, **self.extra), stdout=out, stderr=err)
        deadline = time.monotonic() + timeout
        while not self.ready_line():
            assert self.proc.poll() is None, self.err.read_text()
            assert time.monotonic() < deadline, "no ready line"
            time.sleep(0.05)
        return self

    @property
    def out(self) -> Path:
        return self.home.parent / f"{self.home.name}.out"

    @property
    def err(self) -> Path:
        return self.home.parent / f"{self.home.name}.err"

    def ready_line(self) -> str | None:
        lines = self.out.read_text().splitlines() if self.out.exists() else []
        return next((line for line in lines if line.startswith("arm-sim ready ")), None)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(40)
        finally:
            self.proc = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    db = fresh_database_url()
    s = Served(tmp_path / "home", extra={"ARM_SIM_DATABASE_URL": db} if db else {})
    yield s
    s.kill()


# --- the module ----------------------------------------------------------------------------------------------------


def _info(home: Path, pid: int) -> discovery.ServerInfo:
    return discovery.ServerInfo(pid=pid, url="https://localhost:1", imds_url="http://localhost:2", port=1, imds_port=2,
                                vault_ports=(3, 4), home=str(home), database="sqlite")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_discovery_files_round_trip_and_stale_ones_read_as_none(tmp_path: Path) -> None:
    assert discovery.read(tmp_path) is None
    discovery.write(tmp_path, _info(tmp_path, os.getpid()))
    assert discovery.read(tmp_path) == _info(tmp_path, os.getpid())
    creds = discovery.Credentials(pid=os.getpid(), tenant="t", subscription="s", client_id="c", client_secret="x")
    discovery.write_credentials(tmp_path, creds)
    assert stat.S_IMODE(discovery.credentials_path(tmp_path).stat().st_mode) == 0o600
    assert discovery.read_credentials(tmp_path, os.getpid()) == creds
    assert discovery.read_credentials(tmp_path, os.getpid() + 1) is None  # another server's
    # a newer server may add fields: ignored
    raw = json.loads(discovery.path(tmp_path).read_text())
    discovery.path(tmp_path).write_text(json.dumps({**raw, "future": 1}))
    assert discovery.read(tmp_path) == _info(tmp_path, os.getpid())
    # only its own files are removed
    discovery.remove(tmp_path, os.getpid() + 1)
    assert discovery.read(tmp_path) is not None
    discovery.remove(tmp_path, os.getpid())
    assert not discovery.path(tmp_path).exists() and not discovery.credentials_path(tmp_path).exists()
    # a SIGKILLed server's file: its process is gone
    discovery.write(tmp_path, _info(tmp_path, _dead_pid()))
    assert discovery.read(tmp_path) is None
    discovery.path(tmp_path).write_text("{not json")
    assert discovery.read(tmp_path) is None


def test_certificates_name_the_hosts_whatever_the_port() -> None:
    def names(*hosts: str) -> set[str]:
        return {str(n.value) for n in tls._sans(*hosts)}

    assert names("localhost") == {"localhost", "127.0.0.1", "::1"}
    assert names("armsim.example.internal", "0.0.0.0") == {"localhost", "127.0.0.1", "::1", "armsim.example.internal"}
    assert "10.1.2.3" in names("localhost", "10.1.2.3") and "::" not in names("localhost", "::")


# --- the server ----------------------------------------------------------------------------------------------------


def test_port_0_is_discovered_and_the_files_go_with_sigterm(served: Served) -> None:
    served.start()
    m = READY.match(served.ready_line() or "")
    assert m, served.ready_line()
    url, port, imds_url, imds_port, lo, hi, data = m.group(1, 2, 3, 4, 5, 6, 7)
    assert int(port) > 0 and int(imds_port) > 0 and data == str(served.home.resolve()) and m.group(8) is None
    info = discovery.read(served.home)
    assert info is not None and served.proc is not None
    assert (info.pid, info.url, info.port, info.imds_url, info.imds_port, info.vault_ports) == (
        served.proc.pid, url, int(port), imds_url, int(imds_port), (int(lo), int(hi)))
    assert info.database in ("sqlite", "postgresql") and Path(info.ca).is_file()
    assert stat.S_IMODE(discovery.credentials_path(served.home).stat().st_mode) == 0o600

    out = arm_sim(served.home, "env", "--format", "json")  # no ARM_SIM_PORT anywhere
    assert out.returncode == 0, out.stderr
    values = json.loads(out.stdout)
    assert values["ARM_SIM_URL"] == values["AZURE_AUTHORITY_HOST"] == url
    assert values["ARM_SIM_IMDS_URL"] == imds_url and values["ARM_SIM_CA"] == info.ca
    shell = arm_sim(served.home, "env").stdout
    assert f"export ARM_SIM_URL={url}" in shell.splitlines()
    # the certificate holds for the real port, and the credentials work: clock goes through the server
    clock = arm_sim(served.home, "clock", "show")
    assert clock.returncode == 0 and "offsetSeconds" in json.loads(clock.stdout), clock.stderr
    missing = arm_sim(served.home, "env", "--vm", "no-such-vm")
    assert missing.returncode == 1 and missing.stderr.startswith("arm-sim env: No VM named 'no-such-vm'")
    reset = arm_sim(served.home, "reset")  # through the running server (tests/test_reset.py)
    assert reset.returncode == 0 and "through the server" in reset.stdout, reset.stderr

    assert served.stop() == 0
    assert not discovery.path(served.home).exists() and not discovery.credentials_path(served.home).exists()
    err = served.err.read_text()
    assert "ERROR" not in err and "Traceback" not in err, err
    gone = arm_sim(served.home, "env")
    assert gone.returncode == 1 and gone.stdout == ""
    assert gone.stderr == (f"arm-sim env: no server is running for home {served.home} (start one with "
                           "`arm-sim serve`)\n")


def test_a_stale_file_is_ignored(served: Served) -> None:
    served.start()
    assert served.proc is not None
    served.proc.kill()  # SIGKILL: no chance to remove its files
    served.proc.wait()
    assert discovery.path(served.home).exists() and discovery.read(served.home) is None
    for command in (["env"], ["exec", "--vm", "vm1", "--", "true"], ["deploy", "-g", "rg", "t.json"]):
        out = arm_sim(served.home, *command)
        assert out.returncode == 1 and "no server is running for home" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr and len(out.stderr.splitlines()) == 1
    served.start()  # a new server replaces the stale file
    info = discovery.read(served.home)
    assert info is not None and served.proc is not None and info.pid == served.proc.pid


def test_workers_are_announced_once_all_serve(served: Served) -> None:
    served.args = ("--workers", "2")
    served.start()
    m = READY.match(served.ready_line() or "")
    assert m and m.group(9) == "2", served.ready_line()
    info = discovery.read(served.home)
    assert info is not None and served.proc is not None
    assert (info.pid, info.workers, info.url) == (served.proc.pid, 2, m.group(1))
    out = arm_sim(served.home, "clock", "show")  # answered by a worker, with the credentials the supervisor wrote
    assert out.returncode == 0, out.stderr
    assert served.stop() == 0
    assert not discovery.path(served.home).exists() and not discovery.credentials_path(served.home).exists()
    err = served.err.read_text()
    assert "ERROR" not in err and "Traceback" not in err, err


# --- the CLI: what it loads, and its mistakes ----------------------------------------------------------------------


def _modules_after(home: Path, argv: list[str]) -> set[str]:
    """The top-level packages loaded by `arm-sim ARGV` run in a fresh interpreter."""
    code = ("import sys\nfrom arm_sim.cli.main import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write('\\nMODULES ' + ' '.join(sorted({m.split('.')[0] for m in sys.modules})) + '\\n')")
    out = subprocess.run([sys.executable, "-c", code, *argv], env=cli_env(home), capture_output=True, text=True,
                         timeout=60, check=False)
    return set(out.stderr.rsplit("MODULES ", 1)[1].split())


def test_client_commands_load_neither_the_database_stack_nor_the_web_framework(served: Served,
                                                                                tmp_path: Path) -> None:
    for argv in (["env"], ["--help"], ["deploy", "--help"], ["exec", "--help"], ["env", "--help"]):
        assert not set(HEAVY) & _modules_after(tmp_path / "nowhere", argv), argv
    served.start()
    template = tmp_path / "empty.json"
    template.write_text('{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",'
                        ' "contentVersion": "1.0.0.0", "resources": []}')
    for argv in (["env"], ["env", "--vm", "nope"], ["clock", "show"], ["deploy", "-g", "nope", str(template)],
                 ["exec", "--vm", "nope", "--", "true"]):
        loaded = _modules_after(served.home, argv)
        assert not set(HEAVY) & loaded, (argv, set(HEAVY) & loaded)


def test_cli_mistakes_are_one_line_not_a_traceback(tmp_path: Path) -> None:
    for extra, args, words in (({"ARM_SIM_PORT": "https"}, ["serve"], "ARM_SIM_PORT must be a port number"),
                               ({"ARM_SIM_VAULT_PORTS": "9-8"}, ["migrate"], "ARM_SIM_VAULT_PORTS"),
                               ({}, ["serve", "--port", "-1"], "must be a port number"),
                               ({}, ["serve", "--vault-ports", "x"], "bad port range"),
                               ({}, ["clock", "advance", "soon"], "InvalidDuration")):
        out = arm_sim(tmp_path / "home", *args, **extra)
        assert out.returncode in (1, 2) and words in out.stderr and "Traceback" not in out.stderr, (args, out.stderr)
