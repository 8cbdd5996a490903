"""The IMDS token requests, answered below FastAPI's routing (issue 18: the shortest path for IMDS).

A cached IMDS token is the identity listener's hottest answer, and FastAPI's router, middleware stack and
dependency machinery cost about as much as the answer itself. `TokenLane` sits in front of the identity app and
hands a GET of a VM's token paths straight to the very functions the routes call (`vm.token`): the same header,
query, version and selector checks, the same unit of work and token chain (identity selection from the database,
revocation, the simulated clock). A cached token is answered on the event loop (`hosts.http.read_or_off_loop`).
Every other request, and every other method on those paths, goes on to FastAPI unchanged.
"""

from __future__ import annotations

import re

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from arm_sim.hosts.http import Lane, read_or_off_loop
from arm_sim.hosts.imds import vm

# the paths of vm.imds_token and vm.extension_token (with and without the trailing slash)
_TOKEN_PATH = re.compile(r"^/vms/([^/]+)/(metadata/identity|extension)/oauth2/token/?$")


def _claims(path: str) -> bool:
    return _TOKEN_PATH.match(path) is not None


class TokenLane:
    """GETs of a VM's token paths through `Lane`; anything else to the identity app behind it, whose runtime and
    request ids (`Lane`) the lane's answers share."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.lane = Lane(app, self._answer, _claims)

    async def _answer(self, scope: Scope, receive: Receive) -> Response:
        found = _TOKEN_PATH.match(scope["path"])
        assert found is not None  # claimed by _claims
        request = Request(dict(scope, app=self.app), receive)  # (the routes' functions find the runtime there)
        via = "imds" if found.group(2) == "metadata/identity" else "extension"
        # a cached token is a short read; a new one is signed on a request thread (identity_tokens.acquire)
        return await read_or_off_loop(self.app.state.runtime, lambda: vm.token(request, found.group(1), via),
                                      short_read=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            await self.lane(scope, receive, send)
        else:
            await self.app(scope, receive, send)
