"""docs/tutorial.md runs as written: its ```bash tutorial blocks, in order, in one shell (as a reader types them in one
terminal), with its ```python tutorial file=NAME blocks written where they appear, against a live server started the
way its ```bash tutorial-server block says (`arm-sim serve`, with the home in the shell's directory).

The shell has what the tutorial's reader has: arm-sim and python on PATH, az (ARM_SIM_AZ or the project's az venv),
a HOME of its own (az writes ~/.ssh there) and none of the caller's AZURE_* or ARM_SIM_* settings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.azcli import require_az
from tests.simserver import Sim, fresh_database_url

AZ = require_az()
pytestmark = pytest.mark.azcli

DOC = Path(__file__).resolve().parent.parent / "docs" / "tutorial.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```\s*$", re.M | re.S)


def blocks(text: str) -> list[tuple[str, str, str]]:
    """(language, info after it, body) of every fenced block."""
    return [(m.group(1), m.group(2).strip(), m.group(3)) for m in FENCE.finditer(text)]


def script(text: str) -> str:
    """The shell script the tutorial is: its bash blocks, with its python files written where they appear."""
    out = ["set -euo pipefail", "set -x"]
    for lang, info, body in blocks(text):
        if lang == "bash" and info == "tutorial":
            out.append(body)
        elif lang == "python" and info.startswith("tutorial"):
            name = re.search(r"file=(\S+)", info)
            assert name, f"a python tutorial block needs file=NAME: {info}"
            out.append(f"cat > {name.group(1)} <<'ARM_SIM_TUTORIAL_PY'\n{body}ARM_SIM_TUTORIAL_PY")
    return "\n".join(out) + "\n"


def test_every_command_block_is_run() -> None:
    """No command block escapes the run: each bash block is a tutorial step, or the one that starts the server."""
    found = blocks(DOC.read_text())
    assert [b for lang, info, b in found if lang == "bash" and info == "tutorial-server"] == ["arm-sim serve\n"]
    untagged = [b for lang, info, b in found if lang in ("bash", "sh", "shell", "console", "python")
                and not info.startswith("tutorial")]
    assert untagged == []
    assert sum(1 for lang, info, _ in found if info == "tutorial") >= 8


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Sim]:
    """`arm-sim serve` as the tutorial starts it: its home is ./.arm-sim of the reader's directory."""
    sim = Sim(home=tmp_path / ".arm-sim", database_url=fresh_database_url())
    sim.start()
    yield sim
    sim.stop()


def test_the_tutorial_runs(served: Sim, tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "ARM_SIM_", "IDENTITY_", "MSI_",
                                                                     "REQUESTS_CA_BUNDLE", "SSL_CERT_",
                                                                     "HTTPS_PROXY", "HTTP_PROXY", "https_proxy",
                                                                     "http_proxy", "NO_PROXY", "no_proxy"))}
    env |= {"PATH": os.pathsep.join([bin_dir, str(Path(AZ).parent), env.get("PATH", "")]),
            "HOME": str(tmp_path / "home"), "AZURE_CORE_ONLY_SHOW_ERRORS": "1", "AZURE_CORE_NO_COLOR": "1",
            "AZURE_EXTENSION_DYNAMIC_INSTALL": "no"}
    (tmp_path / "tutorial.sh").write_text(script(DOC.read_text()))
    done = subprocess.run(["bash", "tutorial.sh"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)
    out = done.stdout
    assert done.returncode == 0, out[-4000:] + done.stderr[-6000:]
    assert served.client_secret not in out
    first, second = re.findall(r"web1's (?:new )?principal: ([0-9a-f-]{36})", out)
    assert first != second
    reads = out.count("web1 read: hello from the vault")
    assert reads == 3, out  # before the delete, after the new grant, after the clock moved
    assert "refused: the entry names the old principal" in out
    assert "ALLOWED: secrets/get" in out and "DENIED: secrets/get" in out
    assert f"Near miss: an entry grants secrets get to {first}: web1's previous identity" in out
    assert f"[orphan] access policy on vault demokv1: secrets get: names {first}" in out
    assert "credential.rolled" in out
