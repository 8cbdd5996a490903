"""The directory: applications, service principals and their credentials."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import uuid
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select

from arm_sim.core.errors import bad_request
from arm_sim.db.models import Application, Credential, ServicePrincipal
from arm_sim.domain import events
from arm_sim.domain.certs import sha1_thumbprint, sha256_thumbprint
from arm_sim.domain.context import Ctx

SECRET_LIFETIME = 2 * 365 * 86400.0


def hash_secret(secret: str, salt: str | None = None) -> str:
    # Client secrets are random and long: a salted SHA-256 is enough and keeps token requests fast.
    salt = salt or secrets.token_hex(8)
    return f"sha256${salt}${hashlib.sha256((salt + secret).encode()).hexdigest()}"


def _secret_matches(stored: str, secret: str) -> bool:
    _, salt, _ = stored.split("$", 2)
    return hmac.compare_digest(stored, hash_secret(secret, salt))


_LEAD = string.ascii_letters + string.digits + "_~."
_BODY = _LEAD + "-"


def new_client_secret() -> str:
    """A client secret in Entra's form: 40 characters, three of [A-Za-z0-9_~.], a version digit, `Q~`, then 34 of
    [A-Za-z0-9_~.-] (the form secret scanners look for). Never a leading `-`, which `az login -p` would take for
    an option."""
    return ("".join(secrets.choice(_LEAD) for _ in range(3)) + "8Q~"
            + "".join(secrets.choice(_BODY) for _ in range(34)))


def create_application(
    ctx: Ctx, tenant_id: str, display_name: str, app_id: str | None = None
) -> tuple[Application, ServicePrincipal]:
    """An app registration and its service principal in the same tenant."""
    app = new_application(ctx, tenant_id, display_name, app_id)
    return app, new_service_principal(ctx, app)


def new_application(ctx: Ctx, tenant_id: str, display_name: str, app_id: str | None = None,
                    properties: dict[str, Any] | None = None) -> Application:
    """An app registration alone (Graph's POST /applications makes no service principal)."""
    app = Application(
        object_id=str(uuid.uuid4()), app_id=app_id or str(uuid.uuid4()), tenant_id=tenant_id,
        display_name=display_name, created_at=ctx.now, properties=properties,
    )
    ctx.session.add(app)
    events.record(ctx, "application.created", app.object_id, appId=app.app_id, displayName=display_name)
    return app


def new_service_principal(ctx: Ctx, app: Application) -> ServicePrincipal:
    """The application's service principal in its own tenant: its names are the app id and the app's
    identifier URIs."""
    uris = [u for u in (app.properties or {}).get("identifierUris") or [] if isinstance(u, str)]
    sp = ServicePrincipal(
        object_id=str(uuid.uuid4()), app_id=app.app_id, tenant_id=app.tenant_id, display_name=app.display_name,
        service_principal_type="Application", alternative_names=[], service_principal_names=[app.app_id, *uris],
        application_object_id=app.object_id, created_at=ctx.now,
    )
    ctx.session.add(sp)
    events.record(ctx, "servicePrincipal.created", sp.object_id, appId=sp.app_id, principalId=sp.object_id,
                  servicePrincipalType="Application")
    return sp


def add_password(ctx: Ctx, app_id: str, secret: str | None = None, display_name: str | None = None) -> str:
    """Register a client secret; only its hash is stored. Returns the secret."""
    secret = secret or new_client_secret()
    new_password(ctx, app_id, secret, display_name, ctx.now - 60, ctx.now + SECRET_LIFETIME)
    return secret


def new_password(ctx: Ctx, app_id: str, secret: str, display_name: str | None, start_at: float,
                 end_at: float) -> Credential:
    cred = Credential(
        key_id=str(uuid.uuid4()), app_id=app_id, kind="password", display_name=display_name,
        secret_hash=hash_secret(secret), hint=secret[:3], start_at=start_at, end_at=end_at, created_at=ctx.now,
    )
    ctx.session.add(cred)
    events.record(ctx, "credential.issued", app_id, kind="password", keyId=cred.key_id)
    return cred


def certificate_der(pem: str) -> bytes:
    """A PEM certificate as DER, refusing anything that is not one."""
    try:
        return x509.load_pem_x509_certificate(pem.encode()).public_bytes(Encoding.DER)
    except ValueError as e:
        raise bad_request("InvalidCertificate", "The certificate is not a PEM-encoded X.509 certificate.") from e


def add_certificate(
    ctx: Ctx, app_id: str, certificate_der: bytes, private_key_pem: str | None = None
) -> Credential:
    cert = x509.load_der_x509_certificate(certificate_der)
    cred = Credential(
        key_id=str(uuid.uuid4()), app_id=app_id, kind="certificate",
        display_name=cert.subject.rfc4514_string(), certificate_der=certificate_der,
        private_key_pem=private_key_pem, thumbprint_sha1=sha1_thumbprint(certificate_der).hex().upper(),
        thumbprint_sha256=sha256_thumbprint(certificate_der).hex().upper(),
        start_at=cert.not_valid_before_utc.timestamp(), end_at=cert.not_valid_after_utc.timestamp(),
        created_at=ctx.now, expiry_recorded=False,
    )
    ctx.session.add(cred)
    events.record(ctx, "credential.issued", app_id, kind="certificate", keyId=cred.key_id,
                  thumbprint=cred.thumbprint_sha1)
    return cred


def credentials(ctx: Ctx, app_id: str, kind: str | None = None) -> list[Credential]:
    q = select(Credential).where(Credential.app_id == app_id).order_by(Credential.start_at)
    if kind:
        q = q.where(Credential.kind == kind)
    return list(ctx.session.scalars(q))


def secret_valid(ctx: Ctx, app_id: str, secret: str) -> bool:
    return any(
        c.secret_hash and c.start_at <= ctx.now < c.end_at and _secret_matches(c.secret_hash, secret)
        for c in credentials(ctx, app_id, "password")
    )


def service_principal_by_app_id(ctx: Ctx, app_id: str, tenant_id: str | None = None) -> ServicePrincipal | None:
    """The principal of an app id, in one tenant when given (a first-party app, Microsoft Graph, is in all)."""
    q = select(ServicePrincipal).where(ServicePrincipal.app_id == app_id)
    return ctx.session.scalars(q.where(ServicePrincipal.tenant_id == tenant_id) if tenant_id else q).first()


def service_principal(ctx: Ctx, object_id: str) -> ServicePrincipal | None:
    return ctx.session.get(ServicePrincipal, object_id)


def application_by_app_id(ctx: Ctx, app_id: str) -> Application | None:
    return ctx.session.scalars(select(Application).where(Application.app_id == app_id)).first()
