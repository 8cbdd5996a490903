#!/usr/bin/env python3
"""Generate arm_sim/providers/data/web_answers.json: the properties App Service answers for a plan and a site
beyond what their REST spec lists, with the values it gives a new one.

App Service's answers carry many properties its specs leave out or mark optional (`webSpace`, `computeMode`,
`siteConfig.http20Enabled` …). They are read here from Azure's own recorded answers: the az CLI's scenario
recordings, as the trimmed copies in tests/conformance/recordings/az/ keep them (each names its source file and
commit). For every property of the recorded GET of a plan, a site and a site's `siteConfig`:

  - null, booleans, numbers, empty lists and strings that name nothing of the recorded resource are kept as the
    value a new resource has (`"status": "Ready"`, `"http20Enabled": true`, `"clientCertMode": "Required"`);
  - a string or list that names the recorded resource, its group, subscription, stamp or addresses is a value App
    Service computes for each resource: it is written as null, and the provider computes what it can
    (providers/web.py: host names, addresses, web space …).

Standard library only:  python scripts/gen_web_answers.py [--recordings DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"app": "appservice_webapp_assign_system_identity",
           "functionapp": "appservice_functionapp_assign_system_identity"}
# addresses, long hex, stamps, GUIDs, times, ids: values of one resource
_SPECIFIC = re.compile(r"\d+\.\d+\.\d+\.\d+|[0-9a-f]{32,}|waws-|[0-9a-f]{8}-[0-9a-f]{4}-|\d{4}-\d\d-\d\dT|"
                       r"/subscriptions/", re.I)


def _generic(value: Any, names: list[str]) -> Any:
    """`value` when it is the same for every resource, else None (see the module's note)."""
    if isinstance(value, str):
        return None if _SPECIFIC.search(value) or any(n.lower() in value.lower() for n in names) else value
    if isinstance(value, list):
        return value if not value else None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1000:  # an internal id (serverFarmId)
        return None
    if isinstance(value, dict):
        return None
    return value


def _answers(recording: dict[str, Any], fragment: str) -> dict[str, Any] | None:
    for it in recording["interactions"]:
        body = it.get("responses", {}).get("200")
        if it["method"] == "GET" and fragment in it["uri"].lower() and isinstance(body, dict):
            return body
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--recordings", type=Path, default=ROOT / "tests/conformance/recordings/az")
    parser.add_argument("--out", type=Path, default=ROOT / "arm_sim/providers/data/web_answers.json")
    args = parser.parse_args(argv)
    out: dict[str, Any] = {"source": {}, "serverfarms": {}, "sites": {}, "siteConfig": {}}
    for kind, stem in SOURCES.items():
        recording = json.loads((args.recordings / f"{stem}.json").read_text())
        out["source"][kind] = recording["source"]
        for part, fragment in (("serverfarms", "/serverfarms/"), ("sites", "/sites/")):
            body = _answers(recording, fragment)
            if body is None:
                continue
            names = [body["name"], body["id"].split("/")[4], body.get("location", "")]
            props = body.get("properties") or {}
            for key, value in sorted(props.items()):
                if key != "siteConfig":
                    out[part].setdefault(key, _generic(value, names))
            for key, value in sorted((props.get("siteConfig") or {}).items()):
                out["siteConfig"].setdefault(key, _generic(value, names))
    args.out.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"{args.out}: {', '.join(f'{k} {len(v)}' for k, v in out.items() if k != 'source')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
