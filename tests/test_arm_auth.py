"""ARM refuses every call without a valid token, in ARM's words, and changes nothing."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from tests.simserver import Sim


def _arm(sim: Sim, token: str | None, method: str = "GET", path: str = "", body: object = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    url = f"{sim.url}/subscriptions/{sim.subscription}{path}?api-version=2025-04-01"
    return httpx.request(method, url, headers=headers, json=body, verify=sim.ca)


def _tamper(token: str) -> str:
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["oid"] = "00000000-0000-0000-0000-000000000000"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{head}.{forged}.{sig}"


def _alg_none(token: str) -> str:
    _, payload, _ = token.split(".")
    head = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
    return f"{head}.{payload}."


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda sim: None, "AuthenticationFailed"),
        (lambda sim: "not-a-jwt", "InvalidAuthenticationToken"),
        (lambda sim: _tamper(sim.token()), "InvalidAuthenticationToken"),
        (lambda sim: _alg_none(sim.token()), "InvalidAuthenticationToken"),
        (lambda sim: sim.token("https://vault.azure.net/.default"), "InvalidAuthenticationTokenAudience"),
    ],
    ids=["missing", "malformed", "tampered", "alg-none", "wrong-audience"],
)
def test_bad_tokens_are_refused_and_change_nothing(sim: Sim, rg_name: str, make, code: str) -> None:  # type: ignore[no-untyped-def]
    r = _arm(sim, make(sim), "PUT", f"/resourcegroups/{rg_name}", {"location": "eastus"})
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == code
    assert r.headers["www-authenticate"].startswith("Bearer ")
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert _arm(sim, sim.token(), "GET", f"/resourcegroups/{rg_name}").status_code == 404


def test_token_from_another_tenant_is_refused(sim: Sim) -> None:
    with sim.http() as c:
        other = c.post("/_sim/tenants", json={}).json()["tenantId"]
        app = c.post("/_sim/applications", json={"displayName": "outsider", "tenantId": other}).json()
    r = httpx.post(f"{sim.url}/{other}/oauth2/v2.0/token", verify=sim.ca, data={
        "grant_type": "client_credentials", "client_id": app["appId"], "client_secret": app["clientSecret"],
        "scope": "https://management.azure.com/.default"})
    assert r.status_code == 200, r.text
    resp = _arm(sim, r.json()["access_token"])
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "InvalidAuthenticationTokenTenant"
    # the other tenant's token endpoint refuses the first tenant's client
    r = httpx.post(f"{sim.url}/{other}/oauth2/v2.0/token", verify=sim.ca, data={
        "grant_type": "client_credentials", "client_id": sim.client_id, "client_secret": sim.client_secret,
        "scope": "https://management.azure.com/.default"})
    assert r.status_code == 400 and r.json()["error_codes"] == [700016]


def test_expired_token_on_the_simulated_clock(fresh_sim: Sim) -> None:
    token = fresh_sim.token()
    assert _arm(fresh_sim, token).status_code == 200
    with fresh_sim.http(token) as c:
        assert c.post("/_sim/clock/advance", json={"duration": "2h"}).status_code == 200
    r = _arm(fresh_sim, token)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "ExpiredAuthenticationToken"
    assert "is earlier than current UTC time" in r.json()["error"]["message"]
    assert _arm(fresh_sim, fresh_sim.token()).status_code == 200


def test_sim_api_needs_the_bootstrap_principal(sim: Sim) -> None:
    assert httpx.get(f"{sim.url}/_sim/health", verify=sim.ca).status_code == 200
    assert httpx.get(f"{sim.url}/_sim/ca.pem", verify=sim.ca).text.startswith("-----BEGIN CERTIFICATE-----")
    assert httpx.get(f"{sim.url}/_sim/clock", verify=sim.ca).status_code == 401
    with sim.http() as c:
        app = c.post("/_sim/applications", json={"displayName": "someone-else"}).json()
    r = httpx.post(f"{sim.url}/{sim.tenant}/oauth2/v2.0/token", verify=sim.ca, data={
        "grant_type": "client_credentials", "client_id": app["appId"], "client_secret": app["clientSecret"],
        "scope": "https://management.azure.com/.default"})
    other = r.json()["access_token"]
    r = httpx.get(f"{sim.url}/_sim/clock", verify=sim.ca, headers={"Authorization": f"Bearer {other}"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "AuthorizationFailed"


def test_arm_accepts_its_own_management_url_as_audience(sim: Sim) -> None:
    """A client that derives its scope from the endpoint (`{endpoint}/.default`, as TypeSpec-generated management
    clients do) gets a token ARM takes, as Azure Stack and sovereign clouds take their own management URL; the
    cloud metadata publishes it among the audiences."""
    meta = httpx.get(f"{sim.url}/metadata/endpoints?api-version=2022-09-01", verify=sim.ca).json()
    assert f"{sim.url}/" in meta["authentication"]["audiences"]
    for scope in (f"{sim.url}/.default", f"{sim.url}//.default"):
        r = _arm(sim, sim.token(scope))
        assert r.status_code == 200, r.text
    refused = _arm(sim, sim.token("https://vault.azure.net/.default"))
    assert refused.status_code == 401 and f"'{sim.url}/'" in refused.json()["error"]["message"]
