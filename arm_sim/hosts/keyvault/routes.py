"""The Key Vault data plane (`vault_request`, through a Lane, see hosts/http.py; FastAPI serves only the vault
listener's health answer).

A request finds its vault by the host name it asked for — `{name}.vault.azure.net` (through the proxy) or
`{name}.vault.{public host}` (on the main listener) — or else by the vault port it arrived on, then: bearer check
(401 + challenge) → api-version → the operation's authorization (access policies or RBAC) → the operation, all in
one unit of work.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response
from starlette.types import Receive, Scope

from arm_sim import __version__
from arm_sim.core.errors import AuthenticationError, DomainError, not_implemented
from arm_sim.core.hosts import VAULT_DOMAIN, name_host
from arm_sim.domain import vaults
from arm_sim.domain.context import Ctx
from arm_sim.domain.runtime import Runtime
from arm_sim.domain.vault_secrets import VaultError, bad_parameter
from arm_sim.hosts import body_limits
from arm_sim.hosts.http import json_response, parse_bearer, query_of, read_or_off_loop
from arm_sim.hosts.keyvault import auth, certificates, errors, keys, secrets
from arm_sim.hosts.keyvault.call import VaultCall

router = APIRouter(tags=["keyvault"])
METHODS = ["GET", "PUT", "PATCH", "POST", "DELETE"]
_WRITES = ("PUT", "PATCH", "POST")
# A certificate's managed secret and key are served by the secrets and keys handlers, wrapped (certificates.secrets
# / .keys) to refuse the writes Key Vault refuses on them and to mark them `managed`.
_SECRETS, _KEYS = certificates.secrets(secrets.handle), certificates.keys(keys.handle)
HANDLERS = {"secrets": _SECRETS, "deletedsecrets": _SECRETS, "keys": _KEYS, "deletedkeys": _KEYS,
            "certificates": certificates.handle, "deletedcertificates": certificates.handle}
UNSUPPORTED = {"storage": "Key Vault managed storage accounts", "deletedstorage": "Key Vault managed storage accounts",
               "rng": "Key Vault random bytes (/rng)"}


@router.get("/_sim/health", summary="Liveness of the vault listener")
async def health() -> Response:
    return json_response({"status": "ok", "listener": "vaults", "version": __version__})


def _parse(raw: bytes) -> tuple[Any, bool]:
    if not raw.strip():
        return None, True
    if body_limits.too_deep(raw) is not None:  # before json.loads, which would recurse once per level
        return None, False
    try:
        return json.loads(raw), True
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return None, False


AZURE_SUFFIX = f".{VAULT_DOMAIN}"


def vault_host(scope: Scope, public_host: str) -> tuple[str, str, bool] | None:
    """(vault name, the host as asked, whether it is Azure's own name) for a request by a vault's host name;
    None for any other host (a vault port's `localhost:8601`)."""
    asked = (body_limits.header(scope, b"host") or "").lower()
    host = asked.rsplit(":", 1)[0] if asked.count(":") == 1 else asked
    for suffix, azure in ((AZURE_SUFFIX, True), (f".vault.{name_host(public_host)}", False)):
        if host.endswith(suffix):
            name = host[:-len(suffix)]
            return (name, asked, azure) if name and "." not in name else None
    return None


def is_vault_host(public_host: str, scope: Scope) -> bool:
    return vault_host(scope, public_host) is not None


def _no_vault_named(name: str) -> VaultError:
    return VaultError(404, "VaultNotFound", f"No active Key Vault is named '{name}': the vault was never created, "
                                           "or it is soft-deleted or purged.")


def _no_vault(port: int) -> VaultError:
    return VaultError(404, "VaultNotFound", f"No active Key Vault is bound to port {port}: the vault was never "
                                           "created here, or it is soft-deleted or purged.")


def is_data_plane(path: str) -> bool:
    """Every path of a vault port but the listener's health answer (served by FastAPI)."""
    return path != "/_sim/health"


async def vault_request(rt: Runtime, scope: Scope, receive: Receive) -> Response:
    port = int((scope.get("server") or ("", 0))[1])
    by_name = vault_host(scope, rt.settings.public_host)
    method = scope["method"]
    capped = await body_limits.read_capped(scope, receive, body_limits.VAULT_LIMIT) if method in _WRITES else b""
    if capped is None:  # refused before a byte more is read or anything is parsed
        return errors.render(VaultError(413, "RequestEntityTooLarge", "The request body is larger than "
                                        f"{body_limits.VAULT_LIMIT // 1024} KB; secret values are limited to 25 KB."))
    raw = capped
    body: Any = None
    body_ok = True
    versions = body_limits.repeated(scope, "api-version")
    correlation_id = scope["state"]["correlation_id"]
    attempts = 0
    headers: dict[str, str] = {}
    tenant = ""

    def work(ctx: Ctx) -> Response:
        nonlocal attempts, headers, tenant
        attempts += 1
        # a retry (db.conflicts) parses the body as sent again: the first attempt may have changed its objects
        request_body = body if attempts == 1 else _parse(raw)[0]
        if by_name:
            name, asked, ctx.azure_names = by_name
            vault = vaults.vault_for_name(ctx, name)
            if vault is None:
                raise _no_vault_named(name)
            base = f"https://{asked}/"  # ids name the vault as the client asked for it, as Key Vault's do
        else:
            vault = vaults.vault_for_port(ctx, port)
            if vault is None:
                raise _no_vault(port)
            base = vaults.vault_uri(ctx, vault)
        tenant = vault.tenant_id
        headers = {"x-ms-keyvault-region": vault.location,
                   "x-ms-keyvault-service-version": f"arm-sim/{__version__}"}
        claims = auth.authenticate(ctx, vault, parse_bearer(body_limits.header(scope, b"authorization")))
        q = query_of(scope)
        api_version = q.get("api-version")
        if not api_version:
            raise bad_parameter("The api-version query parameter is missing: Key Vault requests need "
                                "'api-version' (for example 7.4 or 2025-07-01).")
        if versions:
            raise bad_parameter(body_limits.repeated_message("api-version", versions))
        ctype = body_limits.header(scope, b"content-type")
        if body_limits.has_body(raw) and not body_limits.is_json(ctype):
            raise VaultError(415, "UnsupportedMediaType", body_limits.media_message(ctype))
        if not body_ok:
            deep = body_limits.too_deep(raw)
            raise bad_parameter("The request body is not valid JSON." if deep is None else
                                f"The request body is not valid JSON: {body_limits.depth_message(raw, deep)}")
        segs = scope["path"].split("/")[1:]
        collection = segs[0].lower() if segs else ""
        if collection in UNSUPPORTED:
            raise not_implemented(UNSUPPORTED[collection])
        handler = HANDLERS.get(collection)
        segs[0] = collection
        call = VaultCall(ctx, vault, base, claims, method, segs, q, request_body, api_version)
        response = handler(call) if handler else None
        if response is None:
            raise VaultError(404, "NotFound", f"Key Vault has no operation {method} {scope['path']}.")
        response.raw_headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        return response

    def answer() -> Response:
        nonlocal body, body_ok
        body, body_ok = _parse(raw)  # on a request thread: a large body never holds the event loop
        try:
            return rt.run(work, read_mostly=method in ("GET", "HEAD"), correlation_id=correlation_id)
        except AuthenticationError as e:
            login = "https://login.microsoftonline.com" if by_name and by_name[2] else rt.settings.public_url
            response = errors.unauthorized(e.message, login, tenant)
            response.headers.update(headers)
            return response
        except DomainError as e:
            return errors.render(e, headers)

    # a GET of one object (secret, key, certificate) is a short read; lists and writes go to a request thread
    return await read_or_off_loop(rt, answer, short_read=method == "GET" and _one_object(scope["path"]))


def _one_object(path: str) -> bool:
    """`/{collection}/{name}[/{version}]`: one object, not a list of them (`/secrets`) or of its versions."""
    segs = [s for s in path.split("/") if s]
    return len(segs) == 2 or (len(segs) == 3 and segs[2].lower() != "versions")


