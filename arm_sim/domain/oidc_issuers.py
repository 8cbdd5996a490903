"""External OIDC issuers that arm-sim plays itself, for workload identity federation (DESIGN.md §4).

- every AKS cluster with `oidcIssuerProfile.enabled`: its `issuerURL` (`https://{region}.oic.prod-aks.azure.com/
  {tenant}/{guid}/`) lives as long as the cluster does;
- GitHub Actions, `https://token.actions.githubusercontent.com`, always;
- generic issuers a user registers by name (`arm-sim oidc register NAME`), for a Kubernetes cluster or CI system of
  their own: by default at arm-sim's own URL `{public url}/_issuers/registered/{name}` (a real OIDC issuer: its
  discovery document is at the issuer URL + `/.well-known/openid-configuration`), or under an https URL they name.

Each issuer has its own key ring (db.models.IssuerKey) on the simulated clock: one active key, rolled after
KEY_ROLL_AFTER; a retired key stays published until every assertion it signed has expired. Issuers arm-sim does not
play are fetched only from loopback addresses (`loopback_keys`), never from the network: any other is refused with
Entra's unreachable-metadata error (domain/federation.py).
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import re
import socket
import ssl
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import delete, select

from arm_sim.core.errors import bad_request, conflict, not_found
from arm_sim.db.models import IssuerKey, Resource, SimSetting
from arm_sim.domain import events
from arm_sim.domain.certs import b64url, load_private_pem, private_pem, self_signed, sha1_thumbprint
from arm_sim.domain.context import Ctx
from arm_sim.domain.keypool import POOL

GITHUB = "https://token.actions.githubusercontent.com"
AKS_CLUSTER = "microsoft.containerservice/managedclusters"
DEFAULT_AUDIENCE = "api://AzureADTokenExchange"
ASSERTION_LIFETIME = 3600  # a projected service-account token and a GitHub OIDC token both last about an hour
LONGEST_ASSERTION = 86400  # what `oidc token --lifetime` allows; retired keys stay published this long
KEY_ROLL_AFTER = 30 * 86400.0
KEY_LIFETIME = 5 * 365 * 86400.0
_AKS_URL = re.compile(r"^https://[a-z0-9-]+\.oic\.prod-aks\.azure\.com/[^/]+/[^/]+/$")
REGISTERED_PATH = "/_issuers/registered/"  # where a registered issuer lives on arm-sim's own listener, by default
_REGISTERED = "oidcIssuer."  # + the lower-cased name: a sim_settings key (64 characters at most)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
FETCH_TIMEOUT = 2.0  # seconds, for each of a loopback issuer's two documents
_GITHUB_SUBJECT = re.compile(r"^repo:(?P<repo>[^:]+):(?P<kind>ref|environment|pull_request)(?::(?P<value>.+))?$")


@dataclass(frozen=True)
class Issuer:
    url: str  # exactly as the `iss` claim carries it
    kind: str  # "aks" | "github" | "registered"
    resource_id: str | None  # the AKS cluster
    name: str | None = None  # a registered issuer's name


def _registered_rows(ctx: Ctx) -> list[SimSetting]:
    return list(ctx.session.scalars(select(SimSetting).where(SimSetting.key.like(_REGISTERED + "%"))
                                    .order_by(SimSetting.key)))


def _as_registered(row: SimSetting) -> Issuer:
    return Issuer(str(row.value["url"]), "registered", None, str(row.value["name"]))


def played(ctx: Ctx, url: str) -> Issuer | None:
    """The issuer arm-sim plays at `url` (compared exactly, as Entra compares), or None."""
    if url == GITHUB:
        return Issuer(GITHUB, "github", None)
    if _AKS_URL.match(url):
        for row in ctx.session.scalars(select(Resource).where(Resource.type_key == AKS_CLUSTER)):
            profile = (row.properties or {}).get("oidcIssuerProfile") or {}
            if isinstance(profile, dict) and profile.get("enabled") and profile.get("issuerURL") == url:
                return Issuer(url, "aks", row.id)
        return None
    return next((_as_registered(r) for r in _registered_rows(ctx) if r.value.get("url") == url), None)


def registered(ctx: Ctx, name: str) -> Issuer | None:
    row = ctx.session.get(SimSetting, _REGISTERED + name.lower())
    return _as_registered(row) if row is not None else None


def all_played(ctx: Ctx) -> list[Issuer]:
    out = [Issuer(GITHUB, "github", None)]
    for row in ctx.session.scalars(select(Resource).where(Resource.type_key == AKS_CLUSTER).order_by(Resource.key)):
        profile = (row.properties or {}).get("oidcIssuerProfile") or {}
        if isinstance(profile, dict) and profile.get("enabled") and isinstance(profile.get("issuerURL"), str):
            out.append(Issuer(profile["issuerURL"], "aks", row.id))
    return out + [_as_registered(r) for r in _registered_rows(ctx)]


def register(ctx: Ctx, name: str, url: str) -> Issuer:
    """A generic issuer arm-sim plays from now on, under `url` (https, as Entra wants a federated credential's
    issuer); its first key is made at once, so its JWKS is never empty."""
    if not _NAME.match(name):
        raise bad_request("InvalidIssuerName", f"The issuer name '{name}' must be 1 to 50 letters, digits, '-', '_' "
                                               "or '.', starting with a letter or digit.")
    try:
        parts = urlsplit(url)
    except ValueError:  # no URL at all (`https://[::1`: an unclosed IPv6 bracket)
        parts = urlsplit("")
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment or parts.username:
        raise bad_request("InvalidIssuerUrl", f"The issuer URL '{url}' must be an https URL without query, fragment "
                                              "or user information.")
    if url == GITHUB or _AKS_URL.match(url):
        raise conflict("IssuerAlreadyPlayed", f"arm-sim already plays '{url}' (GitHub Actions or an AKS cluster's "
                                              "issuer): register an issuer of your own.")
    if registered(ctx, name) is not None:
        raise conflict("IssuerNameInUse", f"An issuer named '{name}' is registered already.")
    if played(ctx, url) is not None:
        raise conflict("IssuerUrlInUse", f"The issuer URL '{url}' is registered already.")
    ctx.session.add(SimSetting(key=_REGISTERED + name.lower(), value={"name": name, "url": url,
                                                                      "createdAt": ctx.now}))
    events.record(ctx, "oidcIssuer.registered", url, issuer=url, name=name)
    active_key(ctx, url)
    return Issuer(url, "registered", None, name)


def unregister(ctx: Ctx, name: str) -> Issuer:
    """The issuer ends: its keys go with it, so assertions it signed no longer verify (as with a deleted cluster)."""
    issuer = registered(ctx, name)
    if issuer is None:
        raise not_found("IssuerNotFound", f"No issuer named '{name}' is registered.")
    ctx.session.execute(delete(SimSetting).where(SimSetting.key == _REGISTERED + name.lower()))
    forget(ctx, issuer.url, issuer.url)
    return issuer


def forget(ctx: Ctx, url: str, subject: str) -> None:
    """The issuer is gone (with its cluster, or unregistered): its keys go too, so nothing it signed verifies any
    more. `subject`: what the event is filed under (the cluster's id)."""
    ctx.session.execute(delete(IssuerKey).where(IssuerKey.issuer == url))
    events.record(ctx, "oidcIssuer.deleted", subject, issuer=url)


def _new_key(ctx: Ctx, url: str) -> IssuerKey:
    key = POOL.take()
    der = self_signed(key, "issuer.arm-sim.local", ctx.now - 300, ctx.now + KEY_LIFETIME)
    row = IssuerKey(kid=b64url(sha1_thumbprint(der)), issuer=url, private_key_pem=private_pem(key),
                    certificate_der=der, state="active", created_at=ctx.now)
    ctx.session.add(row)
    events.record(ctx, "oidcIssuer.keyCreated", url, issuer=url, kid=row.kid)
    return row


def active_key(ctx: Ctx, url: str) -> IssuerKey:
    """The key that signs now, rolled on the simulated clock (the old one stays published for its assertions)."""
    rows = ctx.session.scalars(select(IssuerKey).where(IssuerKey.issuer == url, IssuerKey.state == "active")).all()
    current = max(rows, key=lambda r: r.created_at, default=None)
    if current is not None and ctx.now - current.created_at < KEY_ROLL_AFTER:
        return current
    for r in rows:
        r.state, r.publish_until = "retired", ctx.now + LONGEST_ASSERTION + 300
    new = _new_key(ctx, url)
    ctx.session.flush()
    return new


def published(ctx: Ctx, url: str) -> list[IssuerKey]:
    rows = ctx.session.scalars(select(IssuerKey).where(IssuerKey.issuer == url).order_by(IssuerKey.created_at))
    return [r for r in rows if r.state == "active" or (r.publish_until or 0) > ctx.now]


def public_key(ctx: Ctx, url: str, kid: str) -> rsa.RSAPublicKey | None:
    row = next((r for r in published(ctx, url) if r.kid == kid), None)
    if row is None:
        return None
    pub = x509.load_der_x509_certificate(row.certificate_der).public_key()
    assert isinstance(pub, rsa.RSAPublicKey)
    return pub


def jwks(ctx: Ctx, url: str) -> dict[str, Any]:
    keys = []
    for row in published(ctx, url):
        pub = x509.load_der_x509_certificate(row.certificate_der).public_key()
        assert isinstance(pub, rsa.RSAPublicKey)
        n, e = pub.public_numbers().n, pub.public_numbers().e
        keys.append({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": row.kid,
                     "n": b64url(n.to_bytes((n.bit_length() + 7) // 8, "big")),
                     "e": b64url(e.to_bytes((e.bit_length() + 7) // 8, "big")),
                     "x5c": [base64.b64encode(row.certificate_der).decode()]})
    return {"keys": keys}


def jwks_path(issuer: Issuer) -> str:
    """Where the issuer publishes its keys, relative to its URL (AKS: the Kubernetes API server's path)."""
    return "openid/v1/jwks" if issuer.kind == "aks" else ".well-known/jwks"


def discovery(issuer: Issuer, jwks_uri: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"issuer": issuer.url, "jwks_uri": jwks_uri, "response_types_supported": ["id_token"],
                           "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"]}
    if issuer.kind == "github":
        doc["claims_supported"] = ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "repository",
                                   "repository_owner", "environment", "event_name", "ref_type", "job_workflow_ref"]
        doc["scopes_supported"] = ["openid"]
    return doc


def _github_claims(subject: str) -> dict[str, Any]:
    m = _GITHUB_SUBJECT.match(subject)
    if m is None:
        return {}
    repo = m["repo"]
    claims: dict[str, Any] = {"repository": repo, "repository_owner": repo.split("/", 1)[0]}
    if m["kind"] == "ref" and m["value"]:
        claims |= {"ref": m["value"], "ref_type": "tag" if m["value"].startswith("refs/tags/") else "branch",
                   "event_name": "push"}
    elif m["kind"] == "environment" and m["value"]:
        claims |= {"environment": m["value"], "event_name": "push"}
    elif m["kind"] == "pull_request":
        claims["event_name"] = "pull_request"
    return claims


def mint(ctx: Ctx, issuer: Issuer, subject: str, audience: str = DEFAULT_AUDIENCE,
         lifetime: int = ASSERTION_LIFETIME) -> tuple[str, int]:
    """An assertion from `issuer` for `subject`, as the cluster's API server (a projected service-account token) or
    GitHub's token service would sign it. Returns the token and its `exp`."""
    key = active_key(ctx, issuer.url)
    now = int(ctx.now)
    aud: Any = [audience] if issuer.kind == "aks" else audience  # Kubernetes writes a list, GitHub a string
    claims: dict[str, Any] = {"iss": issuer.url, "sub": subject, "aud": aud, "iat": now, "nbf": now,
                              "exp": now + lifetime, "jti": str(uuid.uuid4())}
    if issuer.kind == "aks":
        parts = subject.split(":")
        if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
            claims["kubernetes.io"] = {"namespace": parts[2], "serviceaccount": {"name": parts[3],
                                                                                 "uid": str(uuid.uuid4())}}
    else:
        claims |= _github_claims(subject)
    token = jwt.encode(claims, load_private_pem(key.private_key_pem), algorithm="RS256",
                       headers={"kid": key.kid, "typ": "JWT"})
    events.record(ctx, "oidcIssuer.assertionIssued", issuer.url, issuer=issuer.url, subject=subject,
                  audience=audience, expiresOn=now + lifetime)
    return token, now + lifetime


class MetadataUnavailable(Exception):
    """An issuer's discovery document or keys could not be had: not on loopback, unreachable, or not valid."""


def _loopback_address(url: str) -> tuple[str, int]:
    """Where to connect for `url`: (a loopback address, port). Anything else raises, before any network access."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as e:
        raise MetadataUnavailable(f"not a URL: {url}") from e
    host = parts.hostname
    if parts.scheme not in ("http", "https") or host not in LOOPBACK_HOSTS or parts.username:
        raise MetadataUnavailable(f"not a loopback URL: {url}")
    if host != "localhost":
        return host, port
    try:  # resolved once, here, and connected to as resolved: every address must be loopback
        found = [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
    except OSError as e:
        raise MetadataUnavailable(f"cannot resolve {host}") from e
    if not found or not all(ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in found):
        raise MetadataUnavailable(f"{host} does not resolve to loopback addresses only")
    return found[0], port


def _get_json(url: str) -> dict[str, Any]:
    """GET a JSON document from a loopback URL: no proxy, no redirect, FETCH_TIMEOUT, 1 MB at most."""
    address, port = _loopback_address(url)
    parts = urlsplit(url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        conn = http.client.HTTPSConnection(address, port, timeout=FETCH_TIMEOUT, context=context)
    else:
        conn = http.client.HTTPConnection(address, port, timeout=FETCH_TIMEOUT)
    try:
        conn.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                     headers={"Host": parts.netloc, "Accept": "application/json"})
        response = conn.getresponse()
        body = response.read(1_000_001)
        if response.status != 200 or len(body) > 1_000_000:
            raise MetadataUnavailable(f"{url} answered {response.status}")
        doc = json.loads(body)
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise MetadataUnavailable(f"{url}: {type(e).__name__}") from e
    finally:
        conn.close()
    if not isinstance(doc, dict):
        raise MetadataUnavailable(f"{url} is not a JSON object")
    return doc


def loopback_keys(url: str) -> dict[str, rsa.RSAPublicKey]:
    """The RSA keys (by kid) of an issuer arm-sim does not play, fetched as Entra fetches them — its discovery
    document (whose `issuer` must be `url` exactly), then its `jwks_uri` — but only from loopback addresses, so
    arm-sim never reaches the network. https is not verified: a loopback peer is whoever bound the port, and local
    issuers (a kind cluster's API server, a test's) use self-signed certificates.

    Any loopback port, not only arm-sim's own: its own listeners serve only issuers it plays, which are never
    fetched (`played` answers first), so that limit would leave nothing to fetch; the point is a local issuer of
    the user's own. What bounds a fetch instead: only a caller who may write a federated credential (on the
    identity through ARM, on the application through Graph) can name the issuer, and it must be https (both
    validate it), so a plain-text local service fails at the TLS handshake; two GETs at most (the discovery document
    at a fixed path under the issuer, then its loopback `jwks_uri`), no redirect, FETCH_TIMEOUT each, 1 MB; nothing
    fetched is echoed back: a failure is AADSTS50166, a document without the key AADSTS7000272."""
    doc = _get_json(url.rstrip("/") + "/.well-known/openid-configuration")
    if doc.get("issuer") != url or not isinstance(doc.get("jwks_uri"), str):
        raise MetadataUnavailable(f"{url}: the discovery document names another issuer, or no jwks_uri")
    listed = _get_json(doc["jwks_uri"]).get("keys")
    keys: dict[str, rsa.RSAPublicKey] = {}
    for jwk in listed if isinstance(listed, list) else []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not isinstance(jwk.get("kid"), str):
            continue
        try:
            key = jwt.algorithms.RSAAlgorithm.from_jwk(jwk)
        except (jwt.PyJWTError, ValueError, KeyError):
            continue
        if isinstance(key, rsa.RSAPublicKey):
            keys[jwk["kid"]] = key
    return keys
