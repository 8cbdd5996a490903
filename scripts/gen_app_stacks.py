#!/usr/bin/env python3
"""Generate arm_sim/providers/data/app_stacks.json: App Service's runtime stacks, the answers of the tenant-level
reads `GET /providers/Microsoft.Web/webAppStacks` and `GET /providers/Microsoft.Web/functionAppStacks` (the Azure
CLI reads them in `az webapp create --runtime` and `az functionapp create`).

Nothing in the output is typed by hand: every stack comes from an input below, each a local path or an http(s) URL.
Standard library only.

--web SRC / --function SRC  The stacks, in any of these shapes: a REST spec example (`{"responses": {"200":
    {"body": {"value": [...]}}}}`), an ARM list body (`{"value": [...]}`), or a bare list of stacks (Azure
    PowerShell's FunctionsStack/functionAppStacks.json).
--only KIND=NAME[,NAME…] (optional, repeatable)  Keep only the stacks of these names (KIND is `web` or `function`).
--origin KIND=TEXT (optional, repeatable)  Where an input came from (repository, path, commit); recorded in the
    output's "source" next to the input's sha256.

What the generator normalises, and why: each stack's `id` and `type` are written as ARM writes them for the
tenant-level list (`/providers/Microsoft.Web/{kind}/{name}`, `Microsoft.Web/{kind}`; Azure PowerShell's capture
has `id: null` and the request's query in `type`); an `endOfLifeDate` in JavaScript's `Date.toString()` form
(`Thu Oct 31 2030 00:00:00 GMT+0000 (Coordinated Universal Time)`, as the 2020-10-01 API answers it) is written in
ISO 8601, as later API versions answer it and as the Azure SDKs parse it.

The app_stacks.json committed in arm_sim/providers/data/ was generated on 2026-12-07 from:

  web       the `dotnet` stack of Azure/azure-rest-api-specs
            specification/web/resource-manager/Microsoft.Web/AppService/stable/2024-04-01/examples/GetWebAppStacks.json
            at commit cd1a17dc3f61db6c461fbe5f952f872d98556b39 (the spec's example response). It is the only public
            webAppStacks answer found; it dates from 2020, and every Node, Python, PHP, Ruby and Java runtime in it
            has an end-of-life date in the past, which the Azure CLI filters out, so only the .NET stack is kept
            (its Linux runtimes DOTNETCORE|5.0 and DOTNETCORE|3.1 carry no end-of-life date).
  function  the `python` stack of Azure/azure-powershell
            src/Functions/Functions.Autorest/custom/FunctionsStack/functionAppStacks.json at commit
            5b08a6ccd4585365825ee9fcc28793a3eb3cfb03 (Az.Functions' built-in copy of the live API's answer, with
            Python 3.7 to 3.14 on Functions ~4). The REST spec's GetFunctionAppStacks.json example stops at
            Functions ~3, which `az functionapp create --functions-version 4` refuses.

Command used (the inputs saved locally from the commits above; the raw.githubusercontent.com URLs work the same):

  SPECS=cd1a17dc3f61db6c461fbe5f952f872d98556b39 PS=5b08a6ccd4585365825ee9fcc28793a3eb3cfb03
  W=specification/web/resource-manager/Microsoft.Web/AppService/stable/2024-04-01/examples/GetWebAppStacks.json
  F=src/Functions/Functions.Autorest/custom/FunctionsStack/functionAppStacks.json
  python3 scripts/gen_app_stacks.py \\
    --web https://raw.githubusercontent.com/Azure/azure-rest-api-specs/$SPECS/$W --only web=dotnet \\
    --function https://raw.githubusercontent.com/Azure/azure-powershell/$PS/$F --only function=python \\
    --origin "web=Azure/azure-rest-api-specs@$SPECS $W" --origin "function=Azure/azure-powershell@$PS $F"

Output layout: {"source": {"generator", "web": {sha256, origin, stacks}, "function": {...}},
"webAppStacks": [stack, ...], "functionAppStacks": [stack, ...]}. The loader is arm_sim/providers/web_stacks.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "arm_sim" / "providers" / "data" / "app_stacks.json"
KINDS = {"web": "webAppStacks", "function": "functionAppStacks"}
_JS_DATE = re.compile(r"^\w{3} (\w{3} \d{2} \d{4} \d{2}:\d{2}:\d{2}) GMT\+0000")


def read(src: str) -> bytes:
    if src.startswith(("http://", "https://")):
        with urllib.request.urlopen(src) as r:  # noqa: S310 (a URL the user names)
            return bytes(r.read())
    return Path(src).read_bytes()


def stacks_of(doc: Any) -> list[dict[str, Any]]:
    if isinstance(doc, dict) and "responses" in doc:
        doc = doc["responses"]["200"]["body"]
    if isinstance(doc, dict):
        doc = doc["value"]
    if not isinstance(doc, list):
        raise SystemExit("input is not a list of stacks")
    return doc


def iso_date(value: Any) -> Any:
    if isinstance(value, str) and (m := _JS_DATE.match(value)):
        parsed = datetime.strptime(m.group(1), "%b %d %Y %H:%M:%S").replace(tzinfo=UTC)
        return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def normalise(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: iso_date(v) if k == "endOfLifeDate" else normalise(v) for k, v in node.items()}
    if isinstance(node, list):
        return [normalise(v) for v in node]
    return node


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--web", required=True)
    p.add_argument("--function", required=True)
    p.add_argument("--only", action="append", default=[])
    p.add_argument("--origin", action="append", default=[])
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args()
    only = {k: set(v.split(",")) for k, v in (o.split("=", 1) for o in args.only)}
    origin = dict(o.split("=", 1) for o in args.origin)
    out: dict[str, Any] = {"source": {"generator": "scripts/gen_app_stacks.py"}}
    for kind, src in (("web", args.web), ("function", args.function)):
        raw = read(src)
        stacks = []
        for stack in stacks_of(json.loads(raw)):
            name = stack["name"]
            if kind in only and name not in only[kind]:
                continue
            stacks.append({**stack, "id": f"/providers/Microsoft.Web/{KINDS[kind]}/{name}",
                           "type": f"Microsoft.Web/{KINDS[kind]}", "properties": normalise(stack["properties"])})
        if not stacks:
            raise SystemExit(f"no {kind} stack left")
        out["source"][kind] = {"sha256": hashlib.sha256(raw).hexdigest(), "origin": origin.get(kind, src),
                               "stacks": [s["name"] for s in stacks]}
        out[KINDS[kind]] = stacks
    Path(args.out).write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
