"""Where a simulator is and who may call it (`Connection`), and the calls every `ArmSim` makes with it (`Client`):
tokens for the right audience, `request()`, azure-identity credentials and azure-mgmt clients, resource groups.

Standard library only; azure-identity and httpx are imported when `credential()`, `client()` or `http()` is called.
"""

from __future__ import annotations

import inspect
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arm_sim.testing.errors import ArmError
from arm_sim.testing.wire import ARM_SCOPE, Reply, audience_for, request, scope_of

__all__ = ["RESOURCES_API", "Client", "Connection"]

RESOURCES_API = "2025-04-01"  # resource groups and deployments
VAULT_API = "2023-07-01"


@dataclass(frozen=True)
class Connection:
    """A running server's address, CA and bootstrap principal (an Owner of `subscription`)."""

    url: str
    ca: str
    tenant: str
    subscription: str
    client_id: str
    client_secret: str = field(repr=False)
    imds_url: str = ""
    ca_bundle: str = ""
    home: Path | None = None
    proxy_url: str = ""  # the proxy listener (http), "" when the server runs without it


class Client:
    """The calls of a simulator client; `ArmSim` adds starting, attaching, deployments and the simulator API."""

    location = "eastus"

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    # --- where it is and who may call it ----------------------------------------------------------------------
    url = property(lambda self: self.conn.url, doc="ARM, Entra (authority) and Graph, e.g. https://localhost:PORT")
    ca = property(lambda self: self.conn.ca, doc="path of the simulator's CA certificate (PEM)")
    ca_bundle = property(lambda self: self.conn.ca_bundle or self.conn.ca,
                         doc="the CA plus public roots (REQUESTS_CA_BUNDLE)")
    imds_url = property(lambda self: self.conn.imds_url, doc="the identity listener (IMDS, App Service), HTTP")
    home = property(lambda self: self.conn.home, doc="the simulator's data directory (None if not known)")
    proxy_url = property(lambda self: self.conn.proxy_url,
                         doc="the proxy that answers Azure's own host names, e.g. http://localhost:PORT ('' if off)")
    tenant = property(lambda self: self.conn.tenant)
    subscription = property(lambda self: self.conn.subscription)
    client_id = property(lambda self: self.conn.client_id)
    client_secret = property(lambda self: self.conn.client_secret)

    def env(self) -> dict[str, str]:
        """The variables `arm-sim env` prints, for `monkeypatch.setenv` or a subprocess's environment."""
        ca, bundle = str(Path(self.ca).resolve()), str(Path(self.ca_bundle).resolve())
        return {
            "ARM_SIM_URL": self.url, "ARM_SIM_CA": ca, "ARM_SIM_TENANT": self.tenant,
            "ARM_SIM_CLIENT_ID": self.client_id, "ARM_SIM_CLIENT_SECRET": self.client_secret,
            "ARM_SIM_SUBSCRIPTION": self.subscription, "ARM_SIM_IMDS_URL": self.imds_url,
            **({"ARM_SIM_PROXY_URL": self.proxy_url} if self.proxy_url else {}),
            "AZURE_TENANT_ID": self.tenant, "AZURE_CLIENT_ID": self.client_id,
            "AZURE_CLIENT_SECRET": self.client_secret, "AZURE_SUBSCRIPTION_ID": self.subscription,
            "AZURE_AUTHORITY_HOST": self.url, "REQUESTS_CA_BUNDLE": bundle,
        }

    # --- tokens and calls ---------------------------------------------------------------------------------------
    def token(self, scope: str = ARM_SCOPE) -> str:
        """A fresh access token of the bootstrap principal: `scope` is `arm` (the default), `graph`, `vault`, or
        any resource URI or scope."""
        r = request("POST", f"{self.url}/{self.tenant}/oauth2/v2.0/token", self.ca, form={
            "grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret,
            "scope": scope_of(scope)})
        if r.status != 200 or not isinstance(r.body, dict):
            raise ArmError(r.status, r.body if r.body is not None else r.text, f"A token for {scope!r}")
        return str(r.body["access_token"])

    def _cached_token(self, scope: str) -> str:
        # a token is reused for a minute at most: the simulated clock may move (advance_clock, other workers)
        with self._lock:
            hit = self._tokens.get(scope)
        if hit and hit[1] > time.monotonic():
            return hit[0]
        token = self.token(scope)
        with self._lock:
            self._tokens[scope] = (token, time.monotonic() + 60)
        return token

    def forget_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def request(self, method: str, path: str, body: Any = None, *, audience: str | None = None,
                token: str | None = None, headers: Mapping[str, str] | None = None, timeout: float = 60) -> Reply:
        """One authenticated call; never raises for an HTTP error status (look at `.status`, `.body`, `.code`).

        `path` is relative to `url` (`/subscriptions/…?api-version=…`, `/v1.0/applications`) or a full URL (a vault's
        `https://localhost:PORT/secrets/x?api-version=7.4`). The bootstrap principal's token is for `audience`:
        `arm`, `graph`, `vault` or a resource URI; by default it follows the URL: Graph's `/v1.0/` and `/beta/`
        paths get a Graph token, another HTTPS origin (a vault) a Key Vault token, everything else an ARM token.
        `token` sends that token instead."""
        url = path if path.startswith(("https://", "http://")) else self.url + path
        scope = scope_of(audience or audience_for(url, self.url))
        bearer = token or self._cached_token(scope)
        reply = self._send(method, url, body, bearer, headers, timeout)
        if reply.status == 401 and token is None:  # a cached token the simulated clock expired: once more
            with self._lock:
                self._tokens.pop(scope, None)
            reply = self._send(method, url, body, self._cached_token(scope), headers, timeout)
        return reply

    def _send(self, method: str, url: str, body: Any, bearer: str, headers: Mapping[str, str] | None,
              timeout: float) -> Reply:
        return request(method, url, self.ca, json_body=body, timeout=timeout,
                       headers={**(headers or {}), "Authorization": f"Bearer {bearer}"})

    def _call(self, method: str, path: str, body: Any = None, *, doing: str, **kwargs: Any) -> Reply:
        r = self.request(method, path, body, **kwargs)
        if r.status >= 400:
            raise ArmError(r.status, r.body if r.body is not None else r.text, doing)
        return r

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

    def http(self, token: str | None = None) -> Any:
        """An httpx.Client on `url` with the bootstrap principal's ARM token (needs httpx)."""
        import httpx

        headers = {"Authorization": f"Bearer {token or self.token()}"}
        return httpx.Client(base_url=self.url, verify=self.ca, headers=headers, timeout=30)

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

    def delete_resource_group(self, name: str, *, purge: bool = False) -> None:
        """Delete a resource group and everything in it (every lifecycle hook runs); absent is fine. `purge`: then
        purge its vaults (soft-deleted, as in Azure), which frees their names."""
        vaults = self._vaults(name) if purge else []
        r = self.request("DELETE", f"{self.group_id(name)}?api-version={RESOURCES_API}")
        if r.status >= 400 and r.status != 404:
            raise ArmError(r.status, r.body, f"Deleting resource group '{name}'")
        for vault_name, location in vaults:
            self.request("POST", f"/subscriptions/{self.subscription}/providers/Microsoft.KeyVault/locations/"
                                 f"{location}/deletedVaults/{vault_name}/purge?api-version={VAULT_API}")

    def _vaults(self, group: str) -> list[tuple[str, str]]:
        r = self.request("GET", f"{self.group_id(group)}/resources?api-version={RESOURCES_API}")
        values = (r.body or {}).get("value") or [] if r.status == 200 else []
        return [(str(v["name"]), str(v.get("location") or self.location)) for v in values
                if str(v.get("type", "")).lower() == "microsoft.keyvault/vaults"]
