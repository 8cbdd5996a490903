"""The vault listener: every port of ARM_SIM_VAULT_PORTS serves the data plane of the vault bound to it.

A request finds its vault by the local port it arrived on, then: bearer check (401 + challenge) → api-version →
the operation's authorization (access policies or RBAC) → the operation, all in one unit of work.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from arm_sim import __version__
from arm_sim.core.errors import AuthenticationError, DomainError, not_implemented
from arm_sim.domain import vault_access
from arm_sim.domain.runtime import Runtime
from arm_sim.domain.vault_secrets import VaultError, bad_parameter
from arm_sim.hosts.http import bearer, json_response, query
from arm_sim.hosts.keyvault import auth, errors, keys, secrets
from arm_sim.hosts.keyvault.call import VaultCall

router = APIRouter(tags=["keyvault"])
METHODS = ["GET", "PUT", "PATCH", "POST", "DELETE"]
HANDLERS = {"secrets": secrets.handle, "deletedsecrets": secrets.handle, "keys": keys.handle,
            "deletedkeys": keys.handle}
UNSUPPORTED = {"certificates": "Key Vault certificates", "deletedcertificates": "Key Vault certificates",
               "storage": "Key Vault managed storage accounts", "deletedstorage": "Key Vault managed storage accounts",
               "rng": "Key Vault random bytes (/rng)"}


@router.get("/_sim/health", summary="Liveness of the vault listener")
async def health() -> Response:
    return json_response({"status": "ok", "listener": "vaults", "version": __version__})


def _parse(raw: bytes) -> tuple[Any, bool]:
    if not raw.strip():
        return None, True
    try:
        return json.loads(raw), True
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, False


def _no_vault(port: int) -> VaultError:
    return VaultError(404, "VaultNotFound", f"No active Key Vault is bound to port {port}: the vault was never "
                                           "created here, or it is soft-deleted or purged.")


async def vault_request(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    port = int(request.scope.get("server", ("", 0))[1])
    method = request.method
    body, body_ok = _parse(await request.body()) if method in ("PUT", "PATCH", "POST") else (None, True)
    headers: dict[str, str] = {}
    tenant = ""
    try:
        with rt.unit(read_mostly=method == "GET") as ctx:
            ctx.correlation_id = request.state.correlation_id
            found = vault_access.vault_for_port(ctx, port)
            if found is None:
                raise _no_vault(port)
            vault, resource_row = found
            tenant = vault.tenant_id
            headers = {"x-ms-keyvault-region": vault.location,
                       "x-ms-keyvault-service-version": f"arm-sim/{__version__}"}
            claims = auth.authenticate(ctx, vault, bearer(request))
            q = query(request)
            api_version = q.get("api-version")
            if not api_version:
                raise bad_parameter("The api-version query parameter is missing: Key Vault requests need "
                                    "'api-version' (for example 7.4 or 2025-07-01).")
            if not body_ok:
                raise bad_parameter("The request body is not valid JSON.")
            segs = request.scope["path"].split("/")[1:]
            collection = segs[0].lower() if segs else ""
            if collection in UNSUPPORTED:
                raise not_implemented(UNSUPPORTED[collection])
            handler = HANDLERS.get(collection)
            segs[0] = collection
            call = VaultCall(ctx, vault, claims, method, segs, q, body, api_version, resource_row)
            response = handler(call) if handler else None
            if response is None:
                raise VaultError(404, "NotFound", f"Key Vault has no operation {method} {request.scope['path']}.")
            response.headers.update(headers)
            return response
    except AuthenticationError as e:
        response = errors.unauthorized(e.message, rt.settings.public_url, tenant)
        response.headers.update(headers)
        return response
    except DomainError as e:
        return errors.render(e, headers)


# A plain Starlette route: the data plane parses its own paths (empty segments matter: `/secrets/s1/`).
router.add_route("/{rest:path}", vault_request, methods=METHODS, include_in_schema=False)
