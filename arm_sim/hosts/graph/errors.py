"""Graph's envelope: {"error": {code, message, innerError: {date, request-id, client-request-id}}}.

Graph words token failures its own way (not ARM's), always as `InvalidAuthenticationToken`.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import Response

from arm_sim.core.errors import AuthenticationError, DomainError
from arm_sim.domain.graph import iso
from arm_sim.domain.graph_permissions import GRAPH_APP_ID
from arm_sim.hosts.http import json_response

CONTENT_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

_AUTH_MESSAGES = {
    "missing": "Access token is empty.",
    "format": "Access token is empty.",
    "expired": "Lifetime validation failed, the token is expired.",
    "wrong audience": "Access token validation failure. Invalid audience.",
}


@dataclass
class RequestInfo:
    """What every Graph answer echoes: its own request id and the client's (or the same) request id."""

    request_id: str
    client_request_id: str
    now: float  # the simulated clock, for innerError.date

    def headers(self) -> dict[str, str]:
        return {"request-id": self.request_id, "client-request-id": self.client_request_id,
                "OData-Version": "4.0", "content-type": CONTENT_TYPE}


def ok(body: object, info: RequestInfo, status: int = 200) -> Response:
    if body is None:  # 204: no content, Graph's request ids still
        return Response(status_code=status, headers={k: v for k, v in info.headers().items() if k != "content-type"})
    return json_response(body, status, info.headers())


def _envelope(code: str, message: str, info: RequestInfo) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "innerError": {
        "date": iso(info.now).rstrip("Z"), "request-id": info.request_id,
        "client-request-id": info.client_request_id}}}


def render(e: DomainError, info: RequestInfo) -> Response:
    return json_response(_envelope(e.code, e.message, info), e.status, {**info.headers(), **e.headers})


def render_auth(e: AuthenticationError, info: RequestInfo, public_url: str) -> Response:
    message = _AUTH_MESSAGES.get(e.reason, "Access token validation failure.")
    challenge = (f'Bearer realm="", authorization_uri="{public_url}/common/oauth2/authorize", '
                 f'client_id="{GRAPH_APP_ID}"')
    return json_response(_envelope("InvalidAuthenticationToken", message, info), 401,
                         {**info.headers(), "WWW-Authenticate": challenge})
