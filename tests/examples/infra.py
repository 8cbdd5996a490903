"""The template under test (infra.json), its parameters, and small helpers of the example suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from arm_sim.testing import ArmSim

TEMPLATE: dict[str, Any] = json.loads((Path(__file__).parent / "infra.json").read_text())
SECRET = "s3cret-db-password"
PARAMETERS = {"prefix": "app", "secretValue": SECRET, "adminPassword": "N0t-a-real-password!"}
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"


def get(arm_sim: ArmSim, resource_id: str, api_version: str) -> dict[str, Any]:
    r = arm_sim.request("GET", f"{resource_id}?api-version={api_version}")
    assert r.status == 200, r.body
    return dict(r.body)


def resources_in(arm_sim: ArmSim, group: str) -> list[str]:
    r = arm_sim.request("GET", f"{arm_sim.group_id(group)}/resources?api-version=2025-04-01")
    assert r.status == 200, r.body
    return [str(v["id"]) for v in r.body["value"]]
