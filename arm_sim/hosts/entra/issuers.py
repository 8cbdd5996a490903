"""The external OIDC issuers arm-sim plays (domain/oidc_issuers.py): discovery and JWKS under a direct URL,
`{arm-sim}/_issuers/{issuer without https://}/.well-known/openid-configuration` (a registered issuer also at
`{arm-sim}/_issuers/registered/{name}/…`, which is its own URL unless it was registered under another), and the
simulator API that registers issuers (`arm-sim oidc register|unregister`) and signs assertions for workloads
(`arm-sim oidc token`, `arm-sim exec --workload-identity`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from starlette.responses import Response

from arm_sim.core.errors import bad_request, not_found
from arm_sim.core.hosts import is_issuer_host
from arm_sim.domain import oidc_issuers
from arm_sim.domain.context import Ctx
from arm_sim.domain.runtime import Runtime
from arm_sim.hosts.http import json_response, off_loop
from arm_sim.hosts.sim.routes import _guarded

router = APIRouter(tags=["oidc issuers"])
PREFIX = "/_issuers/"
_DISCOVERY = ".well-known/openid-configuration"
_JWKS = ("openid/v1/jwks", ".well-known/jwks")
_REGISTERED = "registered/"


def _base(request: Request) -> str:
    """arm-sim's own configured URL (ARM_SIM_PUBLIC_HOST), never the request's Host header: a discovery document
    must not send its readers' key fetches wherever a caller's Host header pointed."""
    rt: Runtime = request.app.state.runtime
    return rt.settings.public_url


def direct_url(base: str, issuer: str) -> str:
    """The issuer's URL on arm-sim's own listener (its real host name is Azure's or GitHub's)."""
    return f"{base}{PREFIX}{issuer.split('://', 1)[1].rstrip('/')}/"


def served_url(base: str, issuer: oidc_issuers.Issuer) -> str:
    """Where arm-sim's own listener serves the issuer's documents (`base` + this + `.well-known/…`): a registered
    issuer at its default address is its own URL (as it was registered, whatever the public URL is now)."""
    if issuer.kind == "registered" and issuer.name:
        own = f"{PREFIX}{_REGISTERED}{issuer.name}"
        if issuer.url.rstrip("/").endswith(own) and urlsplit(issuer.url).hostname in (
                urlsplit(base).hostname, *oidc_issuers.LOOPBACK_HOSTS):
            return issuer.url.rstrip("/") + "/"
        return f"{base}{own}/"
    return direct_url(base, issuer.url)


def _missing() -> Response:
    """A 404 in the OAuth error shape this listener's other answers have (error + error_description)."""
    return json_response({"error": "not_found", "error_description": "No OpenID Connect document is served at "
                                                                     "this address."}, 404)


def _answer(request: Request, rest: str, real_host: bool = False) -> Response:
    suffix = next((s for s in (_DISCOVERY, *_JWKS) if rest.endswith("/" + s)), None)
    if suffix is None:
        return _missing()
    where = rest[: -len(suffix) - 1]
    rt: Runtime = request.app.state.runtime
    with rt.unit() as ctx:
        if where.startswith(_REGISTERED) and "/" not in where[len(_REGISTERED):]:
            issuer = oidc_issuers.registered(ctx, where[len(_REGISTERED):])
        else:
            issuer = oidc_issuers.played(ctx, f"https://{where}/") or oidc_issuers.played(ctx, f"https://{where}")
        if issuer is None or (suffix != _DISCOVERY and suffix != oidc_issuers.jwks_path(issuer)):
            return _missing()
        if suffix == _DISCOVERY:  # keys where the document was asked for: the issuer's real host, or arm-sim's
            base = issuer.url.rstrip("/") + "/" if real_host else served_url(_base(request), issuer)
            jwks_uri = base + oidc_issuers.jwks_path(issuer)
            body = oidc_issuers.discovery(issuer, jwks_uri)
        else:
            body = oidc_issuers.jwks(ctx, issuer.url)
    return json_response(body, headers={"Cache-Control": "max-age=3600, public"})


@router.get(PREFIX + "{rest:path}", summary="An external OIDC issuer arm-sim plays: discovery document and JWKS")
async def issuer_documents(request: Request, rest: str) -> Response:
    return await off_loop(lambda: _answer(request, rest))


async def _by_real_host(request: Request) -> Response:
    """The documents under the issuer's real host name (through the proxy mode, which tunnels
    token.actions.githubusercontent.com and `*.oic.prod-aks.azure.com` here): any other host finds nothing."""
    name, _, port = (request.headers.get("host") or "").lower().partition(":")
    if not is_issuer_host(name) or port not in ("", "443"):
        return _missing()
    return await off_loop(lambda: _answer(request, name + request.url.path, real_host=True))


@router.get("/.well-known/openid-configuration", summary="GitHub Actions' discovery document (its real host name)")
async def github_discovery(request: Request) -> Response:
    return await _by_real_host(request)


@router.get("/.well-known/jwks", summary="GitHub Actions' keys (its real host name)")
async def github_keys(request: Request) -> Response:
    return await _by_real_host(request)


@router.get("/{tenant}/{issuer_id}/.well-known/openid-configuration",
            summary="An AKS cluster's OIDC discovery document ({region}.oic.prod-aks.azure.com)")
async def aks_discovery(request: Request, tenant: str, issuer_id: str) -> Response:
    return await _by_real_host(request)


@router.get("/{tenant}/{issuer_id}/openid/v1/jwks", summary="An AKS cluster's keys ({region}.oic.prod-aks.azure.com)")
async def aks_keys(request: Request, tenant: str, issuer_id: str) -> Response:
    return await _by_real_host(request)


def _shown(base: str, issuer: oidc_issuers.Issuer) -> dict[str, object]:
    shown: dict[str, object] = {"issuer": issuer.url, "kind": issuer.kind, "resourceId": issuer.resource_id,
                                "discoveryUrl": served_url(base, issuer) + _DISCOVERY}
    if issuer.name:
        shown["name"] = issuer.name
    return shown


def _issuers(request: Request) -> Any:
    base = _base(request)

    def work(ctx: Ctx, _: Any) -> dict[str, object]:
        return {"value": [_shown(base, i) for i in oidc_issuers.all_played(ctx)]}
    return work


@router.get("/_sim/oidc/issuers", summary="The external OIDC issuers arm-sim plays (GitHub Actions, AKS clusters, "
                                          "registered issuers)")
async def list_issuers(request: Request) -> Response:
    return await _guarded(request, _issuers(request))


def _register(request: Request) -> Any:
    base, public = _base(request), request.app.state.runtime.settings.public_url

    def work(ctx: Ctx, body: Any) -> dict[str, object]:
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not isinstance(
                body.get("issuer", ""), str):
            raise bad_request("InvalidRequestContent", "The body needs 'name' (a string) and may have 'issuer' (an "
                                                       "https URL; default: arm-sim's own URL for the name).")
        url = body.get("issuer") or f"{public}{PREFIX}{_REGISTERED}{body['name']}"
        return _shown(base, oidc_issuers.register(ctx, body["name"], url))
    return work


@router.post("/_sim/oidc/issuers", summary="Register a generic OIDC issuer arm-sim plays ({name, issuer?})")
async def register_issuer(request: Request) -> Response:
    return await _guarded(request, _register(request))


@router.delete("/_sim/oidc/issuers/{name}", summary="Unregister an issuer: its keys go, its assertions stop verifying")
async def unregister_issuer(request: Request, name: str) -> Response:
    base = _base(request)
    return await _guarded(request, lambda ctx, _: _shown(base, oidc_issuers.unregister(ctx, name)))


def _mint(ctx: Ctx, body: Any) -> dict[str, object]:
    if not isinstance(body, dict) or not isinstance(body.get("issuer"), str) or not isinstance(
            body.get("subject"), str) or not body["subject"]:
        raise bad_request("InvalidRequestContent", "The body needs 'issuer' and 'subject' (strings), and may have "
                                                   "'audience' and 'lifetime' (seconds).")
    issuer = oidc_issuers.played(ctx, body["issuer"]) or oidc_issuers.registered(ctx, body["issuer"])
    if issuer is None:
        raise not_found("IssuerNotFound", f"arm-sim plays no OIDC issuer '{body['issuer']}': GitHub Actions "
                                          f"('{oidc_issuers.GITHUB}'), an AKS cluster's oidcIssuerProfile.issuerURL "
                                          "or a registered issuer (arm-sim oidc issuers lists them).")
    audience = body.get("audience") or oidc_issuers.DEFAULT_AUDIENCE
    lifetime = body.get("lifetime", oidc_issuers.ASSERTION_LIFETIME)
    if not isinstance(audience, str) or not isinstance(lifetime, int) or not (
            60 <= lifetime <= oidc_issuers.LONGEST_ASSERTION):
        raise bad_request("InvalidRequestContent", f"'audience' is a string and 'lifetime' whole seconds from 60 to "
                                                   f"{oidc_issuers.LONGEST_ASSERTION}.")
    token, exp = oidc_issuers.mint(ctx, issuer, body["subject"], audience, lifetime)
    return {"token": token, "expiresOn": exp, "issuer": issuer.url, "subject": body["subject"], "audience": audience}


@router.post("/_sim/oidc/token", summary="An assertion signed by an issuer arm-sim plays ({issuer, subject, audience?, "
                                         "lifetime?})")
async def mint_assertion(request: Request) -> Response:
    return await _guarded(request, _mint)
