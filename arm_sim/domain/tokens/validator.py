"""Bearer-token validation for the simulated resource servers (ARM, Graph, Key Vault, /_sim).

Checks signature (RS256 against a published key), issuer and tenant, audience, and nbf/exp on the
simulated clock. Signature checks are cached per token: a verified signature never changes, while
time and audience are re-checked on every call, so the cache keeps the check exact.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

import jwt

from arm_sim.core.errors import AuthenticationError
from arm_sim.domain import tenancy
from arm_sim.domain.context import Ctx
from arm_sim.domain.tokens import keyring, revocation

# (epoch, token) -> claims: a signature checked against a key of this database's life (see Clock.epoch) stays
# checked; request threads share it under the lock.
_verified: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
_verified_lock = threading.Lock()
_CACHE_SIZE = 20000
CLOCK_SKEW = 300  # seconds of leeway Entra-protected services allow on nbf


def _fmt(epoch: float) -> str:
    # The .NET general date/time pattern ARM uses in its messages: 8/17/2017 10:54:41 PM
    dt = datetime.fromtimestamp(epoch, UTC)
    return f"{dt.month}/{dt.day}/{dt.year} {dt.strftime('%I:%M:%S %p').lstrip('0')}"


def _verify_signature(ctx: Ctx, token: str) -> dict[str, Any]:
    key = (ctx.epoch, token)
    with _verified_lock:
        cached = _verified.get(key)
        if cached is not None:
            _verified.move_to_end(key)
            return cached
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as e:
        raise AuthenticationError("InvalidAuthenticationToken", "The access token is invalid.", "malformed") from e
    if header.get("alg") != "RS256":
        raise AuthenticationError(
            "InvalidAuthenticationToken", "The access token is invalid.", f"alg {header.get('alg')!r} refused"
        )
    found = keyring.public_key(ctx, str(header.get("kid", "")))
    if found is None:
        raise AuthenticationError(
            "InvalidAuthenticationToken", "The access token is invalid.", "signing key not found"
        )
    pub, key_tenant = found
    try:
        claims = jwt.decode(
            token, pub, algorithms=["RS256"],
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
        )
    except jwt.PyJWTError as e:
        raise AuthenticationError(
            "InvalidAuthenticationToken", "The access token has an invalid signature.", "bad signature"
        ) from e
    if claims.get("tid") != key_tenant:
        raise AuthenticationError("InvalidAuthenticationToken", "The access token is invalid.", "tenant/key mismatch")
    with _verified_lock:
        _verified[key] = claims
        if len(_verified) > _CACHE_SIZE:
            _verified.popitem(last=False)
    return claims


def validate(ctx: Ctx, token: str, audiences: tuple[str, ...], audience_message: str) -> dict[str, Any]:
    """Return the claims of a valid token or raise AuthenticationError with ARM's wording."""
    claims = _verify_signature(ctx, token)
    tid = str(claims.get("tid", ""))
    if claims.get("iss") != f"https://sts.windows.net/{tid}/" or not tenancy.tenant_exists(ctx, tid):
        raise AuthenticationError(
            "InvalidAuthenticationTokenTenant",
            f"The access token is from the wrong issuer '{claims.get('iss')}'.", "unknown issuer",
        )
    aud = claims.get("aud")
    if aud not in audiences:
        raise AuthenticationError(
            "InvalidAuthenticationTokenAudience", audience_message.format(aud=aud), "wrong audience"
        )
    exp = float(claims.get("exp", 0))
    if exp <= ctx.now:
        raise AuthenticationError(
            "ExpiredAuthenticationToken",
            f"The access token expiry UTC time '{_fmt(exp)}' is earlier than current UTC time "
            f"'{_fmt(ctx.now)}'.", "expired",
        )
    if float(claims.get("nbf", 0)) > ctx.now + CLOCK_SKEW:
        raise AuthenticationError(
            "InvalidAuthenticationToken", "The access token is not yet valid.", "not yet valid"
        )
    # only managed identities' tokens (xms_mirid) can be revoked: other tokens skip the lookup. The wording is
    # arm-sim's guess; no recording of Azure refusing a revoked token was found.
    if "xms_mirid" in claims and revocation.refused(ctx, str(claims.get("oid", "")), float(claims.get("iat", 0))):
        raise AuthenticationError(
            "InvalidAuthenticationToken", "The access token has been revoked.", "revoked"
        )
    return claims
