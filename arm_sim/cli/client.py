"""The running server of a home, as the CLI's `env`, `exec`, `deploy` and `clock` see it.

It is found through `$ARM_SIM_HOME/server.json` and `credentials.json` (core/discovery.py) and spoken to over
HTTPS with the standard library, as the bootstrap principal. These commands load neither the database stack nor
the web framework, so they start in tens of milliseconds (bench/cli_start.py); `ssl` and `http.client` are
imported only by the commands that make a request (`env` without `--vm`/`--site` makes none).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arm_sim.core import discovery

if TYPE_CHECKING:
    import http.client
    import ssl

API = "2025-04-01"  # ARM's resource-manager API version, for groups and deployments
ARM_SCOPE = "https://management.azure.com/.default"
# What a process inside a VM or site must not inherit: other credentials would win over the managed identity
# (DefaultAzureCredential tries the environment first, and reads AZURE_CLIENT_ID as the identity's client id).
NOT_INSIDE = ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_CLIENT_CERTIFICATE_PATH",
              "AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE",
              "AZURE_POD_IDENTITY_AUTHORITY_HOST", "IDENTITY_ENDPOINT", "IDENTITY_HEADER",
              "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET", "ARM_SIM_CLIENT_ID",
              "ARM_SIM_CLIENT_SECRET")
# What `exec` hands the command: where the identity endpoint is, the CA, where the simulator is; no credential.
INSIDE_KEEP = ("AZURE_POD_IDENTITY_AUTHORITY_HOST", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "REQUESTS_CA_BUNDLE",
               "ARM_SIM_URL", "ARM_SIM_CA", "ARM_SIM_TENANT", "ARM_SIM_SUBSCRIPTION", "ARM_SIM_IMDS_URL")
# (kind as messages say it, resource type, an API version its list accepts)
_KINDS = {"vm": ("VM", "Microsoft.Compute/virtualMachines", "2024-07-01"),
          "site": ("site", "Microsoft.Web/sites", "2023-12-01")}


class CommandError(Exception):
    """A command that cannot do what was asked: the CLI prints the message (one line) and exits 1."""


class NoServer(CommandError):
    """No server is running for the home."""


@dataclass(frozen=True)
class Server:
    info: discovery.ServerInfo
    creds: discovery.Credentials

    @property
    def home(self) -> Path:
        return Path(self.info.home)

    @property
    def ca(self) -> str:
        return self.info.ca or str(self.home / "ca.pem")

    @property
    def ca_bundle(self) -> str:
        return self.info.ca_bundle or str(self.home / "ca-bundle.pem")


def find(home: Path) -> Server:
    """The server running for `home`, or NoServer."""
    home = home.absolute()
    info = discovery.read(home)
    if info is None:
        raise NoServer(f"no server is running for home {home} (start one with `arm-sim serve`)")
    creds = discovery.read_credentials(home, info.pid)
    if creds is None:
        raise CommandError(f"cannot read the bootstrap credentials of the server of home {home} (pid {info.pid}) in "
                           f"{discovery.credentials_path(home)}: only the user who runs the server may")
    return Server(info, creds)


def env_values(server: Server) -> dict[str, str]:
    """What `arm-sim env` prints: where the simulator is, its CA, and the bootstrap principal."""
    info, creds = server.info, server.creds
    return {
        "ARM_SIM_URL": info.url,
        "ARM_SIM_CA": server.ca,
        "ARM_SIM_TENANT": creds.tenant,
        "ARM_SIM_CLIENT_ID": creds.client_id,
        "ARM_SIM_CLIENT_SECRET": creds.client_secret,
        "ARM_SIM_SUBSCRIPTION": creds.subscription,
        "ARM_SIM_IMDS_URL": info.imds_url,
        **({"ARM_SIM_PROXY_URL": proxy_url(info)} if info.proxy_port is not None else {}),
        "AZURE_TENANT_ID": creds.tenant,
        "AZURE_CLIENT_ID": creds.client_id,
        "AZURE_CLIENT_SECRET": creds.client_secret,
        "AZURE_SUBSCRIPTION_ID": creds.subscription,
        "AZURE_AUTHORITY_HOST": info.url,
        "REQUESTS_CA_BUNDLE": server.ca_bundle,
    }


def proxy_values(server: Server, inside: dict[str, str], vm: str | None, base: dict[str, str]) -> dict[str, str]:
    """What `arm-sim env --proxy` prints (cli/proxy_env.environment); `inside`: what `identity_env` answered."""
    from arm_sim.cli import proxy_env

    info, creds = server.info, server.creds
    if info.proxy_port is None:
        raise CommandError("the server runs without its proxy (ARM_SIM_PROXY_PORT=off): restart it with one")
    sim = proxy_env.Simulator(info.url, info.proxy_port, server.home, Path(server.ca), Path(server.ca_bundle),
                              creds.subscription)
    return proxy_env.environment(sim, base, (creds.tenant, creds.client_id, creds.client_secret), inside, vm)


def proxy_url(info: discovery.ServerInfo, user: str | None = None, key: str | None = None) -> str:
    from arm_sim.cli import proxy_env

    assert info.proxy_port is not None
    return proxy_env.proxy_url(info.url, info.proxy_port, user, key)


def format_env(values: dict[str, str], fmt: str, unset: tuple[str, ...] = ()) -> str:
    """`values` as JSON, dotenv or shell exports; for the shell, `unset` first names what must not survive from
    the caller's shell (`eval "$(arm-sim env --vm …)"` in a shell that holds the deployer's AZURE_CLIENT_SECRET)."""
    if fmt == "json":
        return json.dumps(values, indent=2)
    if fmt == "dotenv":
        return "\n".join(f"{k}={v}" for k, v in values.items())
    drop = [k for k in unset if k not in values]
    return "\n".join([*([f"unset {' '.join(drop)}"] if drop else []),
                      *(f"export {k}={shlex.quote(v)}" for k, v in values.items())])


def inside_values(values: dict[str, str]) -> dict[str, str]:
    """What code inside a VM or site has, out of `values` (the server's settings plus the identity endpoint): its
    identity endpoint, the CA bundle and where the simulator is; never a credential. `env --vm|--site` prints it,
    `exec --vm|--site` hands it to the command: one builder, so neither can leak the deployer's secret."""
    return {k: values[k] for k in INSIDE_KEEP if k in values}


def inside_env(values: dict[str, str], base: dict[str, str]) -> dict[str, str]:
    """The environment of a command run "inside" a VM or site: `base` without any credential, plus
    `inside_values(values)`."""
    env = {k: v for k, v in base.items() if k not in NOT_INSIDE}
    env.update(inside_values(values))
    return env


def proxied_env(values: dict[str, str], base: dict[str, str]) -> dict[str, str]:
    """The environment of `exec --proxy`: `base` without any credential or endpoint that would go around the
    proxy, plus `values` (what `env --proxy` prints, a credential of the caller's included)."""
    from arm_sim.cli import proxy_env

    drop = {*NOT_INSIDE, *proxy_env.NOT_PROXIED}
    return {k: v for k, v in base.items() if k not in drop} | values


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: Any


@dataclass
class Client:
    """HTTPS calls to the server as its bootstrap principal (standard library only)."""

    server: Server
    timeout: float = 600
    _context: ssl.SSLContext | None = field(default=None, repr=False)
    _connections: dict[str, http.client.HTTPSConnection] = field(default_factory=dict, repr=False)
    _token: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return self.server.info.url

    def send(self, method: str, url: str, data: bytes | None = None,
             headers: dict[str, str] | None = None) -> Reply:
        """One request; any HTTP status is a Reply, a server that does not answer a CommandError. One keep-alive
        connection serves every request of a command (one TLS handshake, not one per request)."""
        import http.client
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        for attempt in (1, 2):
            conn, reused = self._connection(parts.netloc)
            try:
                conn.request(method, target, body=data, headers=headers or {})
                resp = conn.getresponse()
                raw = resp.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                self._drop(parts.netloc)
                if reused and attempt == 1:  # the server closed an idle keep-alive connection: once more
                    continue
                raise self._unanswered(e) from None
            except (OSError, http.client.HTTPException) as e:
                self._drop(parts.netloc)
                raise self._unanswered(e) from None
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)

    def _connection(self, netloc: str) -> tuple[http.client.HTTPSConnection, bool]:
        import http.client
        import ssl

        if netloc in self._connections:
            return self._connections[netloc], True
        if self._context is None:
            self._context = ssl.create_default_context(cafile=self.server.ca)
        conn = http.client.HTTPSConnection(netloc, context=self._context, timeout=self.timeout)
        self._connections[netloc] = conn
        return conn, False

    def _drop(self, netloc: str) -> None:
        conn = self._connections.pop(netloc, None)
        if conn is not None:
            conn.close()

    def _unanswered(self, e: Exception) -> CommandError:
        reason = getattr(e, "reason", None) or getattr(e, "strerror", None) or e
        return CommandError(f"cannot reach the server of home {self.server.home} (pid {self.server.info.pid}) at "
                            f"{self.url}: {reason}")

    def token(self) -> str:
        """A bootstrap ARM token (ARM and /_sim take it)."""
        if self._token is None:
            import urllib.parse

            creds = self.server.creds
            form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": creds.client_id,
                                           "client_secret": creds.client_secret, "scope": ARM_SCOPE}).encode()
            r = self.send("POST", f"{self.url}/{creds.tenant}/oauth2/v2.0/token", form,
                          {"Content-Type": "application/x-www-form-urlencoded"})
            if r.status != 200 or not isinstance(r.body, dict) or "access_token" not in r.body:
                raise CommandError(f"the server refused the bootstrap credentials ({r.status}): {error_text(r)}")
            self._token = str(r.body["access_token"])
        return self._token

    def call(self, method: str, path: str, body: Any = None, *, query: dict[str, str] | None = None,
             api_version: str | None = API) -> Reply:
        """An authenticated call of `path` (or of a whole URL the server handed out, taken as is). An error status
        raises CommandError with the server's code and message."""
        import urllib.parse

        if path.startswith("https://"):
            url = path
        else:
            params = {**({"api-version": api_version} if api_version else {}), **(query or {})}
            url = f"{self.url}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
        data = json.dumps(body).encode() if body is not None else None
        r = self.send(method, url, data, {"Authorization": f"Bearer {self.token()}",
                                          "Content-Type": "application/json"})
        if r.status >= 400:
            raise ApiError(r)
        return r


class ApiError(CommandError):
    def __init__(self, reply: Reply) -> None:
        super().__init__(error_text(reply))
        self.reply = reply

    @property
    def code(self) -> str:
        err = self.reply.body.get("error") if isinstance(self.reply.body, dict) else None
        return str(err.get("code", "")) if isinstance(err, dict) else ""


def error_text(reply: Reply) -> str:
    """`Code: message` from ARM's (or Entra's) error envelope."""
    body = reply.body
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return f"{err.get('code', reply.status)}: {err.get('message', '')}"
        if isinstance(err, str):  # Entra: {"error": "invalid_client", "error_description": ...}
            return f"{err}: {body.get('error_description', '')}"
    return f"{reply.status}: {body}"


def identity_env(client: Client, vm: str | None, site: str | None, resource_group: str | None) -> dict[str, str]:
    """AZURE_POD_IDENTITY_AUTHORITY_HOST for a VM, IDENTITY_ENDPOINT + IDENTITY_HEADER for a site, asked of the
    server (`GET /_sim/imds-endpoint`, the bootstrap principal's)."""
    kind, type_, api = _KINDS["vm" if vm else "site"]
    name = vm or site
    assert name is not None
    sub = client.server.creds.subscription
    where = f" in resource group '{resource_group}'" if resource_group else ""
    missing = CommandError(f"No {kind} named '{name}'{where} in subscription {sub}.")
    if resource_group:
        resource_id = f"/subscriptions/{sub}/resourceGroups/{resource_group}/providers/{type_}/{name}"
    else:
        found = [r["id"] for r in _list(client, f"/subscriptions/{sub}/providers/{type_}", api)
                 if str(r.get("name", "")).lower() == name.lower()]
        if not found:
            raise missing
        if len(found) > 1:
            groups = ", ".join(sorted(str(i).split("/")[4] for i in found))
            raise CommandError(f"{len(found)} {kind}s are named '{name}' (resource groups {groups}): add -g RG.")
        resource_id = found[0]
    try:
        ep = client.call("GET", "/_sim/imds-endpoint", query={"resourceId": resource_id}, api_version=None).body
    except ApiError as e:
        if e.reply.status == 404:
            raise missing from None
        raise
    if ep.get("kind") == "site":
        return {"IDENTITY_ENDPOINT": str(ep["endpoint"]), "IDENTITY_HEADER": str(ep.get("header") or "")}
    return {"AZURE_POD_IDENTITY_AUTHORITY_HOST": str(ep["endpoint"])}


def _list(client: Client, path: str, api_version: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page: Any = client.call("GET", path, api_version=api_version).body
    while True:
        out.extend(page.get("value") or [])
        link = page.get("nextLink")
        if not link:
            return out
        page = client.call("GET", link).body
