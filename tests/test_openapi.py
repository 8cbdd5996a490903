"""openapi/ holds the generated document of each listener; this fails when code and documents drift."""

from __future__ import annotations

import json
from pathlib import Path

from arm_sim.app.admin import write_openapi
from arm_sim.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_openapi_documents_match_the_code(tmp_path: Path) -> None:
    written = write_openapi(Settings(home=tmp_path / "home"), tmp_path / "out")
    for path in written:
        committed = ROOT / "openapi" / path.name
        assert committed.exists(), f"openapi/{path.name} is missing: run `make openapi`"
        assert json.loads(committed.read_text()) == json.loads(path.read_text()), (
            f"openapi/{path.name} is out of date: run `make openapi`")


def test_main_document_lists_every_host() -> None:
    paths = json.loads((ROOT / "openapi" / "main.json").read_text())["paths"]
    assert "/{tenant}/oauth2/v2.0/token" in paths  # Entra
    assert "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}" in paths  # ARM
    assert "/_sim/clock" in paths  # simulator API


def test_every_path_parameter_is_declared() -> None:
    """A `{name}` in a path that no operation declares makes the document invalid (schemathesis refuses it)."""
    import re

    missing = []
    for doc in sorted((ROOT / "openapi").glob("*.json")):
        for path, item in json.loads(doc.read_text())["paths"].items():
            wanted = set(re.findall(r"{([^}]+)}", path))
            shared = {p["name"] for p in item.get("parameters", []) if p.get("in") == "path"}
            for method, op in item.items():
                if method == "parameters":
                    continue
                declared = shared | {p["name"] for p in op.get("parameters", []) if p.get("in") == "path"}
                missing += [f"{doc.name} {method.upper()} {path}: {n}" for n in sorted(wanted - declared)]
    assert not missing, "\n".join(missing)
