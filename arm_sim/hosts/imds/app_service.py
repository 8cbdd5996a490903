"""A site's App Service identity endpoint at `/sites/{key}/msi/token` (IDENTITY_ENDPOINT + IDENTITY_HEADER).

App Service answers errors as `{"statusCode", "message", "correlationId"}`, not in OAuth's shape, and the
2017-09-01 protocol (header `secret`, `clientid`, a date string in `expires_on`) still works beside 2019-08-01.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from arm_sim.domain.identity_tokens import IDENTITY_NOT_FOUND, MULTIPLE_IDENTITIES, IssuedToken, Refused, TokenRequest
from arm_sim.hosts.http import json_response, off_loop
from arm_sim.hosts.imds import common
from arm_sim.hosts.imds.vm import run_chain

router = APIRouter(tags=["identity"])

# 2019-08-01: principal_id is object_id's documented alias; MSAL sends mi_res_id, IMDS's msi_res_id is accepted too
SELECTORS_2019 = ("client_id", "object_id", "principal_id", "mi_res_id", "msi_res_id")
SELECTORS_2017 = ("clientid",)
UNABLE = "Unable to load the proper Managed Identity."


def error(status: int, message: str) -> Response:
    return json_response({"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())}, status)


def _refused(r: Refused) -> Response:
    if r.description in (IDENTITY_NOT_FOUND, MULTIPLE_IDENTITIES):
        return error(r.status, UNABLE if r.description == IDENTITY_NOT_FOUND else f"{UNABLE} {r.description}.")
    return error(r.status, r.description)


def _answer(t: IssuedToken, legacy: bool) -> Response:
    expires_on = (datetime.fromtimestamp(t.expires_on, UTC).strftime("%m/%d/%Y %I:%M:%S %p +00:00") if legacy
                  else str(t.expires_on))
    body = {"access_token": t.access_token, "expires_on": expires_on, "resource": t.resource,
            "token_type": "Bearer"}
    if not legacy:
        body["client_id"] = t.client_id
    return json_response(body)


@router.get("/sites/{key}/msi/token", summary="App Service / Functions identity endpoint (IDENTITY_ENDPOINT)")
@router.get("/sites/{key}/msi/token/", include_in_schema=False)
async def site_token(request: Request, key: str) -> Response:
    return await off_loop(lambda: _site_token(request, key))


def _site_token(request: Request, key: str) -> Response:
    q, dup = common.query(request)
    if dup:
        return error(400, f"Query parameter '{dup}' was specified more than once.")
    version = q.get("api-version")
    if version not in ("2019-08-01", "2017-09-01"):
        return error(400, f"The api-version '{version or ''}' is not supported: use 2019-08-01 (X-IDENTITY-HEADER) "
                          "or 2017-09-01 (secret).")
    legacy = version == "2017-09-01"
    header = "secret" if legacy else "x-identity-header"
    secret = request.headers.get(header)
    if not secret:
        return error(400, f"The request must carry the {'secret' if legacy else 'X-IDENTITY-HEADER'} header "
                          "(the value of IDENTITY_HEADER).")
    if not q.get("resource"):
        return error(400, "The 'resource' parameter is required.")
    given = [(n, q[n]) for n in (SELECTORS_2017 if legacy else SELECTORS_2019) if n in q]
    if len(given) > 1:
        return error(400, f"Only one of {', '.join(n for n, _ in given)} may be specified.")
    if given and not given[0][1]:
        return error(400, f"The '{given[0][0]}' parameter must not be empty.")
    chosen = None
    if given:
        chosen = ({"clientid": "client_id", "principal_id": "object_id"}.get(given[0][0], given[0][0]), given[0][1])
    token_request = TokenRequest(key, "site", "appService", q["resource"], chosen, secret=secret)
    return run_chain(request, token_request, lambda t, _: _answer(t, legacy), _refused)
