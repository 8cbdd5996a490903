"""`arm-sim deploy -g RG TEMPLATE [-p k=v | -p @params.json] [--what-if]`: deploy a template to a running
simulator over HTTPS, as the bootstrap principal, through the same deployments API every client uses.

The simulator deploys inside the PUT request, so the per-resource progress is printed from the deployment's
operations, in the order they ran, once the PUT has answered; then the outputs as a table. A failed
deployment exits 1 with ARM's error.
"""

from __future__ import annotations

import json
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from arm_sim.core.settings import Settings
from arm_sim.deployments import jsonc

API = "2025-04-01"
_MARKS = {"Create": "+", "Modify": "~", "NoChange": "=", "Delete": "-", "Ignore": "*", "Unsupported": "!",
          "Deploy": "!"}


class DeployError(Exception):
    """Something to print before exiting non-zero."""


class Arm:
    """A minimal ARM client (the standard library only: the CLI must not need the test dependencies)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.url = values["ARM_SIM_URL"]
        self.ssl = ssl.create_default_context(cafile=values["ARM_SIM_CA"])
        form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": values["ARM_SIM_CLIENT_ID"],
                                       "client_secret": values["ARM_SIM_CLIENT_SECRET"],
                                       "scope": "https://management.azure.com/.default"}).encode()
        _, token = self._send("POST", f"{self.url}/{values['ARM_SIM_TENANT']}/oauth2/v2.0/token", form,
                              {"Content-Type": "application/x-www-form-urlencoded"})
        self.token = token["access_token"]

    def _send(self, method: str, url: str, data: bytes | None, headers: dict[str, str]) -> tuple[int, Any]:
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, context=self.ssl, timeout=600) as resp:
                raw = resp.read()
                self.headers = dict(resp.headers)
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            body = json.loads(raw) if raw else {}
            err = body.get("error", body) if isinstance(body, dict) else body
            raise DeployError(f"{err.get('code', e.code)}: {err.get('message', '')}" if isinstance(err, dict)
                              else str(err)) from None
        except urllib.error.URLError as e:
            raise DeployError(f"cannot reach the simulator at {self.url}: {e.reason} (is `arm-sim serve` running?)") \
                from None

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        url = path if path.startswith("https://") else f"{self.url}{path}?api-version={API}"
        data = json.dumps(body).encode() if body is not None else None
        return self._send(method, url, data, {"Authorization": f"Bearer {self.token}",
                                              "Content-Type": "application/json"})


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
    _, result = arm.call("POST", f"{base}/whatIf", body)
    for change in (result or {}).get("properties", {}).get("changes", []):
        kind = change["changeType"]
        print(f"{_MARKS.get(kind, '?')} {kind:<11} {change['resourceId']}", file=out)
        for d in change.get("delta") or []:
            print(f"      {d['propertyChangeType']:<8} {d['path']}: {_show(d.get('before'))} -> "
                  f"{_show(d.get('after'))}", file=out)
        if change.get("unsupportedReason"):
            print(f"      {change['unsupportedReason']}", file=out)
    return 0


def deploy(settings: Settings, group: str, template_path: str, specs: list[str], name: str | None, mode: str,
           what_if: bool, out: Any = sys.stdout) -> int:
    from arm_sim.app.admin import env_values

    try:
        text = Path(template_path).read_text(encoding="utf-8-sig")
        template = jsonc.loads(text)
    except (OSError, jsonc.JsoncError) as e:
        raise DeployError(f"cannot read the template {template_path}: {e}") from None
    if not isinstance(template, dict):
        raise DeployError(f"{template_path} is not a template (a JSON object)")
    values = env_values(settings)
    arm = Arm(values)
    name = name or Path(template_path).stem
    base = f"/subscriptions/{values['ARM_SIM_SUBSCRIPTION']}/resourcegroups/{group}/providers/" \
           f"Microsoft.Resources/deployments/{name}"
    body = {"properties": {"mode": mode, "template": template, "parameters": parameter_values(template, specs)}}
    if what_if:
        return _what_if(arm, base, body, out)
    print(f"Deploying '{name}' to resource group '{group}' …", file=out)
    _, doc = arm.call("PUT", base, body)
    status_url = arm.headers.get("Azure-AsyncOperation")
    while status_url:
        _, status = arm.call("GET", status_url)
        if status.get("status") in ("Succeeded", "Failed", "Canceled"):
            break
        time.sleep(1)
    _, doc = arm.call("GET", base)
    _, ops = arm.call("GET", f"{base}/operations")
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
