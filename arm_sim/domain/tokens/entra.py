"""The Entra token service: the client-credentials grant on the v2 and v1 endpoints.

A client proves itself with a client secret or with a certificate-signed client assertion, verified
against the certificates registered for its client id; a user-assigned identity also with an external issuer's
assertion that one of its federated credentials trusts (domain/federation.py). Managed identities use the same
path: their identity endpoint signs an assertion with the identity's certificate (DESIGN.md §3).
"""

from __future__ import annotations

import base64
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from arm_sim.core.errors import EntraError
from arm_sim.db.models import Credential, ServicePrincipal, Tenant
from arm_sim.domain import directory, events, federation, graph_permissions
from arm_sim.domain.context import Ctx
from arm_sim.domain.tokens import issuer

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

# First-party resources that tokens may be requested for (audience = the resource as written).
KNOWN_RESOURCES = (
    "https://management.azure.com", "https://management.core.windows.net", "https://vault.azure.net",
    "https://graph.microsoft.com", "https://graph.windows.net", "https://storage.azure.com",
    "https://database.windows.net", "https://ossrdbms-aad.database.windows.net",
    "https://cognitiveservices.azure.com", "https://servicebus.azure.net", "https://eventhubs.azure.net",
    "https://monitor.azure.com", "https://api.loganalytics.io", "https://managedhsm.azure.net",
    "https://containerregistry.azure.net", "https://batch.core.windows.net", "https://analysis.windows.net/powerbi/api",
)


def resolve_tenant(ctx: Ctx, tenant: str) -> Tenant:
    """A tenant id, or a tenant's domain name; `organizations`/`common` mean the bootstrap tenant."""
    t = tenant.lower()
    row = ctx.session.get(Tenant, t)
    if row is None and t in ("common", "organizations"):
        row = ctx.session.scalars(select(Tenant).order_by(Tenant.created_at)).first()
    if row is None:
        row = ctx.session.scalars(select(Tenant).where(Tenant.default_domain == t)).first()
    if row is None:
        raise EntraError(
            400, "invalid_request", 90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing "
            "into the correct cloud. Check with your subscription administrator, this may happen if there are "
            "no active subscriptions for the tenant.",
        )
    return row


def _own_url(ctx: Ctx, base: str) -> bool:
    own = ctx.settings.public_url
    return base == own or base == own.replace(f":{ctx.settings.port}", "")


def known_resource(ctx: Ctx, resource: str) -> bool:
    base = resource.rstrip("/")
    return base in KNOWN_RESOURCES or _own_url(ctx, base)


def graph_audience(ctx: Ctx, resource: str) -> bool:
    """Microsoft Graph, or the simulator's own URL, which the Azure CLI uses as Graph's resource."""
    base = resource.rstrip("/")
    return base == "https://graph.microsoft.com" or _own_url(ctx, base)


def _missing(name: str) -> EntraError:
    return EntraError(400, "invalid_request", 900144,
                      f"The request body must contain the following parameter: '{name}'.")


def audience_from_scope(scope: str) -> str:
    scopes = scope.split()
    if len(scopes) != 1 or not scopes[0].endswith("/.default"):
        raise EntraError(
            400, "invalid_scope", 70011,
            f"The provided request must include a 'scope' input parameter. The provided value for the input "
            f"parameter 'scope' is not valid. The scope {scope} is not valid. The client credentials grant "
            "needs exactly one scope of the form {resource}/.default.",
        )
    return scopes[0][: -len("/.default")]


def _authenticate_secret(ctx: Ctx, sp: ServicePrincipal, secret: str) -> None:
    if not directory.secret_valid(ctx, sp.app_id, secret):
        raise EntraError(
            401, "invalid_client", 7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
            f"value, not the client secret ID, for a secret added to app '{sp.app_id}'.",
        )


def _thumbprint(header: dict[str, Any]) -> tuple[str, str]:
    """(column, hex) from the assertion's x5t#S256 or x5t header (base64url, padding tolerated)."""
    for name, column in (("x5t#S256", "thumbprint_sha256"), ("x5t", "thumbprint_sha1")):
        value = header.get(name)
        if isinstance(value, str) and value:
            raw = base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
            return column, raw.hex().upper()
    raise EntraError(401, "invalid_client", 700027,
                     "Client assertion failed signature validation. [Reason - The key was not found.]")


def _authenticate_assertion(ctx: Ctx, sp: ServicePrincipal, assertion: str, endpoints: tuple[str, ...]) -> None:
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as e:
        raise EntraError(400, "invalid_request", 50027, "JWT token is invalid or malformed.") from e
    if header.get("alg") not in ("RS256", "PS256"):
        raise EntraError(401, "invalid_client", 700027,
                         f"Client assertion contains an invalid signature. [Reason - The algorithm "
                         f"'{header.get('alg')}' is not supported.]")
    column, thumb = _thumbprint(header)
    cred = ctx.session.scalars(
        select(Credential).where(Credential.app_id == sp.app_id, getattr(Credential, column) == thumb)
    ).first()
    if cred is None or cred.certificate_der is None:
        raise EntraError(
            401, "invalid_client", 700027,
            f"Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of "
            f"key used by client: '{thumb}', Please visit the Azure Portal, Graph Explorer or directly use MS "
            f"Graph to see configured keys for app Id '{sp.app_id}'.]",
        )
    if not (cred.start_at <= ctx.now < cred.end_at):
        raise EntraError(
            401, "invalid_client", 700027,
            f"The certificate with identifier used to sign the client assertion is expired on application. "
            f"[Reason - The key used is expired., Thumbprint of key used by client: '{thumb}']",
        )
    pub = x509.load_der_x509_certificate(cred.certificate_der).public_key()
    assert isinstance(pub, rsa.RSAPublicKey)
    try:
        claims = jwt.decode(assertion, pub, algorithms=[header["alg"]],
                            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                                     "verify_aud": False})
    except jwt.PyJWTError as e:
        raise EntraError(401, "invalid_client", 700027,
                         "Client assertion contains an invalid signature. [Reason - The signature is not "
                         "valid.]") from e
    if claims.get("aud") not in endpoints:
        raise EntraError(400, "invalid_client", 50013,
                         f"Assertion audience claim does not match the required value. Expected one of "
                         f"{list(endpoints)}, found '{claims.get('aud')}'.")
    if claims.get("iss") != sp.app_id or claims.get("sub") != sp.app_id:
        raise EntraError(401, "invalid_client", 700021,
                         "Client assertion application identifier doesn't match 'client_id' parameter.")
    if float(claims.get("exp", 0)) <= ctx.now or float(claims.get("nbf", 0)) > ctx.now + 300:
        raise EntraError(401, "invalid_client", 700024, "Client assertion is not within its valid time range.")


def client_credentials(ctx: Ctx, tenant: str, form: dict[str, str], endpoints: tuple[str, ...],
                       v1: bool) -> dict[str, Any]:
    """Answer a token request. `endpoints` are the URLs an assertion's `aud` may name."""
    t = resolve_tenant(ctx, tenant)
    grant = form.get("grant_type")
    if not grant:
        raise _missing("grant_type")
    if grant != "client_credentials":
        raise EntraError(400, "unsupported_grant_type", 70003,
                         f"The app requested an unsupported grant type '{grant}'. arm-sim supports "
                         "client_credentials only.")
    client_id = form.get("client_id")
    if not client_id:
        raise _missing("client_id")
    if v1:
        resource = form.get("resource")
        if not resource:
            raise _missing("resource")
        audience = resource
    else:
        if not form.get("scope"):
            raise _missing("scope")
        audience = audience_from_scope(form["scope"])
    sp = directory.service_principal_by_app_id(ctx, client_id, t.id)
    if sp is None:
        events.record_refusal(ctx, "token.refused", client_id, reason="unknown client", tenantId=t.id)
        raise EntraError(
            400, "unauthorized_client", 700016,
            f"Application with identifier '{client_id}' was not found in the directory '{t.id}'. This can happen "
            "if the application has not been installed by the administrator of the tenant or consented to by any "
            "user in the tenant. You may have sent your authentication request to the wrong tenant.",
        )
    try:
        if form.get("client_assertion"):
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                raise EntraError(400, "invalid_request", 50027,
                                 "Invalid client_assertion_type; expected "
                                 f"'{ASSERTION_TYPE}'.")
            if federation.is_external(sp, form["client_assertion"]):  # workload identity federation
                federation.exchange(ctx, sp, form["client_assertion"])
            else:
                _authenticate_assertion(ctx, sp, form["client_assertion"], endpoints)
            acr = "2"
        elif form.get("client_secret"):
            _authenticate_secret(ctx, sp, form["client_secret"])
            acr = "1"
        else:
            raise EntraError(401, "invalid_client", 7000218,
                             "The request body must contain the following parameter: 'client_assertion' or "
                             "'client_secret'.")
        if not known_resource(ctx, audience):
            raise EntraError(
                400, "invalid_resource", 500011,
                f"The resource principal named {audience} was not found in the tenant named {t.id}. This can "
                "happen if the application has not been installed by the administrator of the tenant or "
                "consented to by any user in the tenant. You might have sent your authentication request to "
                "the wrong tenant.",
            )
    except EntraError as e:
        events.record_refusal(ctx, "token.refused", sp.object_id, reason=f"AADSTS{e.aadsts}", clientId=client_id,
                      principalId=sp.object_id, audience=audience)
        raise
    extra: dict[str, Any] = {}
    if sp.service_principal_type == "ManagedIdentity" and len(sp.alternative_names) > 1:
        extra["xms_mirid"] = sp.alternative_names[1]  # the hosting resource or the identity itself
    if graph_audience(ctx, audience):  # app roles granted to the principal; Azure omits the claim when none are
        roles = graph_permissions.granted(ctx, sp.object_id)
        if roles:
            extra["roles"] = roles
    lifetime = (issuer.MANAGED_IDENTITY_TOKEN_LIFETIME if sp.service_principal_type == "ManagedIdentity"
                else issuer.APP_TOKEN_LIFETIME)
    token, exp = issuer.issue(ctx, tenant_id=t.id, audience=audience, client_id=sp.app_id,
                              object_id=sp.object_id, lifetime=lifetime, appidacr=acr, extra=extra)
    events.record(ctx, "token.issued", sp.object_id, clientId=sp.app_id, principalId=sp.object_id,
                  audience=audience, expiresOn=exp, via="v1" if v1 else "v2")
    if v1:
        return {"token_type": "Bearer", "expires_in": str(lifetime), "ext_expires_in": str(lifetime),
                "expires_on": str(exp), "not_before": str(exp - lifetime), "resource": audience,  # the token's nbf
                "access_token": token}
    return {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}
