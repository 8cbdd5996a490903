"""Access tokens: RS256 JWTs signed with the tenant's active key, shaped as Entra shapes them.

ARM, Key Vault and Graph accept v1 tokens, so every access token arm-sim issues is v1 shaped
(`iss` https://sts.windows.net/{tid}/, `appid`, `ver` 1.0) whichever endpoint issued it, as Entra does.
"""

from __future__ import annotations

import uuid
from typing import Any

import jwt

from arm_sim.domain.certs import b64url
from arm_sim.domain.context import Ctx
from arm_sim.domain.tokens import keyring, revocation

APP_TOKEN_LIFETIME = 3599
MANAGED_IDENTITY_TOKEN_LIFETIME = 86400 + 300


def v1_issuer(tenant_id: str) -> str:
    return f"https://sts.windows.net/{tenant_id}/"


def issue(
    ctx: Ctx,
    *,
    tenant_id: str,
    audience: str,
    client_id: str,
    object_id: str,
    lifetime: int,
    appidacr: str,
    extra: dict[str, Any] | None = None,
) -> tuple[str, int]:
    """Sign an app-only access token. Returns the token and its `exp` (epoch seconds)."""
    key = keyring.active_key(ctx, tenant_id)
    # a managed identity's token after `revokeTokens` must not look issued before it (tokens/revocation.py)
    iat = revocation.issued_at(ctx, object_id) if extra and "xms_mirid" in extra else int(ctx.now)
    exp = iat + lifetime
    claims: dict[str, Any] = {
        "aud": audience,
        "iss": v1_issuer(tenant_id),
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "aio": b64url(uuid.uuid4().bytes),
        "appid": client_id,
        "appidacr": appidacr,
        "idp": v1_issuer(tenant_id),
        "idtyp": "app",
        "oid": object_id,
        "rh": "0." + b64url(uuid.uuid4().bytes),
        "sub": object_id,
        "tid": tenant_id,
        "uti": b64url(uuid.uuid4().bytes),
        "ver": "1.0",
    }
    if extra:
        claims.update(extra)
    token = jwt.encode(
        claims, keyring.private_key(key), algorithm="RS256",
        headers={"kid": key.kid, "x5t": key.kid, "typ": "JWT"},
    )
    return token, exp
