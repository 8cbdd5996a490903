"""The IMDS token requests, answered below FastAPI's routing (issue 18: the shortest path for IMDS).

A cached IMDS token is the identity listener's hottest answer, and FastAPI's router, exception middleware and
dependency machinery cost about as much as the answer itself. `TokenLane` sits just inside the identity app (a
middleware, so `scope["app"]` is set) and hands a GET of a VM's token paths straight to the very functions the
routes call (`vm.token`): the same header, query, version and selector checks, the same unit of work and token
chain (identity selection from the database, revocation, the simulated clock). Every other request, and every
other method on those paths, goes on to FastAPI unchanged.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from arm_sim.hosts.http import Lane, off_loop
from arm_sim.hosts.imds import vm

# the paths of vm.imds_token and vm.extension_token (with and without the trailing slash)
_TOKEN_PATH = re.compile(r"^/vms/([^/]+)/(metadata/identity|extension)/oauth2/token/?$")


def _claims(path: str) -> bool:
    return _TOKEN_PATH.match(path) is not None


async def _answer(scope: Scope, receive: Receive) -> Response:
    found = _TOKEN_PATH.match(scope["path"])
    assert found is not None  # claimed by _claims
    request = Request(scope, receive)
    via = "imds" if found.group(2) == "metadata/identity" else "extension"
    return await off_loop(lambda: vm.token(request, found.group(1), via))


class TokenLane:
    """GETs of a VM's token paths through `Lane`; anything else to the app behind."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.lane = Lane(app, _answer, _claims)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            await self.lane(scope, receive, send)
        else:
            await self.app(scope, receive, send)
