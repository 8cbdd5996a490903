"""What the IMDS routes share: query checks, error bodies as IMDS words them, the token answer.

Identity failures are 400s on purpose: clients retry 404, 410, 429 and 5xx for up to a minute.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from arm_sim.domain.identity_tokens import IssuedToken, Refused
from arm_sim.hosts.http import json_response

NEWEST_VERSIONS = ["2023-07-01", "2021-12-13", "2021-11-15"]
IDENTITY_MIN_VERSION = "2018-02-01"  # the identity category appeared in 2018-02-01
INSTANCE_MIN_VERSION = "2017-03-01"
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def identity_error(error: str, description: str, status: int = 400) -> Response:
    """The identity category's OAuth-style body."""
    return json_response({"error": error, "error_description": description}, status)


def refused(r: Refused) -> Response:
    return identity_error(r.error, r.description, r.status)


def metadata_error(message: str, status: int = 400, versions: bool = False) -> Response:
    """The instance category's body: a single `error` string (plus the newest versions when relevant)."""
    body: dict[str, object] = {"error": message}
    if versions:
        body["newest-versions"] = NEWEST_VERSIONS
    return json_response(body, status)


def query(request: Request) -> tuple[dict[str, str], str | None]:
    """(parameters, the first repeated name). Keys arrive percent-decoded (`api%2Dversion`)."""
    out: dict[str, str] = {}
    for k, v in request.query_params.multi_items():
        if k in out:
            return out, k
        out[k] = v
    return out, None


def version_problem(q: dict[str, str], minimum: str) -> Response | None:
    version = q.get("api-version")
    if not version:
        return metadata_error("Bad request. api-version was not specified in the request. For more information "
                              "refer to aka.ms/azureimds", versions=True)
    if not _VERSION.match(version) or version < minimum:
        return metadata_error("Bad request. api-version is invalid or was not specified in the request. For more "
                              "information refer to aka.ms/azureimds", versions=True)
    return None


def header_problem(request: Request, identity: bool) -> Response | None:
    """`Metadata: true` (lower case) is required and `X-Forwarded-For` refused: IMDS is never called through a
    proxy. Identity routes answer in the OAuth shape, instance routes with a single `error` string."""
    if request.headers.get("metadata") != "true":
        if identity:
            return identity_error("invalid_request", "Required metadata header not specified")
        return metadata_error("Bad request. Required metadata header not specified")
    if "x-forwarded-for" in request.headers:
        text = "Requests with an X-Forwarded-For header are not accepted: IMDS must be called directly, not " \
               "through a proxy"
        return identity_error("invalid_request", text) if identity else metadata_error(f"Bad request. {text}")
    return None


def repeated(name: str, identity: bool) -> Response:
    text = f"Query parameter '{name}' was specified more than once"
    return identity_error("invalid_request", text) if identity else metadata_error(f"Bad request. {text}")


def selector(q: dict[str, str], names: tuple[str, ...]) -> tuple[str, str] | None | Response:
    """The one identity selector the caller sent (None: the default identity); more than one is an error."""
    given = [(n, q[n]) for n in names if n in q]
    if len(given) > 1:
        return identity_error("invalid_request", "Only one of " + ", ".join(n for n, _ in given) +
                              " may be specified in a token request")
    if given and not given[0][1]:
        return identity_error("invalid_request", f"The '{given[0][0]}' parameter must not be empty")
    return given[0] if given else None


def bypass_cache(q: dict[str, str]) -> bool | Response:
    value = q.get("bypass_cache")
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        return identity_error("invalid_request", "bypass_cache must be 'true' when given")
    return value.lower() == "true"


def imds_token(t: IssuedToken, now: float, echo: tuple[str, str] | None) -> Response:
    """IMDS's answer: every value a string; `expires_in` counts down for a cached token as IMDS's does."""
    body = {
        "access_token": t.access_token, "client_id": t.client_id,
        "expires_in": str(max(0, t.expires_on - int(now))), "expires_on": str(t.expires_on),
        "ext_expires_in": str(t.ext_expires_in), "not_before": str(t.not_before), "resource": t.resource,
        "token_type": "Bearer",
    }
    if echo and echo[0] in ("object_id", "msi_res_id"):  # "the ... specified in the request, if any"
        body[echo[0]] = echo[1]
    return json_response(body)
