"""The token chain behind a VM's IMDS, a site's App Service endpoint and the legacy VM extension.

As in Azure (DESIGN.md §3 "Token flow"): the endpoint selects an identity of the resource that hosts it,
brings the identity's certificates up to date, signs a client assertion with the current certificate and
asks the Entra token service for a v1 token, which verifies that assertion against the principal's
registered certificates. Nothing short-circuits the chain; each step is an event.

Tokens are cached per identity and resource as IMDS does, in this process's memory. The cache is only
consulted after the identity has been selected from the database, so it never serves a token for a
principal that no longer exists or is no longer assigned to the resource.

A VM's endpoint key is a secret (domain/identity_endpoints.py): events name it only by a short fingerprint,
and a key that matches nothing is refused exactly as a VM without the identity asked for.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import bindparam, func, select

from arm_sim.core import ids
from arm_sim.core.errors import EntraError
from arm_sim.db import write_gate
from arm_sim.db.engine import HotSelect
from arm_sim.db.models import Credential, IdentityEndpoint, Resource, ServicePrincipal
from arm_sim.db.records import EndpointHostRecord, PrincipalRecord
from arm_sim.domain import events, identity_endpoints, managed_identities
from arm_sim.domain.certs import b64url, load_private_pem, sha1_thumbprint
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx
from arm_sim.domain.tokens import entra, revocation

IDENTITY_NOT_FOUND = "Identity not found"
MULTIPLE_IDENTITIES = ("Multiple user assigned identities exist, please specify the clientId / resourceId of the "
                       "identity in the token request")
REFRESH_MARGIN = 300  # IMDS hands out a cached token while more than 5 minutes of it remain
ASSERTION_LIFETIME = 600
CACHE_SIZE = 10_000
RESOURCE_ID_SELECTORS = ("msi_res_id", "mi_res_id")


@dataclass(frozen=True)
class TokenRequest:
    endpoint_key: str  # the VM's secret key or the site key, as in the URL
    kind: str  # "vm" | "site": the kind of endpoint the URL addresses
    via: str  # "imds" | "appService" | "extension"
    resource: str
    selector: tuple[str, str] | None = None  # (client_id | object_id | msi_res_id | mi_res_id, value)
    bypass_cache: bool = False
    secret: str | None = None  # a site's IDENTITY_HEADER, as the caller sent it


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    client_id: str
    object_id: str
    resource: str
    expires_on: int
    not_before: int
    ext_expires_in: int


@dataclass(frozen=True)
class Refused:
    status: int
    error: str
    description: str


@dataclass(frozen=True)
class _Selected:
    sp: PrincipalRecord
    host: EndpointHostRecord  # the endpoint and its hosting resource's id and identity
    identity_resource_id: str  # the hosting resource (system-assigned) or the user-assigned identity


_cache: OrderedDict[tuple[str, str, str], IssuedToken] = OrderedDict()
_cache_lock = threading.Lock()


def _cache_key(ctx: Ctx, object_id: str, resource: str) -> tuple[str, str, str]:
    return (ctx.epoch, object_id, resource)  # a reset (new epoch) forgets every token issued before it


def _cached(ctx: Ctx, object_id: str, resource: str) -> IssuedToken | None:
    key = _cache_key(ctx, object_id, resource)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit.expires_on - ctx.now > REFRESH_MARGIN:
            _cache.move_to_end(key)
            return hit
        if hit is not None:
            del _cache[key]
    return None


def _remember(ctx: Ctx, token: IssuedToken) -> None:
    with _cache_lock:
        _cache[_cache_key(ctx, token.object_id, token.resource)] = token
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)


def endpoint(ctx: Ctx, key: str, kind: str) -> IdentityEndpoint | None:
    row = identity_endpoints.get(ctx, key)
    return row if row is not None and row.kind == kind else None


def hosting_resource(ctx: Ctx, key: str, kind: str) -> Resource | None:
    """The VM or site behind an endpoint key; None when either is gone."""
    row = endpoint(ctx, key, kind)
    return ctx.session.get(Resource, row.resource_key) if row is not None else None


def find_resource(ctx: Ctx, subscription_id: str, type_key: str, name: str,
                  resource_group: str | None) -> list[Resource]:
    """Resources of a type by name (and resource group), for `arm-sim env --vm NAME [-g RG]`."""
    q = select(Resource).where(Resource.subscription_id == subscription_id.lower(), Resource.type_key == type_key,
                               func.lower(Resource.name) == name.lower())
    if resource_group:
        q = q.where(Resource.resource_group_key == ids.key(ids.resource_group_id(subscription_id, resource_group)))
    return list(ctx.session.scalars(q))


def _refuse(ctx: Ctx, request: TokenRequest, reason: str, refusal: Refused, subject: str,
            **details: Any) -> Refused:
    events.record(ctx, "token.refused", subject, reason=reason, via=request.via, endpoint=_endpoint_label(request),
                  resource=request.resource, selector=_selector_text(request), **details)
    return refusal


def _endpoint_label(request: TokenRequest) -> str:
    """How events name the endpoint: a site's key as is (its IDENTITY_HEADER is the secret), a VM's key by a
    fingerprint only (the key itself opens the VM's IMDS)."""
    if request.kind == "site":
        return request.endpoint_key
    return "sha256:" + hashlib.sha256(request.endpoint_key.encode()).hexdigest()[:12]


def _selector_text(request: TokenRequest) -> str | None:
    return f"{request.selector[0]}={request.selector[1]}" if request.selector else None


def _not_found(ctx: Ctx, request: TokenRequest, reason: str, subject: str, **details: Any) -> Refused:
    return _refuse(ctx, request, reason, Refused(400, "invalid_request", IDENTITY_NOT_FOUND), subject, **details)


# Selecting the identity runs on every token request, cached or not: two prebuilt reads of snapshots (no ORM
# objects). The chain fetches the principal's ORM row only when it must sign (a cache miss).
_EP, _RES, _SP = IdentityEndpoint.__table__.c, Resource.__table__.c, ServicePrincipal.__table__.c
_ENDPOINT_AND_HOST: HotSelect[EndpointHostRecord] = HotSelect(
    select(_EP.kind, _EP.secret, _EP.extension_port, _RES.id, _RES.identity)
    .join_from(IdentityEndpoint.__table__, Resource.__table__, _RES.key == _EP.resource_key)
    .where(_EP.key == bindparam("key")))
_PRINCIPAL: HotSelect[PrincipalRecord] = HotSelect(select(_SP.object_id, _SP.app_id, _SP.tenant_id, _SP.resource_key)
                       .where(_SP.object_id == bindparam("object_id")))


def _principal(ctx: Ctx, object_id: str) -> PrincipalRecord | None:
    return _PRINCIPAL.first(ctx.session, {"object_id": object_id})


def _select(ctx: Ctx, request: TokenRequest) -> _Selected | Refused:
    host = _ENDPOINT_AND_HOST.first(ctx.session, {"key": request.endpoint_key})
    if host is None or host.kind != request.kind:
        return _not_found(ctx, request, "no such endpoint (resource deleted or never created)",
                          f"/{'vms' if request.kind == 'vm' else 'sites'}/{_endpoint_label(request)}")
    if host.kind == "site" and not hmac.compare_digest((host.secret or "").encode(), (request.secret or "").encode()):
        return _refuse(ctx, request, "wrong identity header", Refused(
            401, "unauthorized_client", "The X-IDENTITY-HEADER value does not match this site's IDENTITY_HEADER."),
            host.id, resourceId=host.id)
    if request.via == "extension" and host.extension_port is None:
        return _refuse(ctx, request, "VM extension not installed", Refused(
            400, "unauthorized_client", "The Managed Identity VM extension (ManagedIdentityExtensionForLinux or "
            "ManagedIdentityExtensionForWindows) is not installed on this VM; use IMDS at "
            f"{ctx.settings.imds_url}/vms/{request.endpoint_key}/metadata/identity/oauth2/token"), host.id,
            resourceId=host.id)
    block = host.identity or {}
    system = block.get("principalId")
    uais: dict[str, Any] = block.get("userAssignedIdentities") or {}
    chosen: tuple[str, str] | None = None  # (principal id, identity resource id)
    if request.selector is None:
        if system:
            chosen = (system, host.id)
        elif len(uais) == 1:  # as in Azure: the single user-assigned identity answers for the VM
            uai_id, value = next(iter(uais.items()))
            chosen = (str(value.get("principalId")), uai_id)
        elif len(uais) > 1:
            return _refuse(ctx, request, "several user-assigned identities and no selector",
                           Refused(400, "invalid_request", MULTIPLE_IDENTITIES), host.id, resourceId=host.id)
    else:
        name, value = request.selector
        wanted = value.lower()
        candidates: list[tuple[str, str, str | None]] = []  # (principal id, identity id, client id)
        if system:
            sp = _principal(ctx, system)
            candidates.append((system, host.id, sp.app_id if sp else None))
        candidates += [(str(v.get("principalId")), k, v.get("clientId")) for k, v in uais.items()]
        for principal, identity_id, client_id in candidates:
            hit = ((name == "client_id" and (client_id or "").lower() == wanted)
                   or (name == "object_id" and principal.lower() == wanted)
                   or (name in RESOURCE_ID_SELECTORS and ids.key(identity_id) == ids.key(value)))
            if hit:
                chosen = (principal, identity_id)
                break
    if chosen is None:
        return _not_found(ctx, request, "no such identity on the resource", host.id, resourceId=host.id)
    sp = _principal(ctx, chosen[0])
    # a user-assigned identity deleted since it was assigned: the resource keeps the reference, tokens stop
    if sp is None or sp.resource_key != ids.key(chosen[1]):
        return _not_found(ctx, request, "the identity's service principal no longer exists", host.id,
                          resourceId=host.id, principalId=chosen[0], identityResourceId=chosen[1])
    return _Selected(sp, host, chosen[1])


def _assertion(ctx: Ctx, sp: PrincipalRecord, cert: Credential, audience: str) -> str:
    """A client assertion signed with the identity's certificate, as the platform signs it (RS256 + x5t)."""
    assert cert.certificate_der is not None and cert.private_key_pem is not None
    now = int(ctx.now)
    claims = {"aud": audience, "iss": sp.app_id, "sub": sp.app_id, "jti": str(uuid.uuid4()), "nbf": now,
              "iat": now, "exp": now + ASSERTION_LIFETIME}
    header = {"x5t": b64url(sha1_thumbprint(cert.certificate_der)), "typ": "JWT"}
    return jwt.encode(claims, _private_key(cert.key_id, cert.private_key_pem), algorithm="RS256", headers=header)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _private_key(key_id: str, pem: str) -> rsa.RSAPrivateKey:
    """A credential's key never changes, so keep the parsed one (signing reuses its precomputed state)."""
    return load_private_pem(pem)


def _expired_refusal(ctx: Ctx, request: TokenRequest, chosen: _Selected, cert: Credential | None,
                     answer: EntraError | None) -> Refused:
    sp = chosen.sp
    if cert is None:
        what = f"Managed identity '{sp.app_id}' has no certificate to sign with"
    else:
        what = (f"The certificate of managed identity '{sp.app_id}' (thumbprint {cert.thumbprint_sha1}, keyId "
                f"{cert.key_id}) expired at {iso(cert.end_at)}")
    rolling = ("credential rolling is disabled in arm-sim (POST /_sim/credentials/rolling)"
               if not managed_identities.rolling_enabled(ctx) else "it was not rolled in time")
    entra_says = f" Entra ID answered: AADSTS{answer.aadsts}: {answer.description}" if answer else ""
    description = f"{what}; {rolling}, so no token can be issued for it.{entra_says}"
    return _refuse(ctx, request, "credential expired", Refused(400, "unauthorized_client", description),
                   sp.object_id, principalId=sp.object_id, clientId=sp.app_id, resourceId=chosen.host.id,
                   keyId=cert.key_id if cert else None, thumbprint=cert.thumbprint_sha1 if cert else None,
                   expiredAt=iso(cert.end_at) if cert else None)


def acquire(ctx: Ctx, request: TokenRequest) -> IssuedToken | Refused:
    """Select, sign, ask Entra. Refusals are answers, not exceptions: what the chain did (a credential
    rolled or found expired, the refusal itself) must commit with the request."""
    chosen = _select(ctx, request)
    if isinstance(chosen, Refused):
        return chosen
    sp = chosen.sp
    if not request.bypass_cache:
        hit = _cached(ctx, sp.object_id, request.resource)
        # (a cached token issued before the identity's tokens were revoked would only be refused: get a new one)
        if hit is not None and not revocation.refused(ctx, sp.object_id, hit.not_before):
            return hit
    write_gate.slow_work_ahead()
    events.record(ctx, "token.requested", chosen.host.id, via=request.via, endpoint=_endpoint_label(request),
                  resource=request.resource, selector=_selector_text(request), principalId=sp.object_id,
                  clientId=sp.app_id, identityResourceId=chosen.identity_resource_id,
                  bypassCache=request.bypass_cache)
    principal = ctx.session.get(ServicePrincipal, sp.object_id)  # the ORM row: maintaining may roll its certificate
    if principal is None:  # deleted since the selection read it (another process)
        return _not_found(ctx, request, "the identity's service principal no longer exists", chosen.host.id,
                          resourceId=chosen.host.id, principalId=sp.object_id)
    cert = managed_identities.maintain(ctx, principal)
    expired = cert is None
    if cert is None:  # sign with the expired certificate anyway: Entra is the one that refuses it
        certs = managed_identities.certificates(ctx, principal)
        cert = certs[0] if certs else None
        if cert is None or cert.private_key_pem is None:
            return _expired_refusal(ctx, request, chosen, None, None)
    token_endpoint = f"{ctx.settings.public_url}/{sp.tenant_id}/oauth2/token"
    assertion = _assertion(ctx, sp, cert, token_endpoint)
    events.record(ctx, "clientAssertion.signed", sp.object_id, principalId=sp.object_id, clientId=sp.app_id,
                  keyId=cert.key_id, thumbprint=cert.thumbprint_sha1, audience=token_endpoint)
    form = {"grant_type": "client_credentials", "client_id": sp.app_id, "resource": request.resource,
            "client_assertion_type": entra.ASSERTION_TYPE, "client_assertion": assertion}
    try:
        answer = entra.client_credentials(ctx, sp.tenant_id, form, (token_endpoint,), v1=True)
    except EntraError as e:
        if expired:
            return _expired_refusal(ctx, request, chosen, cert, e)
        return _refuse(ctx, request, f"AADSTS{e.aadsts}", Refused(400, e.error, f"AADSTS{e.aadsts}: {e.description}"),
                       sp.object_id, principalId=sp.object_id, clientId=sp.app_id, resourceId=chosen.host.id)
    token = IssuedToken(access_token=answer["access_token"], client_id=sp.app_id, object_id=sp.object_id,
                        resource=answer["resource"], expires_on=int(answer["expires_on"]),
                        not_before=int(answer["not_before"]), ext_expires_in=int(answer["ext_expires_in"]))
    _remember(ctx, token)
    return token


def hosting_document(ctx: Ctx, key: str, kind: str) -> dict[str, Any] | None:
    """The hosting resource as plain data (for instance metadata); None when it is gone."""
    host = hosting_resource(ctx, key, kind)
    if host is None:
        return None
    path = ids.parse(host.id)
    return {"id": host.id, "name": host.name, "type": host.type, "location": host.location or "",
            "tags": dict(host.tags or {}), "properties": dict(host.properties or {}), "plan": host.plan,
            "zones": list(host.extra.get("zones") or []), "identity": host.identity,
            "subscriptionId": path.subscription or "", "resourceGroupName": path.resource_group or ""}


def identity_tenant(ctx: Ctx, key: str) -> str | None:
    """`/metadata/identity/info`: the tenant of the VM's identity; None when it has none."""
    host = hosting_resource(ctx, key, "vm")
    block = (host.identity or {}) if host is not None else {}
    principals = [block.get("principalId")] + [
        v.get("principalId") for v in (block.get("userAssignedIdentities") or {}).values()]
    for principal in principals:
        sp = ctx.session.get(ServicePrincipal, principal) if principal else None
        if sp is not None:
            return sp.tenant_id
    return None
