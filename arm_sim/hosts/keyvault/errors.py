"""Key Vault's envelope: {"error": {code, message, innererror: {code}}}, and its 401 bearer challenge."""

from __future__ import annotations

from starlette.responses import Response

from arm_sim.core.errors import DomainError
from arm_sim.hosts.http import json_response

VAULT_RESOURCE = "https://vault.azure.net"


def challenge(public_url: str, tenant_id: str) -> dict[str, str]:
    """azure-keyvault's challenge policy reads the tenant from the authorization URL's first path segment."""
    return {"WWW-Authenticate": f'Bearer authorization="{public_url}/{tenant_id}", resource="{VAULT_RESOURCE}"'}


def unauthorized(message: str, public_url: str, tenant_id: str) -> Response:
    return json_response({"error": {"code": "Unauthorized", "message": message}}, 401,
                         challenge(public_url, tenant_id))


def render(e: DomainError, headers: dict[str, str] | None = None) -> Response:
    err: dict[str, object] = {"code": e.code, "message": e.message}
    inner = getattr(e, "inner", None)
    if inner:
        err["innererror"] = {"code": inner}
    return json_response({"error": err}, e.status, {**(headers or {}), **(e.headers or {})} or None)
