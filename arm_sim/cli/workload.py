"""`arm-sim oidc token` and `arm-sim exec --workload-identity`: workloads that hold an external issuer's token and
exchange it for a user-assigned identity's, as an AKS pod (the workload-identity webhook's variables) or a GitHub
Actions job does. The issuer is one arm-sim plays (domain/oidc_issuers.py); the server signs, nothing here does."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

from arm_sim.cli.client import Client, CommandError, Server, env_values, inside_env, proxied_env, proxy_values

UAI_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"
MSI_API = "2023-01-31"
TOKEN_FILE = "azure-identity-token"  # the name the AKS webhook gives the projected token
REFRESH_EVERY = 1800.0  # half an assertion's default lifetime (domain/oidc_issuers.ASSERTION_LIFETIME), as kubelet does


def oidc_token(client: Client, issuer: str, subject: str, audience: str | None = None,
               lifetime: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"issuer": issuer, "subject": subject}
    if audience:
        body["audience"] = audience
    if lifetime:
        body["lifetime"] = lifetime
    answer: dict[str, Any] = client.call("POST", "/_sim/oidc/token", body, api_version=None).body
    return answer


def register_issuer(client: Client, name: str, issuer: str | None = None) -> dict[str, Any]:
    """A generic issuer arm-sim plays from now on (domain/oidc_issuers.register)."""
    body = {"name": name} | ({"issuer": issuer} if issuer else {})
    answer: dict[str, Any] = client.call("POST", "/_sim/oidc/issuers", body, api_version=None).body
    return answer


def unregister_issuer(client: Client, name: str) -> dict[str, Any]:
    answer: dict[str, Any] = client.call("DELETE", f"/_sim/oidc/issuers/{quote(name, safe='')}",
                                         api_version=None).body
    return answer


_GUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def _identity(client: Client, name: str, resource_group: str | None) -> dict[str, Any]:
    sub = client.server.creds.subscription
    if resource_group:
        path = f"/subscriptions/{sub}/resourceGroups/{resource_group}/providers/{UAI_TYPE}/{name}"
        try:
            found: dict[str, Any] = client.call("GET", path, api_version=MSI_API).body
        except CommandError:
            raise CommandError(f"No user-assigned identity named '{name}' in resource group "
                               f"'{resource_group}'.") from None
        return found
    rows = [r for r in client.call("GET", f"/subscriptions/{sub}/providers/{UAI_TYPE}", api_version=MSI_API
                                   ).body.get("value", []) if str(r.get("name", "")).lower() == name.lower()]
    if not rows:
        raise CommandError(f"No user-assigned identity named '{name}' in subscription {sub}.")
    if len(rows) > 1:
        raise CommandError(f"{len(rows)} user-assigned identities are named '{name}': add -g RG.")
    return dict(rows[0])


def _issuer_of(client: Client, identity: dict[str, Any], subject: str) -> str:
    """The issuer of the identity's federated credential for `subject` (when --issuer is not given)."""
    fics = client.call("GET", f"{identity['id']}/federatedIdentityCredentials", api_version=MSI_API).body
    issuers = sorted({f["properties"]["issuer"] for f in fics.get("value", [])
                      if f.get("properties", {}).get("subject") == subject})
    if len(issuers) != 1:
        what = "no federated credential" if not issuers else f"federated credentials of {len(issuers)} issuers"
        raise CommandError(f"The identity '{identity['name']}' has {what} for subject '{subject}': give --issuer.")
    return str(issuers[0])


def run(server: Server, identity_name: str, resource_group: str | None, subject: str, issuer: str | None,
        audience: str | None, proxy: bool, cmd: list[str]) -> int:
    """Run `cmd` as a pod with workload identity runs: AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_AUTHORITY_HOST and
    AZURE_FEDERATED_TOKEN_FILE, a file refreshed at half its token's lifetime while the command runs."""
    client = Client(server)
    identity = _identity(client, identity_name, resource_group)
    issuer = issuer or _issuer_of(client, identity, subject)
    props = identity.get("properties") or {}
    with tempfile.TemporaryDirectory(prefix="arm-sim-wi-") as tmp:
        token_file = Path(tmp) / TOKEN_FILE
        stop = threading.Event()

        def refresh() -> None:
            answer = oidc_token(client, issuer, subject, audience)
            fresh = token_file.with_suffix(".new")
            fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(answer["token"])
            fresh.replace(token_file)  # a reader never sees half a token

        refresh()

        def loop() -> None:
            wait = REFRESH_EVERY
            while not stop.wait(wait):
                try:
                    refresh()
                    wait = REFRESH_EVERY
                except CommandError:
                    wait = 30.0

        inside = {"AZURE_CLIENT_ID": str(props.get("clientId", "")), "AZURE_TENANT_ID": str(props.get("tenantId", "")),
                  "AZURE_FEDERATED_TOKEN_FILE": str(token_file)}
        base = dict(os.environ)
        if proxy:  # Azure's own authority (login.microsoftonline.com) through the proxy
            env = proxied_env(proxy_values(server, inside, None, base), base)
        else:
            values = env_values(server)
            env = inside_env(values, base) | inside | {"AZURE_AUTHORITY_HOST": values["AZURE_AUTHORITY_HOST"]}
        refresher = threading.Thread(target=loop, name="arm-sim-wi-refresh", daemon=True)
        refresher.start()
        try:
            return subprocess.run(cmd, env=env).returncode
        except FileNotFoundError:
            raise CommandError(f"command not found: {cmd[0]}") from None
        finally:
            stop.set()
            refresher.join(timeout=5)


def explain(client: Client, identity_name: str, resource_group: str | None, last: int = 5) -> list[dict[str, Any]]:
    """The last federated exchanges of a user-assigned identity (by name) or an application registration (by appId),
    oldest first: each refusal beside the credential that came closest and what that credential holds in the field
    that differed, as the server's `/_sim/explain?identity=` answers it (one reading of the events for both)."""
    if resource_group is None and _GUID.fullmatch(identity_name):
        target = identity_name  # an application's appId, or an identity's clientId or principal id
    else:
        target = str(_identity(client, identity_name, resource_group)["id"])
    body = client.call("GET", "/_sim/explain", query={"identity": target}, api_version=None).body
    rows: list[dict[str, Any]] = list(reversed(body.get("exchanges", [])))[-last:]
    for row in rows:
        if row.pop("credentialDeleted", False):
            row["credentialHas"] = "(deleted since)"
    return rows


def explain_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "No federated exchange has been tried for this identity."
    lines = []
    for r in rows:
        p = r["presented"]
        head = f"{r['time']}  {r['kind']}" + (f"  {r['reason']}" if r.get("reason") else "")
        lines += [head, f"  presented   iss={p['issuer']}  sub={p['subject']}  aud={p['audience']}"]
        if r["kind"] == "federation.exchanged":
            lines.append(f"  matched     {r.get('credential')}")
        elif r.get("closestCredential"):
            lines.append(f"  closest     {r['closestCredential']}")
            differs = f"  differs on  {r.get('differingField')}"
            if "credentialHas" in r:
                differs += f": the credential has {json.dumps(r['credentialHas'])}"
            lines.append(differs)
        else:
            lines.append("  closest     (the identity has no federated credential)")
    return "\n".join(lines)
