"""Identity listener routes. Managed identities arrive with a later issue; until then every identity
request is refused in IMDS's own shape (400, so clients fail at once instead of retrying)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from arm_sim import __version__
from arm_sim.hosts.http import json_response

router = APIRouter(tags=["identity"])


@router.get("/health", summary="Liveness of the identity listener")
async def health() -> Response:
    return json_response({"status": "ok", "listener": "identity", "version": __version__})


@router.api_route("/{rest:path}", methods=["GET", "POST"], include_in_schema=False)
async def not_yet(rest: str) -> Response:
    return json_response({"error": "invalid_request",
                          "error_description": "Identity not found (arm-sim does not simulate managed identities "
                                               "yet)"}, 400)
