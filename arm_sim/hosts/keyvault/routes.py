"""Vault listener routes. Vaults arrive with a later issue; until then every port answers that no vault
is bound to it, in Key Vault's error shape."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from arm_sim import __version__
from arm_sim.hosts.http import json_response

router = APIRouter(tags=["keyvault"])


@router.get("/_sim/health", summary="Liveness of the vault listener")
async def health() -> Response:
    return json_response({"status": "ok", "listener": "vaults", "version": __version__})


@router.api_route("/{rest:path}", methods=["GET", "PUT", "PATCH", "POST", "DELETE"], include_in_schema=False)
async def no_vault(request: Request, rest: str) -> Response:
    port = request.scope.get("server", ("", 0))[1]
    return json_response({"error": {"code": "VaultNotFound",
                                    "message": f"No vault is bound to port {port} (arm-sim does not simulate Key "
                                               "Vault yet)."}}, 404)
