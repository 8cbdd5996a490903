"""The identity listener (plain HTTP, like the real IMDS): per-VM IMDS, per-site App Service endpoints and the
legacy VM extension endpoint. Anything else is answered at once with a 4xx that says where things are."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from starlette.responses import Response

from arm_sim import __version__
from arm_sim.hosts.http import json_response
from arm_sim.hosts.imds import app_service, common, instance, vm

router = APIRouter()


@router.get("/health", summary="Liveness of the identity listener", tags=["identity"])
async def health() -> Response:
    return json_response({"status": "ok", "listener": "identity", "version": __version__})


router.include_router(vm.router)
router.include_router(instance.router)
router.include_router(app_service.router)

_KNOWN = re.compile(r"^/(vms/[^/]+/(metadata/.+|extension/oauth2/token/?)|sites/[^/]+/msi/token/?)$")


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def elsewhere(request: Request, rest: str) -> Response:
    path = "/" + rest
    site = path.startswith("/sites/")  # App Service's own shape there, IMDS's OAuth shape elsewhere
    if _KNOWN.match(path) and request.method != "GET":
        text = f"The method {request.method} is not allowed here."
        return app_service.error(405, text) if site else common.identity_error("method_not_allowed", text, 405)
    # 400, not 404: clients retry a 404 from an identity endpoint for up to a minute
    text = (f"arm-sim's identity listener has no endpoint at '{path}'. A VM's IMDS is at /vms/{{vmKey}}/metadata/... "
            "(AZURE_POD_IDENTITY_AUTHORITY_HOST=<listener>/vms/{vmKey}, where vmKey is the VM's secret IMDS key, not "
            "its vmId); an App Service site's endpoint is /sites/{key}/msi/token. `arm-sim env --vm NAME` prints the "
            "variables.")
    return app_service.error(400, text) if site else common.identity_error("invalid_request", text)
