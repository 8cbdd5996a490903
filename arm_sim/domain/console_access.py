"""The browser console's way in (`/_sim/console/`): one-time links and what a token says.

A one-time link carries a random code in its URL fragment (never the client secret). The code is stored hashed in
`sim_settings` (so every process sharing the database accepts it), expires after `LINK_TTL` seconds of real time
(the simulated clock may jump by weeks), and is accepted once: redeeming deletes it, and only the one delete that
finds the row wins. The console then holds an ordinary token of the bootstrap principal, issued by the simulated
Entra token service like any other.

`decode` reads a token the simulator issued (its signature checked against the key ring) and names what its claims
point to; expired tokens are decoded too (a learner wants to see why one is refused), and said to be expired."""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from sqlalchemy import delete, select

from arm_sim.core import ids
from arm_sim.core.errors import AuthenticationError, DomainError
from arm_sim.db.models import Resource, SimSetting
from arm_sim.domain import directory, tenancy
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx
from arm_sim.domain.identity_graph import principal_info
from arm_sim.domain.tokens import entra, validator

LINK_TTL = 15 * 60  # seconds of real time
REFRESH_TTL = 12 * 3600  # a console session's own one-time code: a new token when the clock has run past the last
SESSION_LIMIT = 7 * 24 * 3600  # a chain of refresh codes ends a week (real time) after its link was redeemed
_PREFIX = "console.link."  # + 40 hex digits of the code's SHA-256: 53 characters, within the key's 64
ARM_SCOPE = "https://management.azure.com/.default"


def _key(code: str) -> str:
    return _PREFIX + hashlib.sha256(code.encode()).hexdigest()[:40]


def create_link(ctx: Ctx, ttl: float = LINK_TTL, session_end: float | None = None) -> tuple[str, float]:
    """A new one-time code and its (real-time) expiry; expired codes are swept on the way. `session_end`: the
    end of the session a refresh code continues (none for a link)."""
    now = time.time()
    for row in ctx.session.scalars(select(SimSetting).where(SimSetting.key.like(_PREFIX + "%"))).all():
        if float((row.value or {}).get("expiresAt", 0)) <= now:
            ctx.session.delete(row)
    code = secrets.token_urlsafe(24)
    expires = now + ttl if session_end is None else min(now + ttl, session_end)
    value: dict[str, Any] = {"expiresAt": expires}
    if session_end is not None:
        value["sessionEnd"] = session_end
    ctx.session.add(SimSetting(key=_key(code), value=value))
    ctx.session.flush()
    return code, expires


def redeem(ctx: Ctx, code: str) -> dict[str, Any]:
    """Exchange a one-time code for a token of the bootstrap principal (ARM audience); refused when the code is
    unknown, already used or expired."""
    refused = DomainError(401, "InvalidConsoleLink", "This console link is unknown, used already or expired: run "
                                                     "`arm-sim console` for a new one, or sign in with the bootstrap "
                                                     "credential.")
    if not code or len(code) > 200:
        raise refused
    row = ctx.session.get(SimSetting, _key(code))
    expires = float((row.value or {}).get("expiresAt", 0)) if row is not None else 0.0
    session_end = float((row.value or {}).get("sessionEnd", 0)) if row is not None else 0.0
    gone = ctx.session.execute(delete(SimSetting).where(SimSetting.key == _key(code)))
    if row is None or getattr(gone, "rowcount", 0) != 1 or expires <= time.time():
        raise refused
    boot = tenancy.current_bootstrap(ctx)
    if boot is None:
        raise refused
    answer = entra.client_credentials(ctx, boot.tenant_id, {
        "grant_type": "client_credentials", "client_id": boot.client_id, "client_secret": boot.client_secret,
        "scope": ARM_SCOPE}, (), v1=False)
    # one use too: each exchange hands out the next, up to the session's end (a leaked link does not last forever)
    refresh, _ = create_link(ctx, REFRESH_TTL, session_end or time.time() + SESSION_LIMIT)
    return {"accessToken": answer["access_token"], "expiresIn": answer.get("expires_in"), "refreshCode": refresh,
            "tenantId": boot.tenant_id, "subscriptionId": boot.subscription_id, "clientId": boot.client_id}


def _resource_info(ctx: Ctx, resource_id: str) -> dict[str, Any]:
    row = ctx.session.get(Resource, ids.key(resource_id))
    if row is not None:
        return {"id": row.id, "name": row.name, "type": row.type, "exists": True}
    return {"id": resource_id, "name": resource_id.rstrip("/").rsplit("/", 1)[-1], "exists": False}


def decode(ctx: Ctx, token: str) -> dict[str, Any]:
    """The claims of a token the simulator signed, and the objects they name. Never echoes the token."""
    token = token.strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    try:
        claims = validator._verify_signature(ctx, token)  # signature by one of this simulator's keys, its tenant
    except AuthenticationError as e:
        raise DomainError(400, "NotASimulatorToken", f"This is not a token arm-sim issued: {e.message} "
                                                     f"({e.reason}).") from None
    names: dict[str, Any] = {}
    oid = str(claims.get("oid") or "")
    if oid:
        names["oid"] = principal_info(ctx, oid)
    app_id = str(claims.get("appid") or claims.get("azp") or "")
    if app_id:
        sp = directory.service_principal_by_app_id(ctx, app_id)
        names["appid"] = ({"appId": app_id, "exists": True, "displayName": sp.display_name,
                           "servicePrincipalObjectId": sp.object_id, "servicePrincipalType": sp.service_principal_type}
                          if sp is not None else {"appId": app_id, "exists": False})
        boot = tenancy.current_bootstrap(ctx)
        if boot is not None and boot.client_id.lower() == app_id.lower():
            names["appid"]["bootstrap"] = True
    if claims.get("xms_mirid"):
        names["xms_mirid"] = _resource_info(ctx, str(claims["xms_mirid"]))
    exp = float(claims.get("exp", 0))
    times = {k: iso(float(claims[k])) for k in ("iat", "nbf", "exp") if isinstance(claims.get(k), int | float)}
    return {"claims": claims, "names": names, "times": times, "expired": exp <= ctx.now, "now": iso(ctx.now),
            "signedBy": "arm-sim (a key of its tenant's key ring)"}
