"""Managed identities in the directory: their service principals and the certificates they sign with.

A managed identity is a service principal of type ManagedIdentity with no application. arm-sim issues
each one an X.509 certificate (90 days, rolled at 45 on the simulated clock) and keeps the private key,
because arm-sim's identity endpoints act for the identity: they sign its client assertions.

The first certificate is made when something first needs it — the identity's first token, or a Graph read of
its keyCredentials — not when the identity is created: an RSA key costs tens of milliseconds, and most identities
a test creates are deleted unused. It is dated as if it had been issued at creation (or at the last 45-day roll
since), so what a client sees is the same either way.
"""

from __future__ import annotations

import base64
import hashlib
import uuid

from sqlalchemy import delete, select

from arm_sim.db.models import Credential, ServicePrincipal, SimSetting
from arm_sim.domain import directory, events, principal_deletion
from arm_sim.domain.certs import private_pem, self_signed
from arm_sim.domain.context import Ctx
from arm_sim.domain.keypool import POOL
from arm_sim.domain.tokens import revocation

CERT_LIFETIME = 90 * 86400.0
ROLL_AFTER = 45 * 86400.0
ROLLING_SETTING = "credentials.rolling"


def directory_resource_id(resource_id: str) -> str:
    """Entra writes resource ids with a lower-case `resourcegroups` segment (alternativeNames, xms_mirid)."""
    parts = resource_id.split("/")
    return "/".join(p.lower() if p.lower() == "resourcegroups" else p for p in parts)


def create_principal(ctx: Ctx, tenant_id: str, display_name: str, resource_id: str,
                     explicit: bool) -> ServicePrincipal:
    """A new principal (new object id and client id, every time) with its first certificate."""
    app_id = str(uuid.uuid4())
    identity_url = "https://identity.azure.net/" + base64.b64encode(
        hashlib.sha256(f"{resource_id}|{app_id}".encode()).digest()).decode()
    sp = ServicePrincipal(
        object_id=str(uuid.uuid4()), app_id=app_id, tenant_id=tenant_id, display_name=display_name,
        service_principal_type="ManagedIdentity",
        alternative_names=[f"isExplicit={'True' if explicit else 'False'}", directory_resource_id(resource_id)],
        service_principal_names=[app_id, identity_url], application_object_id=None,
        resource_key=resource_id.lower(), created_at=ctx.now,
    )
    ctx.session.add(sp)
    events.record(ctx, "servicePrincipal.created", sp.object_id, principalId=sp.object_id, clientId=app_id,
                  servicePrincipalType="ManagedIdentity", resourceId=resource_id, isExplicit=explicit)
    return sp


def exists(ctx: Ctx, object_id: str) -> bool:
    return ctx.session.get(ServicePrincipal, object_id) is not None


def delete_principal(ctx: Ctx, object_id: str, reason: str) -> None:
    sp = ctx.session.get(ServicePrincipal, object_id)
    if sp is None:
        return
    ctx.session.execute(delete(Credential).where(Credential.app_id == sp.app_id))
    principal_deletion.delete(ctx, sp, reason)
    ctx.session.flush()


def revoke_tokens(ctx: Ctx, object_id: str, resource_id: str) -> None:
    """`revokeTokens`: every token issued to the identity until now is refused from now on (tokens/revocation.py).
    The identity itself, its credentials and its grants are untouched."""
    mark = revocation.revoke(ctx, object_id)
    events.record(ctx, "tokens.revoked", object_id, principalId=object_id, resourceId=resource_id,
                  validFrom=mark)


def issue_certificate(ctx: Ctx, sp: ServicePrincipal, issued_at: float | None = None) -> Credential:
    key = POOL.take()
    start = ctx.now if issued_at is None else issued_at
    der = self_signed(key, f"{sp.app_id}.identity.arm-sim.local", start - 300, start + CERT_LIFETIME)
    return directory.add_certificate(ctx, sp.app_id, der, private_pem(key))


def ensure_certificate(ctx: Ctx, sp: ServicePrincipal) -> list[Credential]:
    """The identity's certificates, newest first, after making its first if it has none yet: dated at its creation
    or at the last 45-day roll since (when rolling is on), what eager issuance would show now, with one key."""
    certs = certificates(ctx, sp)
    if certs or sp.service_principal_type != "ManagedIdentity":
        return certs
    age = max(ctx.now - sp.created_at, 0.0)
    rolls = int(age // ROLL_AFTER) if rolling_enabled(ctx) else 0
    first = issue_certificate(ctx, sp, sp.created_at + rolls * ROLL_AFTER)
    ctx.session.flush()
    return [first]


def certificates(ctx: Ctx, sp: ServicePrincipal) -> list[Credential]:
    """Newest first."""
    rows = ctx.session.scalars(select(Credential).where(Credential.app_id == sp.app_id,
                                                        Credential.kind == "certificate")).all()
    return sorted(rows, key=lambda c: c.start_at, reverse=True)


def rolling_enabled(ctx: Ctx) -> bool:
    row = ctx.session.get(SimSetting, ROLLING_SETTING)
    return True if row is None else bool(row.value.get("enabled", True))


def set_rolling(ctx: Ctx, enabled: bool) -> None:
    row = ctx.session.get(SimSetting, ROLLING_SETTING)
    if row is None:
        ctx.session.add(SimSetting(key=ROLLING_SETTING, value={"enabled": enabled}))
    else:
        row.value = {"enabled": enabled}
    events.record(ctx, "credentials.rolling", "/_sim/credentials", enabled=enabled)


def maintain(ctx: Ctx, sp: ServicePrincipal) -> Credential | None:
    """Bring the identity's certificates up to the simulated clock; returns the one to sign with, if any.

    Past 45 days the certificate is rolled (current and previous stay listed); past 90 without a roll it
    has expired and can no longer obtain tokens.
    """
    certs = ensure_certificate(ctx, sp)
    current = certs[0] if certs else None
    if current is not None and ctx.now >= current.end_at and not current.expiry_recorded:
        current.expiry_recorded = True
        events.record(ctx, "credential.expired", sp.object_id, principalId=sp.object_id, keyId=current.key_id,
                      thumbprint=current.thumbprint_sha1)
    if rolling_enabled(ctx) and (current is None or ctx.now - current.start_at >= ROLL_AFTER):
        new = issue_certificate(ctx, sp)
        events.record(ctx, "credential.rolled", sp.object_id, principalId=sp.object_id, keyId=new.key_id,
                      previousKeyId=current.key_id if current else None)
        for old in certs[1:]:  # keep current and previous only
            ctx.session.delete(old)
        ctx.session.flush()
        return new
    return current if current is not None and ctx.now < current.end_at else None


def sweep(ctx: Ctx) -> int:
    """Maintain every managed identity that has a certificate (after the clock moves; one never used gets its
    first when it is first needed). Returns how many were looked at."""
    used = select(Credential.app_id).where(Credential.kind == "certificate")
    sps = ctx.session.scalars(select(ServicePrincipal).where(
        ServicePrincipal.service_principal_type == "ManagedIdentity", ServicePrincipal.app_id.in_(used))).all()
    for sp in sps:
        maintain(ctx, sp)
    return len(sps)
