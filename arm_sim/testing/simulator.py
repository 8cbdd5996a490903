"""`ArmSim`: a simulator as a test sees it — started (`launch`) or found (`attach`), with its connection details,
clients (connection.py), deployments with what-if and validation, identity endpoints, clock, events and audit.

The server is always another process (`arm-sim serve`, started by `launch` or already running); this object only
speaks HTTPS to it. Standard library only at import time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from arm_sim.testing.connection import RESOURCES_API, Client, Connection
from arm_sim.testing.errors import ArmError, DeploymentFailed, DeploymentRefused, ErrorDetail
from arm_sim.testing.locate import found, launched
from arm_sim.testing.results import ORPHAN_KEYS, Change, Validation, WhatIf, scoped
from arm_sim.testing.server import Sim, free_range
from arm_sim.testing.wire import Reply, request

__all__ = ["ArmSim"]

TERMINAL = frozenset({"succeeded", "failed", "canceled"})
Template = Mapping[str, Any] | str | os.PathLike[str]


class ArmSim(Client):
    """A running arm-sim. Attributes: `url`, `ca`, `ca_bundle`, `imds_url`, `home`, the bootstrap `tenant`,
    `subscription`, `client_id`, `client_secret` (an Owner of the subscription), `location` (for new groups);
    `server` (the `Sim` process when this object started it, else None) and `shared` (other test processes use
    this server too: it must not be reset or stopped from here)."""

    def __init__(self, conn: Connection, server: Sim | None = None, *, shared: bool = False) -> None:
        super().__init__(conn)
        self.server = server
        self.shared = shared

    @classmethod
    def launch(cls, home: Path, *, lro: str = "sync", database_url: str = "",
               settings: Mapping[str, str] | None = None, vaults: int = 32) -> ArmSim:
        """Start `arm-sim serve` (a subprocess) on free ports with its state in `home`. `lro="sync"` answers
        long-running operations in their final state at once (fast tests); `settings` are extra ARM_SIM_*
        variables; `vaults`: how many vaults get a data-plane port of their own (any more are reached by name)."""
        if lro not in ("sync", "async"):
            raise ValueError(f"lro must be 'sync' or 'async', not {lro!r}")
        server = Sim(home=Path(home), database_url=database_url, hermetic=True, vault_ports=free_range(vaults),
                     extra_env={"ARM_SIM_LRO": lro, **(settings or {})})
        server.start()
        try:
            return cls(launched(server), server)
        except BaseException:
            server.stop()
            raise

    @classmethod
    def attach(cls, url: str | None = None, home: str | os.PathLike[str] | None = None, *,
               env: Mapping[str, str] | None = None, shared: bool = True) -> ArmSim:
        """A server that is already running (started by `arm-sim serve`, another test process or a team): found
        through `home`'s `server.json` and `credentials.json` (its owner may read them), or at `url` with the
        variables `arm-sim env` prints (`ARM_SIM_CA`, `ARM_SIM_TENANT`, `ARM_SIM_SUBSCRIPTION`,
        `ARM_SIM_CLIENT_ID`, `ARM_SIM_CLIENT_SECRET`, `ARM_SIM_IMDS_URL`) taken from `env` (default: os.environ).
        It is never stopped or reset from here."""
        conn = found(url, Path(home).absolute() if home else None, os.environ if env is None else env)
        try:
            alive = request("GET", f"{conn.url}/_sim/health", conn.ca, timeout=10).status == 200
        except OSError as e:
            raise RuntimeError(f"no arm-sim answers at {conn.url}: {e}") from None
        if not alive:
            raise RuntimeError(f"{conn.url} answers, but not as arm-sim (GET /_sim/health)")
        return cls(conn, None, shared=shared)

    def stop(self) -> None:
        """Stop the server if this object started it and nobody else uses it; else nothing."""
        if self.server is not None and not self.shared:
            self.server.stop()

    def reset(self) -> None:
        """Forget every resource, principal, event and the clock offset (a restart around `arm-sim reset`, which
        needs the server stopped: the server keeps caches). Only for a server this object started and nobody
        shares. The bootstrap ids and ports stay; credentials made before cache tokens whose keys are gone."""
        if self.server is None or self.shared:
            raise RuntimeError(f"{self!r} is shared or attached: resetting it would wipe other tests' state "
                               "(run without xdist, with --arm-sim-per-worker, or launch a simulator of your own)")
        self.server.stop()
        out = self.server.cli("reset")
        if out.returncode != 0:
            raise RuntimeError(f"arm-sim reset failed: {out.stderr.strip()}")
        self.server.start()
        self.conn = launched(self.server)  # (a database's adopted ids are back to the pinned ones)
        self.forget_tokens()

    def __repr__(self) -> str:
        kind = "launched" if self.server is not None else "attached"
        return f"ArmSim({kind}, url={self.url!r}, subscription={self.subscription!r}, home={str(self.home)!r})"

    # --- deployments ------------------------------------------------------------------------------------------
    def _deployment(self, template: Template, parameters: Mapping[str, Any] | None, resource_group: str | None,
                    name: str | None, mode: str, location: str | None) -> tuple[str, str, dict[str, Any]]:
        name = name or f"deploy-{uuid.uuid4().hex[:12]}"
        scope = self.group_id(resource_group) if resource_group else f"/subscriptions/{self.subscription}"
        path = f"{scope}/providers/Microsoft.Resources/deployments/{name}"
        properties = {"mode": mode, "template": _template(template),
                      "parameters": {k: {"value": v} for k, v in (parameters or {}).items()}}
        body: dict[str, Any] = {"properties": properties}
        if location or not resource_group:
            body["location"] = location or self.location
        return name, path, body

    def deploy(self, template: Template, parameters: Mapping[str, Any] | None = None,
               resource_group: str | None = None, name: str | None = None, mode: str = "Incremental", *,
               location: str | None = None, timeout: float = 300) -> dict[str, Any]:
        """Deploy an ARM template (a dict, JSON text, or a path to a .json file) through the deployments API and
        wait for the end; returns the outputs as plain values `{name: value}`. `parameters` are plain values
        (`{"name": "x"}`, wrapped as `{"value": …}`). At a resource group when `resource_group` is given, else at
        the subscription (with `location`). Raises DeploymentRefused when ARM does not accept it (nothing was
        deployed) and DeploymentFailed when it ran and failed."""
        name, path, body = self._deployment(template, parameters, resource_group, name, mode, location)
        path += f"?api-version={RESOURCES_API}"
        r = self.request("PUT", path, body)
        if r.status >= 400:
            raise (DeploymentRefused if r.status < 500 else ArmError)(r.status, _error_of(r), f"Deployment '{name}'")
        deadline = time.monotonic() + timeout
        status_url = r.headers.get("azure-asyncoperation")
        state = str(((r.body or {}).get("properties") or {}).get("provisioningState", ""))
        while state.lower() not in TERMINAL:
            if time.monotonic() > deadline:
                raise TimeoutError(f"Deployment '{name}' still '{state}' after {timeout:.0f} s")
            time.sleep(0.2)
            if status_url:
                state = str((self._call("GET", status_url, doing="Polling").body or {}).get("status"))
            else:
                state = self._properties(path, name).get("provisioningState", "")
        props = self._properties(path, name)
        if "correlationId" not in props:  # every DeploymentExtended has one; a plain stored resource does not
            raise RuntimeError(f"Deployment '{name}' was stored but not run: this arm-sim ({self.url}) does not "
                               "implement template deployments.")
        if str(props.get("provisioningState", "")).lower() != "succeeded":
            error = props.get("error") or {"code": props.get("provisioningState"), "message": "no error given"}
            raise DeploymentFailed(None, error, f"Deployment '{name}'")
        return {k: (v or {}).get("value") for k, v in (props.get("outputs") or {}).items()}

    def _properties(self, path: str, name: str) -> dict[str, Any]:
        body = self._call("GET", path, doing=f"Reading deployment '{name}'").body or {}
        return dict(body.get("properties") or {})

    def _post(self, path: str, body: Any, doing: str, timeout: float = 300) -> Reply:
        """POST, then follow a 202's `location` to the final answer (validate and whatIf may be asynchronous)."""
        r = self.request("POST", path, body)
        deadline = time.monotonic() + timeout
        while r.status == 202 and r.headers.get("location"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{doing}: no answer after {timeout:.0f} s")
            time.sleep(float(r.headers.get("retry-after") or 0.2))
            r = self.request("GET", r.headers["location"])
        return r

    def what_if(self, template: Template, parameters: Mapping[str, Any] | None = None,
                resource_group: str | None = None, name: str | None = None, mode: str = "Incremental", *,
                location: str | None = None, full: bool = True) -> WhatIf:
        """What deploying would change, changing nothing: a `WhatIf` of typed `Change`s (change type, resource id,
        before/after, `delta`). `full=False` asks for resource ids only. Raises DeploymentRefused as `deploy`."""
        name, path, body = self._deployment(template, parameters, resource_group, name, mode, location)
        body["properties"]["whatIfSettings"] = {"resultFormat": "FullResourcePayloads" if full else "ResourceIdOnly"}
        doing = f"What-if of '{name}'"
        r = self._post(f"{path}/whatIf?api-version={RESOURCES_API}", body, doing)
        if r.status >= 400:
            raise (DeploymentRefused if r.status < 500 else ArmError)(r.status, _error_of(r), doing)
        raw = r.body if isinstance(r.body, dict) else {}
        if str(raw.get("status", "Succeeded")).lower() != "succeeded":
            raise DeploymentRefused(r.status, raw.get("error") or raw, doing)
        changes = tuple(Change.of(c) for c in (raw.get("properties") or {}).get("changes") or [])
        return WhatIf(changes, raw)

    def validate(self, template: Template, parameters: Mapping[str, Any] | None = None,
                 resource_group: str | None = None, name: str | None = None, mode: str = "Incremental", *,
                 location: str | None = None) -> Validation:
        """ARM's validation of a deployment (`POST …/validate`), deploying nothing: a `Validation` with `ok`, the
        typed `error` (what `deploy` would raise as DeploymentRefused) and the validated resource ids."""
        name, path, body = self._deployment(template, parameters, resource_group, name, mode, location)
        doing = f"Validation of '{name}'"
        r = self._post(f"{path}/validate?api-version={RESOURCES_API}", body, doing)
        if r.status >= 500 or r.status in (401, 403):
            raise ArmError(r.status, _error_of(r), doing)
        if r.status >= 400:
            return Validation(r.status, ErrorDetail.of(_error_of(r) or {"code": f"HTTP{r.status}"}), (), r.body)
        props = (r.body or {}).get("properties") or {}
        if props.get("error"):  # (an asynchronous validation's failure)
            return Validation(r.status, ErrorDetail.of(props["error"]), (), r.body)
        ids = tuple(str(v.get("id")) for v in props.get("validatedResources") or [] if isinstance(v, Mapping))
        return Validation(r.status, None, ids, r.body)

    def proxied(self, vm: str | None = None) -> AbstractContextManager[dict[str, str]]:
        """`with sim.proxied():` this process talks to Azure's own host names through the simulator's proxy, as
        the bootstrap principal (`vm`: a VM's resource id — as code inside that VM, by IMDS at 169.254.169.254);
        every variable is restored on exit. Yields the variables set (testing/proxied.py)."""
        from arm_sim.testing.proxied import proxied

        return proxied(self, vm)

    # --- identity endpoints, clock, events, audit ---------------------------------------------------------------
    def managed_identity_env(self, resource_id: str) -> dict[str, str]:
        """What code running inside a VM (`AZURE_POD_IDENTITY_AUTHORITY_HOST`) or an App Service site
        (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`) finds in its environment; azure-identity's
        ManagedIdentityCredential then gets the resource's managed-identity tokens from the simulator."""
        query = urllib.parse.urlencode({"resourceId": resource_id})
        b = self._call("GET", f"/_sim/imds-endpoint?{query}", doing=f"Finding the identity endpoint of {resource_id}"
                       ).body
        if b.get("kind") == "site":
            return {"IDENTITY_ENDPOINT": b["endpoint"], "IDENTITY_HEADER": b["header"]}
        return {"AZURE_POD_IDENTITY_AUTHORITY_HOST": b["endpoint"]}

    def advance_clock(self, duration: str | float | dt.timedelta) -> dict[str, Any]:
        """Move the simulated clock forward ("46d", "2h30m", seconds or a timedelta): token expiry, credential
        rolling and soft-delete purges follow — for every user of this server. Returns the clock's state."""
        if isinstance(duration, dt.timedelta):
            duration = duration.total_seconds()
        text = duration if isinstance(duration, str) else f"{float(duration):g}"
        state: dict[str, Any] = self._call("POST", "/_sim/clock/advance", {"duration": text},
                                           doing="Advancing the clock").body
        self.forget_tokens()
        return state

    def events(self, **filters: Any) -> list[dict[str, Any]]:
        """The event log, oldest first; filters as `GET /_sim/events`: kind, resource, principal, since, until
        (epoch seconds on the simulated clock), after (a sequence number), top."""
        query = urllib.parse.urlencode({k: v for k, v in filters.items() if v is not None})
        return list(self._call("GET", f"/_sim/events?{query}", doing="Reading events").body["value"])

    def audit(self, scope: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """What the lifecycle left behind (`GET /_sim/audit`) at or below `scope` (a resource id, or a resource
        group's name; None: the whole server). Keys: `orphanedRoleAssignments`, `orphanedAccessPolicies`,
        `danglingUserAssignedIdentities`, `expiredCredentials` (see the README for their fields)."""
        report = self._call("GET", "/_sim/audit", doing="Reading the audit").body or {}
        return scoped(report, None if scope is None else self._scope(scope))

    def assert_no_orphans(self, scope: str) -> None:
        """AssertionError listing every orphaned role assignment, orphaned access policy and dangling user-assigned
        identity reference at or below `scope` (a resource id or a group's name)."""
        found = {k: v for k, v in self.audit(scope).items() if k in ORPHAN_KEYS and v}
        if found:
            raise AssertionError(f"orphans under {self._scope(scope)}:\n{json.dumps(found, indent=2)}")

    def _scope(self, scope: str) -> str:
        return scope if scope.startswith("/") else self.group_id(scope)


def _error_of(r: Reply) -> Any:
    return r.body if r.body is not None else r.text


def _template(template: Template) -> Any:
    """A dict as it is; a path is read; JSON text is parsed, or sent as the string the API also accepts (JSON
    with comments)."""
    if isinstance(template, Mapping):
        return dict(template)
    text = Path(template).read_text() if isinstance(template, os.PathLike) else str(template)
    try:
        return json.loads(text)
    except ValueError:
        return text
