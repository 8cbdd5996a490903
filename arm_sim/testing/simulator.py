"""`ArmSim`: a running simulator as a test sees it — URLs, CA, bootstrap credentials, client factories, `deploy`.

The pytest plugin hands one to tests as the `arm_sim` fixture; outside pytest, `ArmSim.launch(home)` … `.stop()`.
Standard library only; azure-identity is imported when `credential()` or `client()` is first called.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import os
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from arm_sim.testing.server import ARM_SCOPE, Reply, Sim, request

__all__ = ["ArmError", "ArmSim", "DeploymentFailed"]

RESOURCES_API = "2025-04-01"  # resource groups and deployments
TERMINAL = frozenset({"succeeded", "failed", "canceled"})


def describe(error: Mapping[str, Any], depth: int = 0) -> str:
    """An ARM error and its nested details, one `code: message` a line."""
    lines = [f"{'  ' * depth}{error.get('code', '?')}: {error.get('message', '')}"]
    lines += [describe(d, depth + 1) for d in error.get("details") or [] if isinstance(d, Mapping)]
    return "\n".join(lines)


class ArmError(Exception):
    """The simulator answered with an error: `.status` (HTTP; None for DeploymentFailed), `.code`, `.message` and
    the whole ARM `.error`."""

    def __init__(self, status: int | None, error: Any, doing: str) -> None:
        inner = error.get("error", error) if isinstance(error, Mapping) else None
        self.status = status
        self.error: dict[str, Any] = dict(inner) if isinstance(inner, Mapping) else {
            "code": f"HTTP{status}", "message": str(error)}
        self.code = str(self.error.get("code", ""))
        self.message = str(self.error.get("message", ""))
        super().__init__(f"{doing} failed{f' ({status})' if status else ''}:\n{describe(self.error)}")


class DeploymentFailed(ArmError):
    """The deployment ran and ended `Failed` or `Canceled`; `.error` is its `properties.error` (`DeploymentFailed`
    with per-resource `details`). Resources deployed before the failure stay, as in Azure."""


class ArmSim:
    """A running arm-sim. Attributes: `url`, `ca`, `ca_bundle`, `imds_url`, `home`, the bootstrap `tenant`,
    `subscription`, `client_id`, `client_secret` (an Owner of the subscription), `location` (for new groups)."""

    location = "eastus"

    def __init__(self, server: Sim) -> None:
        self.server = server

    @classmethod
    def launch(cls, home: Path, *, lro: str = "sync", database_url: str = "",
               settings: Mapping[str, str] | None = None) -> ArmSim:
        """Start `arm-sim serve` on free ports with its state in `home`. `lro="sync"` answers long-running
        operations in their final state at once (fast tests); `settings` are extra ARM_SIM_* variables."""
        if lro not in ("sync", "async"):
            raise ValueError(f"lro must be 'sync' or 'async', not {lro!r}")
        server = Sim(home=Path(home), database_url=database_url, hermetic=True,
                     extra_env={"ARM_SIM_LRO": lro, **(settings or {})})
        sim = cls(server.start())
        if database_url:
            try:
                sim._adopt_bootstrap()
            except BaseException:
                server.stop()
                raise
        return sim

    def _adopt_bootstrap(self) -> None:
        """A database that already has state keeps its bootstrap ids (pinning works only on first start): read the
        real ones, as `arm-sim env` prints them."""
        out = self.server.cli("env", "--format", "json")
        if out.returncode != 0:
            raise RuntimeError(f"arm-sim env failed: {out.stderr.strip()}")
        values = json.loads(out.stdout)
        s = self.server
        s.tenant, s.subscription = values["ARM_SIM_TENANT"], values["ARM_SIM_SUBSCRIPTION"]
        s.client_id, s.client_secret = values["ARM_SIM_CLIENT_ID"], values["ARM_SIM_CLIENT_SECRET"]

    def stop(self) -> None:
        self.server.stop()

    def reset(self) -> None:
        """Forget every resource, principal, event and the clock offset (a restart around `arm-sim reset`, which
        needs the server stopped: the server keeps caches). The bootstrap ids and the ports stay the same, but
        tokens that credentials made before have cached were signed by keys that are gone: make new ones."""
        self.server.stop()
        out = self.server.cli("reset")
        if out.returncode != 0:
            raise RuntimeError(f"arm-sim reset failed: {out.stderr.strip()}")
        self.server.start()

    def __repr__(self) -> str:
        return f"ArmSim(url={self.url!r}, subscription={self.subscription!r}, home={str(self.home)!r})"

    # --- where it is and who may call it ----------------------------------------------------------------------
    url = property(lambda self: self.server.url, doc="ARM, Entra (authority) and Graph, e.g. https://localhost:PORT")
    ca = property(lambda self: self.server.ca, doc="path of the simulator's CA certificate (PEM)")
    ca_bundle = property(lambda self: self.server.ca_bundle, doc="the CA plus public roots (REQUESTS_CA_BUNDLE)")
    imds_url = property(lambda self: self.server.imds_url, doc="the identity listener (IMDS, App Service), HTTP")
    home = property(lambda self: self.server.home, doc="the simulator's data directory")
    tenant = property(lambda self: self.server.tenant)
    subscription = property(lambda self: self.server.subscription)
    client_id = property(lambda self: self.server.client_id)
    client_secret = property(lambda self: self.server.client_secret)

    def env(self) -> dict[str, str]:
        """The variables `arm-sim env` prints, for `monkeypatch.setenv` or a subprocess's environment."""
        ca, bundle = str(Path(self.ca).resolve()), str(Path(self.ca_bundle).resolve())
        return {
            "ARM_SIM_URL": self.url, "ARM_SIM_CA": ca, "ARM_SIM_TENANT": self.tenant,
            "ARM_SIM_CLIENT_ID": self.client_id, "ARM_SIM_CLIENT_SECRET": self.client_secret,
            "ARM_SIM_SUBSCRIPTION": self.subscription, "ARM_SIM_IMDS_URL": self.imds_url,
            "AZURE_TENANT_ID": self.tenant, "AZURE_CLIENT_ID": self.client_id,
            "AZURE_CLIENT_SECRET": self.client_secret, "AZURE_SUBSCRIPTION_ID": self.subscription,
            "AZURE_AUTHORITY_HOST": self.url, "REQUESTS_CA_BUNDLE": bundle,
        }

    # --- clients ------------------------------------------------------------------------------------------------
    def credential(self, **kwargs: Any) -> Any:
        """azure-identity's ClientSecretCredential for the bootstrap principal, pointed at the simulator.
        It caches tokens by real time: after `advance_clock` past their expiry, make a new one."""
        from azure.identity import ClientSecretCredential

        return ClientSecretCredential(self.tenant, self.client_id, self.client_secret, authority=self.url,
                                      disable_instance_discovery=True, connection_verify=self.ca, **kwargs)

    def client(self, client_class: type, credential: Any = None, **kwargs: Any) -> Any:
        """Any azure-mgmt client (`ComputeManagementClient`, `ResourceManagementClient`, `SubscriptionClient` …)
        with the simulator's `base_url`, `credential_scopes`, `connection_verify` and the subscription;
        `credential` defaults to `credential()`; `kwargs` override or add client options."""
        options: dict[str, Any] = {"base_url": self.url, "credential_scopes": [ARM_SCOPE],
                                   "connection_verify": self.ca, "polling_interval": 1, **kwargs}
        if "subscription_id" in inspect.signature(client_class).parameters:
            options.setdefault("subscription_id", self.subscription)
        return client_class(credential or self.credential(), **options)

    def token(self, scope: str = ARM_SCOPE) -> str:
        """An access token of the bootstrap principal for `scope` (default: ARM)."""
        return self.server.token(scope)

    def http(self, token: str | None = None) -> Any:
        """An httpx.Client on `url` with the bootstrap principal's ARM token (needs httpx)."""
        return self.server.http(token)

    def request(self, method: str, path: str, body: Any = None, *, token: str | None = None) -> Reply:
        """One authenticated call (`path` relative to `url`, or a full URL); never raises for HTTP errors."""
        url = path if path.startswith(("https://", "http://")) else self.url + path
        return request(method, url, self.ca, json_body=body,
                       headers={"Authorization": f"Bearer {token or self.token()}"})

    def _call(self, method: str, path: str, body: Any = None, *, doing: str, token: str | None = None) -> Reply:
        r = self.request(method, path, body, token=token)
        if r.status >= 400:
            raise ArmError(r.status, r.body, doing)
        return r

    # --- resource groups ---------------------------------------------------------------------------------------
    def group_id(self, name: str) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{name}"

    def create_resource_group(self, name: str | None = None, location: str | None = None,
                              tags: Mapping[str, str] | None = None) -> str:
        """Create (or update) a resource group; returns its name (a unique one when not given)."""
        name = name or f"rg-{uuid.uuid4().hex[:12]}"
        body: dict[str, Any] = {"location": location or self.location, **({"tags": dict(tags)} if tags else {})}
        self._call("PUT", f"{self.group_id(name)}?api-version={RESOURCES_API}", body,
                   doing=f"Creating resource group '{name}'")
        return name

    def delete_resource_group(self, name: str) -> None:
        """Delete a resource group and everything in it (every lifecycle hook runs); absent is fine."""
        r = self.request("DELETE", f"{self.group_id(name)}?api-version={RESOURCES_API}")
        if r.status >= 400 and r.status != 404:
            raise ArmError(r.status, r.body, f"Deleting resource group '{name}'")

    # --- deployments ------------------------------------------------------------------------------------------
    def deploy(self, template: Mapping[str, Any] | str | os.PathLike[str], parameters: Mapping[str, Any] | None = None,
               resource_group: str | None = None, name: str | None = None, mode: str = "Incremental", *,
               location: str | None = None, timeout: float = 300) -> dict[str, Any]:
        """Deploy an ARM template (a dict, JSON text, or a path to a .json file) through the deployments API and
        wait for the end; returns the outputs as plain values `{name: value}`. `parameters` are plain values
        (`{"name": "x"}`, wrapped as `{"value": …}`). At a resource group when `resource_group` is given, else at
        the subscription (with `location`). Raises ArmError when the request is refused (e.g. InvalidTemplate)
        and DeploymentFailed when it ran and failed."""
        name = name or f"deploy-{uuid.uuid4().hex[:12]}"
        scope = self.group_id(resource_group) if resource_group else f"/subscriptions/{self.subscription}"
        path = f"{scope}/providers/Microsoft.Resources/deployments/{name}?api-version={RESOURCES_API}"
        properties = {"mode": mode, "template": _template(template),
                      "parameters": {k: {"value": v} for k, v in (parameters or {}).items()}}
        body: dict[str, Any] = {"properties": properties}
        if location or not resource_group:
            body["location"] = location or self.location
        token = self.token()
        r = self._call("PUT", path, body, token=token, doing=f"Deployment '{name}'")
        deadline = time.monotonic() + timeout
        status_url = r.headers.get("azure-asyncoperation")
        state = str(((r.body or {}).get("properties") or {}).get("provisioningState", ""))
        while state.lower() not in TERMINAL:
            if time.monotonic() > deadline:
                raise TimeoutError(f"Deployment '{name}' still '{state}' after {timeout:.0f} s")
            time.sleep(0.2)
            if status_url:
                state = str((self._call("GET", status_url, token=token, doing="Polling").body or {}).get("status"))
            else:
                state = self._properties(path, name, token).get("provisioningState", "")
        props = self._properties(path, name, token)
        if "correlationId" not in props:  # every DeploymentExtended has one; a plain stored resource does not
            raise RuntimeError(f"Deployment '{name}' was stored but not run: this arm-sim ({self.url}) does not "
                               "implement template deployments.")
        if str(props.get("provisioningState", "")).lower() != "succeeded":
            error = props.get("error") or {"code": props.get("provisioningState"), "message": "no error given"}
            raise DeploymentFailed(None, error, f"Deployment '{name}'")
        return {k: (v or {}).get("value") for k, v in (props.get("outputs") or {}).items()}

    def _properties(self, path: str, name: str, token: str) -> dict[str, Any]:
        body = self._call("GET", path, token=token, doing=f"Reading deployment '{name}'").body or {}
        return dict(body.get("properties") or {})

    # --- identity endpoints, clock, events ----------------------------------------------------------------------
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
        rolling and soft-delete purges follow. Returns the clock's state."""
        if isinstance(duration, dt.timedelta):
            duration = duration.total_seconds()
        text = duration if isinstance(duration, str) else f"{float(duration):g}"
        state: dict[str, Any] = self._call("POST", "/_sim/clock/advance", {"duration": text},
                                           doing="Advancing the clock").body
        return state

    def events(self, **filters: Any) -> list[dict[str, Any]]:
        """The event log, oldest first; filters as `GET /_sim/events`: kind, resource, principal, since, until
        (epoch seconds on the simulated clock), after (a sequence number), top."""
        query = urllib.parse.urlencode({k: v for k, v in filters.items() if v is not None})
        return list(self._call("GET", f"/_sim/events?{query}", doing="Reading events").body["value"])


def _template(template: Mapping[str, Any] | str | os.PathLike[str]) -> Any:
    """A dict as it is; a path is read; JSON text is parsed, or sent as the string the API also accepts (JSON
    with comments)."""
    if isinstance(template, Mapping):
        return dict(template)
    text = Path(template).read_text() if isinstance(template, os.PathLike) else str(template)
    try:
        return json.loads(text)
    except ValueError:
        return text
