"""The browser console at `/_sim/console/`: its static files (shipped in the package, plain JavaScript, nothing
fetched from elsewhere), the one-time link exchange, and `POST /_sim/tokens/decode`.

The page itself is public (it holds nothing); every piece of state it shows comes from the simulator API, with the
bootstrap principal's token: signed in with the client id and secret at the simulator's own token endpoint, pasted,
or obtained once from a one-time link (`arm-sim serve` and `arm-sim console` print one; the code rides in the URL
fragment, which browsers never send, and is accepted once)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from arm_sim.core.errors import DomainError, bad_request
from arm_sim.domain import console_access
from arm_sim.domain.context import Ctx
from arm_sim.domain.runtime import Runtime
from arm_sim.hosts import body_limits
from arm_sim.hosts.arm import errors
from arm_sim.hosts.http import json_response, off_loop, parse_json
from arm_sim.hosts.sim.routes import _guarded

router = APIRouter(prefix="/_sim", tags=["sim"])

STATIC = Path(__file__).parent / "console"
_TYPES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "style.css": "text/css; charset=utf-8"}
# nothing but this origin: no CDN, no inline script, no framing
_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                                       "base-uri 'none'; form-action 'self'",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def console_url(public_url: str, code: str) -> str:
    return f"{public_url}/_sim/console/#code={code}"


def new_link(rt: Runtime) -> tuple[str, float]:
    """A one-time console link (URL, expiry in epoch seconds): `arm-sim serve` prints one when it is ready."""
    with rt.unit() as ctx:
        code, expires = console_access.create_link(ctx)
    return console_url(rt.settings.public_url, code), expires


@router.get("/console", include_in_schema=False)
async def console_root() -> Response:
    return RedirectResponse("/_sim/console/", status_code=307)


@router.get("/console/", include_in_schema=False)
async def console_index() -> Response:
    return _static("index.html")


@router.get("/console/{name}", include_in_schema=False)
async def console_file(name: str) -> Response:
    return _static(name)


def _static(name: str) -> Response:
    if name not in _TYPES:  # a fixed list: no path from the URL ever reaches the file system
        return json_response({"error": {"code": "NotFound", "message": f"The console has no file '{name}'."}}, 404)
    return Response((STATIC / name).read_bytes(), media_type=_TYPES[name], headers=_HEADERS)


def _link(ctx: Ctx, _: Any) -> dict[str, object]:
    code, expires = console_access.create_link(ctx)
    return {"url": console_url(ctx.settings.public_url, code), "expiresInSeconds": console_access.LINK_TTL,
            "expiresAtEpoch": expires}


@router.post("/console/links", summary="A one-time console link (bootstrap principal only)",
             description="The link's code is accepted once, within 15 minutes, by `POST /_sim/console/session`; "
                         "it rides in the URL fragment, which browsers do not send to servers.")
async def create_link(request: Request) -> Response:
    return await _guarded(request, _link)


@router.post("/console/session", summary="Exchange a one-time console code for a bootstrap token",
             description="`{\"code\": \"…\"}` from a link that `arm-sim serve` or `arm-sim console` printed. "
                         "Accepted once; answers an ARM token of the bootstrap principal.")
async def create_session(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    raw = await body_limits.read_capped(request.scope, request.receive, 4096) or b""

    def work() -> Response:
        body, problem = parse_json(raw)
        code = body.get("code") if isinstance(body, dict) and not problem else None
        try:
            if not isinstance(code, str):
                raise bad_request("InvalidRequestContent", "Give {\"code\": \"…\"} from a one-time console link.")
            with rt.unit() as ctx:
                answer = console_access.redeem(ctx, code)
            return json_response(answer, headers={"Cache-Control": "no-store"})
        except DomainError as e:
            return errors.render(e)

    return await off_loop(work)


@router.post("/tokens/decode", summary="Decode a token arm-sim issued; its claims mapped to names",
             description="Bootstrap principal only. `{\"token\": \"eyJ…\"}`: checks the signature against the "
                         "simulator's key ring, then names `oid` (the principal), `appid` (the application) and "
                         "`xms_mirid` (the resource). The token is not echoed.")
async def decode_token(request: Request) -> Response:
    def work(ctx: Ctx, body: Any) -> dict[str, Any]:
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token.strip():
            raise bad_request("InvalidRequestContent", "Give {\"token\": \"eyJ…\"}.")
        return console_access.decode(ctx, token)

    return await _guarded(request, work)
