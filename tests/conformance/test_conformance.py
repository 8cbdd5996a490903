"""The conformance suite runs and does not regress: public Azure recordings replayed against a fresh arm-sim match at
least as many requests as baseline.json records (a ratchet; `make conformance` writes MISMATCHES.md and, with
CONFORMANCE_ARGS=--update-baseline, raises the floor)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conformance.replay import BASELINE, load, run


def test_recordings_are_traceable() -> None:
    docs = load()
    assert len(docs) >= 30
    for name, doc in docs:
        source = doc["source"]
        assert source["repo"] in ("Azure/azure-cli", "Azure/azure-rest-api-specs"), name
        assert len(source["commit"]) == 40 and source["path"].endswith((".yaml", ".json")), name
        assert doc["interactions"], name


def test_conformance_does_not_regress(tmp_path: Path) -> None:
    report = run(home=tmp_path / "sim")
    floor = json.loads(BASELINE.read_text())["matched"]
    matched = report.count(None, "match")
    assert report.count() > 0
    assert matched >= floor, f"{matched} requests match, fewer than the baseline {floor}:\n{report.markdown()}"


def test_trim_marks_sign_in_polls_and_challenges() -> None:
    from tests.conformance.trim import trim

    def it(method: str, uri: str, status: int, body: str = "", **headers: list[str]) -> dict[str, object]:
        return {"request": {"method": method, "uri": uri, "body": None},
                "response": {"status": {"code": status}, "body": {"string": body}, "headers": headers}}

    arm = "https://management.azure.com/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g"
    raw = {"interactions": [
        it("POST", "https://login.microsoftonline.com/t/oauth2/v2.0/token", 200, "{}"),
        it("PUT", f"{arm}/providers/Microsoft.Web/sites/s?api-version=1", 201,
           '{"properties": {"tenantId": "54826b22-38d6-4fb2-bad9-b7b93a3e9c5a"}}',
           **{"Azure-AsyncOperation": [f"{arm}/providers/Microsoft.Web/ops/1?api-version=1"]}),
        it("GET", f"{arm}/providers/Microsoft.Web/ops/1?api-version=1", 200, '{"status": "Succeeded"}'),
        it("GET", "https://v.vault.azure.net/secrets/x?api-version=7.4", 401, "{}",
           **{"WWW-Authenticate": ["Bearer authorization=..."]}),
    ]}
    doc = trim(raw, {"repo": "Azure/azure-cli", "path": "p.yaml", "commit": "0" * 40})
    kinds = [i.get("skip") or ("noauth" if i.get("noauth") else "compare") for i in doc["interactions"]]
    assert kinds == ["sign-in", "compare", "lro-poll", "noauth"]
    assert doc["ids"]["tenant"] == "54826b22-38d6-4fb2-bad9-b7b93a3e9c5a"
