"""`arm-sim deploy -g RG TEMPLATE [-p k=v | -p @params.json] [--what-if]`: deploy a template to a running
simulator over HTTPS, as the bootstrap principal, through the same deployments API every client uses.

The simulator deploys inside the PUT request, so the per-resource progress is printed from the deployment's
operations, in the order they ran, once the PUT has answered; then the outputs as a table. A failed
deployment exits 1 with ARM's error.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from arm_sim.cli.client import Client as Arm
from arm_sim.cli.client import CommandError, Server
from arm_sim.core import jsonc

API = "2025-04-01"
_MARKS = {"Create": "+", "Modify": "~", "NoChange": "=", "Delete": "-", "Ignore": "*", "Unsupported": "!",
          "Deploy": "!"}


class DeployError(CommandError):
    """Something to print before exiting non-zero."""


def parameter_values(template: dict[str, Any], specs: list[str]) -> dict[str, Any]:
    """`-p k=v` (typed by the template's declaration) and `-p @file.json` (a parameters file or plain values)."""
    declared = {k.lower(): (v or {}).get("type", "").lower() for k, v in (template.get("parameters") or {}).items()}
    out: dict[str, Any] = {}
    for spec in specs:
        if spec.startswith("@"):
            try:
                data = jsonc.loads(Path(spec[1:]).read_text())
            except (OSError, jsonc.JsoncError) as e:
                raise DeployError(f"cannot read the parameters file {spec[1:]}: {e}") from None
            if isinstance(data, dict) and isinstance(data.get("parameters"), dict):
                data = data["parameters"]
            if not isinstance(data, dict):
                raise DeployError(f"{spec[1:]} is not a parameters object")
            out.update(data)
            continue
        name, sep, raw = spec.partition("=")
        if not sep:
            raise DeployError(f"'-p {spec}' is neither NAME=VALUE nor @FILE")
        kind = declared.get(name.lower(), "")
        value: Any = raw
        if kind in ("int", "bool", "array", "object", "secureobject"):
            try:
                value = json.loads(raw)
            except ValueError:
                raise DeployError(f"the value of '{name}' must be JSON for a parameter of type '{kind}'") from None
        out[name] = {"value": value}
    return out


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _table(rows: list[tuple[str, str, str]], out: Any) -> None:
    head = ("Name", "Type", "Value")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
    for row in [head, tuple("-" * w for w in widths), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)


def _what_if(arm: Arm, base: str, body: dict[str, Any], out: Any) -> int:
    result = arm.call("POST", f"{base}/whatIf", body).body
    for change in (result or {}).get("properties", {}).get("changes", []):
        kind = change["changeType"]
        print(f"{_MARKS.get(kind, '?')} {kind:<11} {change['resourceId']}", file=out)
        for d in change.get("delta") or []:
            print(f"      {d['propertyChangeType']:<8} {d['path']}: {_show(d.get('before'))} -> "
                  f"{_show(d.get('after'))}", file=out)
        if change.get("unsupportedReason"):
            print(f"      {change['unsupportedReason']}", file=out)
    return 0


def deploy(server: Server, group: str, template_path: str, specs: list[str], name: str | None, mode: str,
           what_if: bool, out: Any = sys.stdout) -> int:
    try:
        text = Path(template_path).read_text(encoding="utf-8-sig")
        template = jsonc.loads(text)
    except (OSError, jsonc.JsoncError) as e:
        raise DeployError(f"cannot read the template {template_path}: {e}") from None
    if not isinstance(template, dict):
        raise DeployError(f"{template_path} is not a template (a JSON object)")
    arm = Arm(server)
    name = name or Path(template_path).stem
    base = f"/subscriptions/{server.creds.subscription}/resourcegroups/{group}/providers/" \
           f"Microsoft.Resources/deployments/{name}"
    body = {"properties": {"mode": mode, "template": template, "parameters": parameter_values(template, specs)}}
    if what_if:
        return _what_if(arm, base, body, out)
    print(f"Deploying '{name}' to resource group '{group}' …", file=out)
    status_url = arm.call("PUT", base, body).headers.get("azure-asyncoperation")
    while status_url:
        status = arm.call("GET", status_url).body
        if status.get("status") in ("Succeeded", "Failed", "Canceled"):
            break
        time.sleep(1)
    doc = arm.call("GET", base).body
    ops = arm.call("GET", f"{base}/operations").body
    for op in ops.get("value", []):
        p = op["properties"]
        target = p.get("targetResource") or {}
        ok = p.get("provisioningState") == "Succeeded"
        line = f"{'ok ' if ok else 'ERR'} {p.get('provisioningOperation', ''):<7} {p.get('statusCode', ''):<11} " \
               f"{target.get('resourceType', '')}/{target.get('resourceName', '')}"
        print(line, file=out)
        if not ok:
            err = (p.get("statusMessage") or {}).get("error") or {}
            print(f"      {err.get('code')}: {err.get('message')}", file=out)
    props = doc["properties"]
    if props["provisioningState"] != "Succeeded":
        err = props.get("error") or {}
        details = "; ".join(f"{d.get('code')}: {d.get('message')}" for d in err.get("details") or [])
        raise DeployError(f"deployment '{name}' {props['provisioningState']}: {err.get('code')}: "
                          f"{err.get('message')}" + (f" Details: {details}" if details else ""))
    rows = [(k, v.get("type", ""), _show(v.get("value", "(secure)"))) for k, v in (props.get("outputs") or {}).items()]
    print(f"Deployment '{name}' Succeeded in {props.get('duration')}.", file=out)
    if rows:
        _table(rows, out)
    return 0
