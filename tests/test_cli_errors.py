"""Every bad invocation of the CLI and every bad ARM_SIM_* setting ends with a short message that names the
problem and a non-zero exit, never a traceback; a reader that goes away (`| head`) ends it quietly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BAD = [
    (["clock", "advance", "3x"], {}),
    (["clock", "frobnicate"], {}),
    (["serve"], {"ARM_SIM_PORT": "abc"}),
    (["serve"], {"ARM_SIM_VAULT_PORTS": "9000-8000"}),
    (["serve"], {"ARM_SIM_LOG_LEVEL": "nonsense"}),
    (["serve"], {"ARM_SIM_RBAC": "maybe"}),
    (["serve"], {"ARM_SIM_LRO": "later"}),
    (["serve"], {"ARM_SIM_UNKNOWN_TYPES": "keep"}),
    (["serve"], {"ARM_SIM_SHUTDOWN_GRACE": "soon"}),
    (["serve"], {"ARM_SIM_IMDS_PORT": "-5"}),
    (["serve"], {"ARM_SIM_DIRECTORY_DELAY": "nan"}),
    (["migrate"], {"ARM_SIM_VAULT_PORTS": "[8600, 8699]"}),
    (["serve", "--log-level", "nonsense"], {}),
    (["serve", "--port", "99999"], {}),
    (["deploy", "-g", "rg", "template.json"], {}),
    (["deploy"], {}),
    (["env", "--vm", "vm1"], {}),
    (["exec", "--vm", "vm1"], {}),
    (["nonsense"], {}),
]


def _run(args: list[str], env: dict[str, str], home: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ARM_SIM_")}
    return subprocess.run([sys.executable, "-m", "arm_sim", "--home", str(home), *args], capture_output=True,
                          text=True, timeout=60, env={**base, **env})


@pytest.mark.parametrize(("args", "env"), BAD, ids=[" ".join(a) + (f" {e}" if e else "") for a, e in BAD])
def test_bad_input_is_one_short_message(tmp_path: Path, args: list[str], env: dict[str, str]) -> None:
    done = _run(args, env, tmp_path / "home")
    assert done.returncode != 0, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and done.stderr.strip(), done.stderr
    # one line says what is wrong (argparse prints its usage before it)
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("arm-sim"), done.stderr
    named = [*env, *(a for a in args if not a.startswith("-"))]
    assert any(n.lower() in last.lower() for n in named), done.stderr


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    reader = subprocess.Popen([sys.executable, "-m", "arm_sim", "--home", str(tmp_path / "h"), "openapi", "--out",
                               str(tmp_path / "o")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.close()  # the reader goes away before the command writes
    err = reader.stderr.read().decode()
    assert reader.wait(60) == 0 and "Traceback" not in err and "BrokenPipe" not in err, err
