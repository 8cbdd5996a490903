"""`arm-sim deploy -g RG TEMPLATE [-p k=v | -p @params.json] [--what-if]`: deploy a template to a running
simulator over HTTPS, as the bootstrap principal, through the same deployments API every client uses.

Progress per resource (cli/deploy_progress.py) comes from ARM's own `GET …/deployments/{name}/operations`, polled
while the PUT is under way, as a client of real ARM would: a live line per resource on a terminal, a plain line per
state change when piped. The simulator deploys inside the PUT, so its operations appear once the deployment has run;
the template's resources (from `validate`) are shown as running until then. Then the outputs as a table, and the
managed identities the deployment created (principalId, clientId). A failed deployment exits 1 with ARM's error.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from arm_sim.cli.client import ApiError, CommandError, Server
from arm_sim.cli.client import Client as Arm
from arm_sim.cli.deploy_progress import Progress
from arm_sim.core import jsonc

API = "2025-04-01"
POLL = 0.5  # seconds between two polls of the operations
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


def _table(head: tuple[str, ...], rows: Sequence[tuple[str, ...]], out: Any) -> None:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
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


def _identities_created(arm: Arm, since: float | None, targets: set[str]) -> list[tuple[str, str, str, str]]:
    """(resource, kind, principalId, clientId) of each principal made for a deployed resource since `since` (the
    simulated time the deployment started): from the event log's creation events, the only place a system-assigned
    identity's clientId (its appId) is read without a Graph token."""
    if since is None or not targets:
        return []
    try:
        found = arm.call("GET", "/_sim/events", query={"kind": "servicePrincipal.created", "since": repr(since)},
                         api_version=None).body
    except CommandError:
        return []
    out = []
    for e in (found or {}).get("value") or []:
        d = e.get("details") or {}
        rid = str(d.get("resourceId") or "")
        if rid.lower() in targets:
            out.append((_short(rid), "UserAssigned" if d.get("isExplicit") else "SystemAssigned",
                        str(d.get("principalId", "")), str(d.get("clientId", ""))))
    return out


def _short(resource_id: str) -> str:
    return resource_id.rsplit("/providers/", 1)[-1]


def _now(arm: Arm) -> float | None:
    try:
        return float(arm.call("GET", "/_sim/clock", api_version=None).body["epoch"])
    except (CommandError, KeyError, TypeError, ValueError):
        return None


def _run(server: Server, base: str, body: dict[str, Any], progress: Progress) -> None:
    """The PUT on a thread of its own (its own connection), while this thread polls the operations and, once the
    PUT has answered with an `Azure-AsyncOperation`, the status until it is terminal."""
    poller = Arm(server)
    stale = {op.get("operationId") for op in _operations(poller, base)}  # a redeployment's earlier run
    answer: dict[str, Any] = {}

    def put() -> None:
        try:
            answer["reply"] = Arm(server).call("PUT", base, body)
        except BaseException as e:  # noqa: BLE001 - re-raised on the calling thread
            answer["error"] = e

    worker = threading.Thread(target=put, name="arm-sim-deploy", daemon=True)
    worker.start()
    while worker.is_alive():
        progress.update([op for op in _operations(poller, base) if op.get("operationId") not in stale])
        worker.join(POLL)
    if "error" in answer:
        raise answer["error"]
    status_url = answer["reply"].headers.get("azure-asyncoperation")
    while status_url:
        status = poller.call("GET", status_url).body
        progress.update([op for op in _operations(poller, base) if op.get("operationId") not in stale])
        if status.get("status") in ("Succeeded", "Failed", "Canceled"):
            break
        time.sleep(POLL)
    progress.update([op for op in _operations(poller, base) if op.get("operationId") not in stale])


def _operations(arm: Arm, base: str) -> list[dict[str, Any]]:
    """The deployment's operations (none while ARM does not know the deployment yet)."""
    try:
        return list(arm.call("GET", f"{base}/operations").body.get("value") or [])
    except ApiError as e:
        if e.reply.status == 404:
            return []
        raise


def _expected(arm: Arm, base: str, body: dict[str, Any]) -> list[str]:
    """The ids of the resources the template will deploy, in order (`validate`); none if it does not validate
    (the PUT then answers with the reason)."""
    try:
        found = arm.call("POST", f"{base}/validate", body).body
    except CommandError:
        return []
    return [str(r["id"]) for r in ((found or {}).get("properties") or {}).get("validatedResources") or []
            if isinstance(r, dict) and r.get("id")]


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
    print(f"Deploying '{name}' to resource group '{group}' …", file=out, flush=True)
    started = _now(arm)
    progress = Progress(out, live=bool(getattr(out, "isatty", lambda: False)()))
    progress.expect(_expected(arm, base, body))
    try:
        _run(server, base, body, progress)
    finally:
        progress.close()
    doc = arm.call("GET", base).body
    props = doc["properties"]
    if props["provisioningState"] != "Succeeded":
        err = props.get("error") or {}
        details = "; ".join(f"{d.get('code')}: {d.get('message')}" for d in err.get("details") or [])
        raise DeployError(f"deployment '{name}' {props['provisioningState']}: {err.get('code')}: "
                          f"{err.get('message')}" + (f" Details: {details}" if details else ""))
    rows = [(k, v.get("type", ""), _show(v.get("value", "(secure)"))) for k, v in (props.get("outputs") or {}).items()]
    print(f"Deployment '{name}' Succeeded in {props.get('duration')}.", file=out)
    if rows:
        print("Outputs:", file=out)
        _table(("Name", "Type", "Value"), rows, out)
    made = _identities_created(arm, started, progress.succeeded())
    if made:
        print("Managed identities created:", file=out)
        _table(("Resource", "Identity", "principalId", "clientId"), made, out)
    return 0
