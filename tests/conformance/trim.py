"""Trim a raw az CLI scenario recording (vcrpy YAML) into the suite's JSON form.

    python -m tests.conformance.trim RAW.yaml --repo Azure/azure-cli --path src/.../recordings/x.yaml \
        --commit SHA > tests/conformance/recordings/az/x.json

Rules (the hand-trimmed copies follow the same ones):
- every interaction is kept, in order, as {method, uri, body, responses: {status: body}};
- sign-in requests (login.microsoftonline.com, /oauth2/) are kept as {"skip": "sign-in"}, and Azure AD Graph requests
  (graph.windows.net, retired in favour of Microsoft Graph) as {"skip": "aad-graph …"};
- polls of a long-running operation (a URI that a previous response named in Azure-AsyncOperation or Location,
  or an operationStatuses/operationResults/asyncOperations URL) are kept as {"skip": "lro-poll"}: the replayer
  follows arm-sim's own operation instead;
- a 401 answered with a WWW-Authenticate challenge (Key Vault's first, unauthenticated request) gets "noauth";
- headers are dropped (the comparison is of status codes and JSON bodies); lists under "value" keep at most
  --max-items elements (their element shape is what is compared);
- the header names the source (repo, path, commit) and the recorded subscription and tenant ids.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

POLL = re.compile(r"/(operationstatuses|operationresults|asyncoperations|azureasyncoperations)/", re.I)
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def _json(text: Any) -> Any:
    if isinstance(text, dict):  # vcrpy: {"string": ...}
        text = text.get("string")
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return {"_text": str(text)[:200]}


def _cut(body: Any, max_items: int) -> Any:
    if isinstance(body, dict) and isinstance(body.get("value"), list):
        return dict(body, value=body["value"][:max_items])
    return body


def _path(uri: str) -> str:
    return urlsplit(uri).path.lower()


def _tenants(body: Any, found: Counter[str]) -> None:
    if isinstance(body, dict):
        for k, v in body.items():
            if k == "tenantId" and isinstance(v, str) and GUID.match(v):
                found[v.lower()] += 1
            else:
                _tenants(v, found)
    elif isinstance(body, list):
        for v in body:
            _tenants(v, found)


def trim(raw: dict[str, Any], source: dict[str, str], max_items: int = 3) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    polls: set[str] = set()
    tenants: Counter[str] = Counter()
    for it in raw.get("interactions", []):
        req, resp = it["request"], it["response"]
        uri, method = req["uri"], req["method"]
        host = urlsplit(uri).hostname or ""
        headers = {k.lower(): v for k, v in (resp.get("headers") or {}).items()}
        entry: dict[str, Any] = {"method": method, "uri": uri}
        if host.startswith("login.") or "/oauth2/" in uri:
            entry["skip"] = "sign-in"
        elif host == "graph.windows.net":
            entry["skip"] = "aad-graph (graph.windows.net, retired; arm-sim plays Microsoft Graph)"
        elif method == "GET" and (POLL.search(uri) or _path(uri) in polls):
            entry["skip"] = "lro-poll"
        else:
            status = resp["status"]["code"]
            body = _json(resp.get("body"))
            entry["body"] = _json(req.get("body"))
            entry["responses"] = {str(status): _cut(body, max_items)}
            if status == 401 and "www-authenticate" in headers:
                entry["noauth"] = True
            _tenants(body, tenants)
            if status in (201, 202):
                for name in ("azure-asyncoperation", "location"):
                    for value in headers.get(name) or []:
                        if _path(value) != _path(uri):
                            polls.add(_path(value))
        out.append(entry)
    ids = {"subscription": "00000000-0000-0000-0000-000000000000"}
    if tenants:
        ids["tenant"] = tenants.most_common(1)[0][0]
    return {"source": source, "ids": ids, "interactions": out}


def main(argv: list[str] | None = None) -> int:
    import yaml  # PyYAML: only this script reads the raw YAML; the replayer reads the trimmed JSON

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("raw")
    p.add_argument("--repo", default="Azure/azure-cli")
    p.add_argument("--path", required=True)
    p.add_argument("--commit", required=True)
    p.add_argument("--max-items", type=int, default=3)
    a = p.parse_args(argv)
    with open(a.raw, encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    doc = trim(raw, {"repo": a.repo, "path": a.path, "commit": a.commit}, a.max_items)
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
