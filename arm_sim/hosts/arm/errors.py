"""ARM's error envelope: {"error": {code, message, target, details, additionalInfo}}."""

from __future__ import annotations

from starlette.responses import Response

from arm_sim.core.errors import AuthenticationError, DomainError
from arm_sim.hosts.http import json_response


def render(e: DomainError) -> Response:
    return json_response({"error": e.body()}, e.status, e.headers or None)


def render_auth(e: AuthenticationError, public_url: str) -> Response:
    challenge = (f'Bearer authorization_uri="{public_url}/", error="invalid_token", '
                 f'error_description="{e.message.replace(chr(34), chr(39))}"')
    return json_response({"error": {"code": e.code, "message": e.message}}, 401,
                         {"WWW-Authenticate": challenge})
