"""Per-tenant token-signing keys: next -> active -> retired.

Retired keys stay published until every token they signed has expired, so a rotation never
invalidates a token that a client still holds.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from arm_sim.db.models import SigningKey
from arm_sim.domain import events
from arm_sim.domain.certs import (
    b64url,
    load_private_pem,
    new_rsa_key,
    private_pem,
    self_signed,
    sha1_thumbprint,
)
from arm_sim.domain.context import Ctx

KEY_LIFETIME = 5 * 365 * 86400.0
LONGEST_TOKEN = 86400.0 + 300.0  # managed-identity tokens: about 24 h 5 min

# Parsed keys by kid. A kid names one immutable key, so this cache can never go stale.
_private: dict[str, rsa.RSAPrivateKey] = {}
_public: dict[str, rsa.RSAPublicKey] = {}


def _new_key(ctx: Ctx, tenant_id: str, state: str) -> SigningKey:
    key = new_rsa_key()
    der = self_signed(key, "accounts.arm-sim.local", ctx.now - 86400, ctx.now + KEY_LIFETIME)
    kid = b64url(sha1_thumbprint(der))
    row = SigningKey(
        kid=kid, tenant_id=tenant_id, private_key_pem=private_pem(key), certificate_der=der,
        state=state, created_at=ctx.now, activated_at=ctx.now if state == "active" else None,
    )
    ctx.session.add(row)
    _private[kid] = key
    events.record(ctx, "signingKey.created", f"/tenants/{tenant_id}", kid=kid, state=state)
    return row


def active_key(ctx: Ctx, tenant_id: str) -> SigningKey:
    row = ctx.session.scalars(
        select(SigningKey).where(SigningKey.tenant_id == tenant_id, SigningKey.state == "active")
    ).first()
    return row if row is not None else _new_key(ctx, tenant_id, "active")


def ensure_ring(ctx: Ctx, tenant_id: str) -> None:
    """An active key and a published next key, so clients can pre-fetch the next one."""
    active_key(ctx, tenant_id)
    has_next = ctx.session.scalars(
        select(SigningKey).where(SigningKey.tenant_id == tenant_id, SigningKey.state == "next")
    ).first()
    if has_next is None:
        _new_key(ctx, tenant_id, "next")


def rotate(ctx: Ctx, tenant_id: str) -> SigningKey:
    """next -> active, active -> retired (published until its last token expires), new next."""
    rows = ctx.session.scalars(select(SigningKey).where(SigningKey.tenant_id == tenant_id)).all()
    nxt = next((r for r in rows if r.state == "next"), None) or _new_key(ctx, tenant_id, "next")
    for r in rows:
        if r.state == "active":
            r.state, r.retired_at, r.publish_until = "retired", ctx.now, ctx.now + LONGEST_TOKEN
    nxt.state, nxt.activated_at = "active", ctx.now
    _new_key(ctx, tenant_id, "next")
    events.record(ctx, "signingKey.rotated", f"/tenants/{tenant_id}", kid=nxt.kid)
    return nxt


def published(ctx: Ctx, tenant_id: str | None) -> list[SigningKey]:
    q = select(SigningKey).order_by(SigningKey.created_at)
    if tenant_id is not None:
        q = q.where(SigningKey.tenant_id == tenant_id)
    return [
        r for r in ctx.session.scalars(q)
        if r.state != "retired" or (r.publish_until is not None and r.publish_until > ctx.now)
    ]


def private_key(row: SigningKey) -> rsa.RSAPrivateKey:
    key = _private.get(row.kid)
    if key is None:
        key = _private[row.kid] = load_private_pem(row.private_key_pem)
    return key


def public_key(ctx: Ctx, kid: str) -> tuple[rsa.RSAPublicKey, str] | None:
    """The public key for `kid` and its tenant, if that key is published now."""
    row = ctx.session.get(SigningKey, kid)
    if row is None or (row.state == "retired" and (row.publish_until or 0) <= ctx.now):
        return None
    pub = _public.get(kid)
    if pub is None:
        loaded = x509.load_der_x509_certificate(row.certificate_der).public_key()
        assert isinstance(loaded, rsa.RSAPublicKey)
        pub = _public[kid] = loaded
    return pub, row.tenant_id


def jwk(row: SigningKey, issuer: str) -> dict[str, Any]:
    pub = x509.load_der_x509_certificate(row.certificate_der).public_key()
    assert isinstance(pub, rsa.RSAPublicKey)
    nums = pub.public_numbers()
    n = nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")
    e = nums.e.to_bytes((nums.e.bit_length() + 7) // 8, "big")
    return {
        "kty": "RSA", "use": "sig", "kid": row.kid, "x5t": row.kid, "n": b64url(n), "e": b64url(e),
        "x5c": [base64.b64encode(row.certificate_der).decode()], "issuer": issuer,
    }
