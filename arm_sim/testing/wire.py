"""HTTPS with the standard library: one call (`request`), its answer (`Reply`) and the token audiences.

Standard library only: the pytest plugin imports this wherever arm-sim is installed.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ARM_SCOPE", "AUDIENCES", "GRAPH_SCOPE", "VAULT_SCOPE", "Reply", "audience_for", "request", "scope_of"]

ARM_SCOPE = "https://management.azure.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
VAULT_SCOPE = "https://vault.azure.net/.default"
AUDIENCES = {"arm": ARM_SCOPE, "graph": GRAPH_SCOPE, "vault": VAULT_SCOPE}
GRAPH_PATHS = ("/v1.0/", "/beta/")


@dataclass
class Reply:
    """One HTTP answer, as `ArmSim.request()` returns it; never an exception for an error status.

    - `status`: the HTTP status; `ok`: 2xx;
    - `headers`: the response headers, names in lower case (`location`, `azure-asyncoperation`, `retry-after` …);
    - `body`: the parsed JSON (dicts and lists), or None when the body is empty or not JSON;
    - `text`: the body as text (whatever it was);
    - `error`: the error object of ARM's, Graph's and Key Vault's envelope `{"error": {"code", "message", …}}`,
      or None; `code`: its `code` (e.g. `AuthorizationFailed`, `Authorization_RequestDenied`, `Forbidden`).
    """

    status: int
    headers: dict[str, str]
    body: Any
    text: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> dict[str, Any] | None:
        inner = self.body.get("error") if isinstance(self.body, Mapping) else None
        return dict(inner) if isinstance(inner, Mapping) else None

    @property
    def code(self) -> str | None:
        error = self.error
        return None if error is None else str(error.get("code", ""))


def request(method: str, url: str, ca: str, *, json_body: Any = None, form: dict[str, str] | None = None,
            headers: Mapping[str, str] | None = None, timeout: float = 60) -> Reply:
    """One HTTP(S) call trusting `ca`. Never raises for an HTTP error status."""
    data = None
    hdrs = dict(headers or {})
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    elif json_body is not None:
        data = json.dumps(json_body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method.upper(), headers=hdrs)
    context = ssl.create_default_context(cafile=ca) if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            status, raw, got = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as e:
        status, raw, got = e.code, e.read(), e.headers
    text = raw.decode(errors="replace")
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    return Reply(status, {k.lower(): v for k, v in got.items()}, body, text)


def scope_of(audience: str) -> str:
    """The token scope of an audience: `arm`, `graph`, `vault`, or any resource URI or scope
    (`https://storage.azure.com` -> `https://storage.azure.com/.default`)."""
    if audience.lower() in AUDIENCES:
        return AUDIENCES[audience.lower()]
    return audience if audience.endswith("/.default") else audience.rstrip("/") + "/.default"


def audience_for(url: str, main_url: str) -> str:
    """Whom a call to `url` is for, when the caller did not say: Graph's paths (`/v1.0/`, `/beta/`) on the main
    listener are Graph; another HTTPS origin is a vault's data plane (each vault has a port of its own); the rest
    (ARM, `/_sim`) is ARM."""
    target, main = urllib.parse.urlsplit(url), urllib.parse.urlsplit(main_url)
    if (target.scheme, target.netloc) != (main.scheme, main.netloc):
        return "vault" if target.scheme == "https" else "arm"
    return "graph" if (target.path + "/").startswith(GRAPH_PATHS) else "arm"
