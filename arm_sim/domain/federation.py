"""Workload identity federation: an external issuer's assertion exchanged for the token of a user-assigned identity
or of an application's service principal.

Entra matches the assertion's `iss`, `sub` and `aud` against the federated identity credentials (exact,
case-sensitive), then checks the signature against the issuer's published keys and the lifetime against the clock
(reference/azure-identity-facts.md §8). The token itself comes from the token service's one issuing path
(tokens/entra.py), so it is the identity's own, exactly as its IMDS token is.

Error codes and texts, each as Entra answered it in a public log (Entra's texts drift; the code, `error` and quoted
claim are what clients read). Microsoft's error-code reference (MicrosoftDocs/entra-docs
docs/identity-platform/reference-error-codes.md) lists none of 700211/700212/700213, so the logs are the source:
- AADSTS700211 401 invalid_client, no credential with the assertion's issuer: Azure/azure-workload-identity#1200
  (2023, docs.microsoft.com link), and a 2025-07 answer with this exact text and the learn.microsoft.com link;
- AADSTS700213 401 invalid_client, issuer matched, subject did not: azure-workload-identity#1200, dotnet/maui#31978
  and CI logs up to 2026-02 (its "Please check" became "Check" in 2024-25; 700211's did not);
- AADSTS700212 401 invalid_client, issuer and subject matched, audience did not: AthenZ/athenz
  servers/zts/src/test/java/com/yahoo/athenz/zts/external/azure/AzureAccessTokenProviderTest.java (a captured
  2024-04 answer, wording exact; its link is the docs.microsoft.com one of that year, given here as the
  learn.microsoft.com link its siblings carry since);
- AADSTS50166 400 invalid_request, "Request to External OIDC endpoint failed.": azure-workload-identity#642, #1130
  (Entra also answers this text as 90061 and 501661: azure-workload-identity#605, Azure/login#283). arm-sim answers
  it for every issuer it neither plays nor can fetch from a loopback address: it never fetches metadata from the
  network (oidc_issuers.loopback_keys);
- AADSTS7000272 401 invalid_client, signing key not in the issuer's metadata: azure-workload-identity#1232 (exact);
- AADSTS700027 401 invalid_client, a signature that does not verify under a published key: no federated sample was
  found. Code and text are Entra's for any client assertion whose signature fails (AzureAD/passport-azure-ad#453; the
  reference: "Client assertion failed signature validation."), the bracketed reason the one
  AzureAD/microsoft-authentication-library-for-python msal/application.py quotes for 700027. Also searched: issues
  and code for a federated token's bad signature, AADSTS7000273/7000274 (AzureAD/microsoft-identity-web names 7000274
  ClientAssertionContainsInvalidSignature in one file, CertificateNotWithinValidityPeriod in another; no text);
- AADSTS700024 401 invalid_client, "Client assertion is not within its valid time range…": azure-workload-identity#693
  and the logs found from 2023 to 2026, which all end with the same docs.microsoft.com link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from sqlalchemy import select

from arm_sim.core.errors import EntraError
from arm_sim.db.models import ApplicationFederatedCredential, Resource, ServicePrincipal
from arm_sim.domain import events, oidc_issuers
from arm_sim.domain.context import Ctx

FIC = "microsoft.managedidentity/userassignedidentities/federatedidentitycredentials"
_DOCS = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
CLOCK_SKEW = 300  # Entra tolerates about five minutes of skew on nbf


MAX_CREDENTIALS = 20  # per user-assigned identity and per application (Entra's limit, not configurable)


@dataclass(frozen=True)
class Trust:
    """One federated identity credential, wherever it is kept: `id` names it in events (an ARM id for an identity's,
    the Graph id for an application's)."""

    id: str
    issuer: str
    subject: str
    audiences: tuple[str, ...]


def is_external(sp: ServicePrincipal, assertion: str) -> bool:
    """Whether a client assertion comes from an external issuer rather than from the client itself (a client's own
    assertion names its client id as `iss`). User-assigned identities and applications hold federated credentials;
    system-assigned identities never do."""
    if sp.service_principal_type == "ManagedIdentity":
        if sp.alternative_names[:1] != ["isExplicit=True"]:
            return False
    elif not sp.application_object_id:  # a first-party principal (Microsoft Graph's) has no application here
        return False
    try:
        iss = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return False
    return isinstance(iss, str) and iss != sp.app_id


def credentials(ctx: Ctx, sp: ServicePrincipal) -> list[Resource]:
    """A user-assigned identity's federated identity credentials, as ARM stores them (deleted ones are gone)."""
    if not sp.resource_key:
        return []
    return list(ctx.session.scalars(select(Resource).where(
        Resource.parent_key == sp.resource_key.rstrip("/"), Resource.type_key == FIC).order_by(Resource.key)))


def application_credentials(ctx: Ctx, application_object_id: str) -> list[ApplicationFederatedCredential]:
    return list(ctx.session.scalars(select(ApplicationFederatedCredential).where(
        ApplicationFederatedCredential.application_object_id == application_object_id)
        .order_by(ApplicationFederatedCredential.created_at, ApplicationFederatedCredential.id)))


def trusts(ctx: Ctx, sp: ServicePrincipal) -> list[Trust]:
    """Every federated credential the principal's identity or application holds, in one shape for the matcher."""
    if sp.service_principal_type == "ManagedIdentity":
        out = []
        for r in credentials(ctx, sp):
            p = r.properties or {}
            aud = p.get("audiences")
            out.append(Trust(r.id, str(p.get("issuer", "")), str(p.get("subject", "")),
                             tuple(a for a in aud if isinstance(a, str)) if isinstance(aud, list) else ()))
        return out
    if not sp.application_object_id:
        return []
    return [Trust(c.id, c.issuer, c.subject, tuple(a for a in c.audiences if isinstance(a, str)))
            for c in application_credentials(ctx, sp.application_object_id)]


def _iso(t: float) -> str:
    """Entra's timestamps in 700024: seven fractional digits (whole seconds for the assertion's own claims)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _refuse(ctx: Ctx, sp: ServicePrincipal, error: EntraError, claims: dict[str, Any], closest: Trust | None,
            field: str | None) -> EntraError:
    """Record why (and which credential came closest, on which field), then hand the error back to raise."""
    events.record_refusal(
        ctx, "federation.refused", sp.resource_key or sp.object_id, reason=f"AADSTS{error.aadsts}",
        principalId=sp.object_id, clientId=sp.app_id, issuer=claims.get("iss"), subject=claims.get("sub"),
        audience=claims.get("aud"), closestCredential=closest.id if closest is not None else None,
        differingField=field)
    return error


def exchange(ctx: Ctx, sp: ServicePrincipal, assertion: str) -> Trust:
    """Verify an external assertion for the principal `sp` (a user-assigned identity's or an application's); returns
    the federated credential it matched."""
    try:
        header = jwt.get_unverified_header(assertion)
        claims: dict[str, Any] = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as e:
        raise EntraError(400, "invalid_request", 50027, "JWT token is invalid or malformed.") from e
    iss, sub, aud = str(claims.get("iss", "")), str(claims.get("sub", "")), claims.get("aud")
    audiences = [a for a in (aud if isinstance(aud, list) else [aud]) if isinstance(a, str)]
    fics = trusts(ctx, sp)
    by_issuer = [r for r in fics if r.issuer == iss]
    if not by_issuer:
        raise _refuse(ctx, sp, EntraError(
            401, "invalid_client", 700211,
            f"No matching federated identity record found for presented assertion issuer '{iss}'. Please check your "
            f"federated identity credential Subject, Audience and Issuer against the presented assertion. {_DOCS}"),
            claims, fics[0] if fics else None, "issuer")
    by_subject = [r for r in by_issuer if r.subject == sub]
    if not by_subject:
        raise _refuse(ctx, sp, EntraError(
            401, "invalid_client", 700213,
            f"No matching federated identity record found for presented assertion subject '{sub}'. Check your "
            f"federated identity credential Subject, Audience and Issuer against the presented assertion. {_DOCS}"),
            claims, by_issuer[0], "subject")
    matched = next((r for r in by_subject if set(r.audiences) & set(audiences)), None)
    if matched is None:
        raise _refuse(ctx, sp, EntraError(  # Entra's words, as AthenZ/athenz captured them (module docstring)
            401, "invalid_client", 700212,
            f"No matching federated identity record found for presented assertion audience "
            f"'{', '.join(audiences)}'. Please check your federated identity credential Subject, Audience and "
            f"Issuer against the presented assertion. {_DOCS}"),
            claims, by_subject[0], "audiences")
    kid = str(header.get("kid", ""))
    if oidc_issuers.played(ctx, iss) is not None:
        key = oidc_issuers.public_key(ctx, iss, kid)
    else:  # fetched from loopback only, never from the network: else as if its metadata could not be retrieved
        try:
            key = oidc_issuers.loopback_keys(iss).get(kid)
        except oidc_issuers.MetadataUnavailable:
            raise _refuse(ctx, sp, EntraError(400, "invalid_request", 50166,
                                              "Request to External OIDC endpoint failed."),
                          claims, matched, "issuer") from None
    if header.get("alg") != "RS256":
        key = None
    if key is None:
        raise _refuse(ctx, sp, EntraError(
            401, "invalid_client", 7000272,
            f"The certificate with identifier {kid} used to sign the federated credential could not be found in the "
            f"metadata of identity provider {iss}. Please validate that your Identity Provider's metadata exposes the "
            "key used to sign the incoming token."), claims, matched, "signature")
    try:
        jwt.decode(assertion, key, algorithms=["RS256"],
                   options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False})
    except jwt.PyJWTError:
        raise _refuse(ctx, sp, EntraError(  # Entra's 700027 text; no federated sample found (module docstring)
            401, "invalid_client", 700027, "Client assertion contains an invalid signature. [Reason - The provided "
            "signature value did not match the expected signature value.]"), claims, matched, "signature") from None
    exp, nbf = _seconds(claims.get("exp")), _seconds(claims.get("nbf", claims.get("iat", 0)))
    if exp <= ctx.now or nbf > ctx.now + CLOCK_SKEW:  # (a time claim that is not a number counts as expired)
        raise _refuse(ctx, sp, EntraError(
            401, "invalid_client", 700024,
            f"Client assertion is not within its valid time range. Current time: {_iso(ctx.now)}, assertion valid "
            f"from {_iso(nbf)}, expiry time of assertion {_iso(exp)}. Review the documentation at "
            "https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials ."),
            claims, matched, "exp")
    events.record(ctx, "federation.exchanged", sp.resource_key or sp.object_id, principalId=sp.object_id,
                  clientId=sp.app_id, credential=matched.id, issuer=iss, subject=sub, audience=audiences)
    return matched


def _seconds(value: Any) -> float:
    """A JWT time claim (NumericDate), or 0 for anything else: refused as expired rather than a 500."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
