"""The Entra token service through real clients (azure-identity / MSAL) and raw HTTP."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from pathlib import Path

import httpx
import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CertificateCredential, ClientSecretCredential
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.simserver import Sim


def _jwks_key(sim: Sim, token: str) -> jwt.PyJWK:
    kid = jwt.get_unverified_header(token)["kid"]
    keys = httpx.get(f"{sim.url}/{sim.tenant}/discovery/v2.0/keys", verify=sim.ca).json()["keys"]
    match = [k for k in keys if k["kid"] == kid]
    assert match, "the token's kid must be published in JWKS"
    return jwt.PyJWK(match[0])


def test_client_secret_credential_gets_verifiable_v1_token(sim: Sim) -> None:
    cred = ClientSecretCredential(sim.tenant, sim.client_id, sim.client_secret, authority=sim.url,
                                  disable_instance_discovery=True, connection_verify=sim.ca)
    token = cred.get_token("https://management.azure.com/.default")
    claims = jwt.decode(token.token, _jwks_key(sim, token.token).key, algorithms=["RS256"],
                        audience="https://management.azure.com")
    assert claims["iss"] == f"https://sts.windows.net/{sim.tenant}/"
    assert claims["tid"] == sim.tenant and claims["appid"] == sim.client_id
    assert claims["appidacr"] == "1" and claims["idtyp"] == "app" and claims["ver"] == "1.0"
    assert claims["oid"] == claims["sub"]
    assert 3000 < claims["exp"] - claims["iat"] <= 3600
    header = jwt.get_unverified_header(token.token)
    assert header["x5t"] == header["kid"]


def test_discovery_documents_and_jwks(sim: Sim) -> None:
    v2 = httpx.get(f"{sim.url}/{sim.tenant}/v2.0/.well-known/openid-configuration", verify=sim.ca).json()
    assert v2["token_endpoint"] == f"{sim.url}/{sim.tenant}/oauth2/v2.0/token"
    assert v2["authorization_endpoint"].startswith(f"{sim.url}/{sim.tenant}/")
    v1 = httpx.get(f"{sim.url}/{sim.tenant}/.well-known/openid-configuration", verify=sim.ca).json()
    assert v1["token_endpoint"] == f"{sim.url}/{sim.tenant}/oauth2/token"
    assert v1["issuer"] == f"https://sts.windows.net/{sim.tenant}/"
    keys = httpx.get(f"{sim.url}/common/discovery/keys", verify=sim.ca).json()["keys"]
    assert keys and all({"kty", "use", "kid", "x5t", "n", "e", "x5c", "issuer"} <= set(k) for k in keys)
    inst = httpx.get(f"{sim.url}/common/discovery/instance?api-version=1.1", verify=sim.ca).json()
    assert inst["tenant_discovery_endpoint"].endswith("/.well-known/openid-configuration")


def test_v1_endpoint_answers_strings_and_keeps_the_resource(sim: Sim) -> None:
    r = httpx.post(f"{sim.url}/{sim.tenant}/oauth2/token", verify=sim.ca, data={
        "grant_type": "client_credentials", "client_id": sim.client_id, "client_secret": sim.client_secret,
        "resource": "https://management.core.windows.net/"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body["expires_in"], str) and isinstance(body["expires_on"], str)
    assert body["resource"] == "https://management.core.windows.net/"
    assert jwt.decode(body["access_token"], options={"verify_signature": False})["aud"] == body["resource"]


def test_unknown_form_fields_are_ignored(sim: Sim) -> None:
    r = httpx.post(f"{sim.url}/{sim.tenant}/oauth2/v2.0/token?client-request-id=abc", verify=sim.ca, data={
        "grant_type": "client_credentials", "client_id": sim.client_id, "client_secret": sim.client_secret,
        "scope": "https://vault.azure.net/.default", "client_info": "1", "x-client-SKU": "msal.js.node",
        "claims": '{"access_token": {"xms_cc": {"values": ["CP1"]}}}'})
    assert r.status_code == 200, r.text
    assert isinstance(r.json()["expires_in"], int)


@pytest.mark.parametrize(
    ("form", "status", "aadsts", "error"),
    [
        ({"client_secret": "wrong"}, 401, 7000215, "invalid_client"),
        ({"client_id": str(uuid.uuid4())}, 400, 700016, "unauthorized_client"),
        ({"scope": "https://management.azure.com/user_impersonation"}, 400, 70011, "invalid_scope"),
        ({"scope": "https://nowhere.example/.default"}, 400, 500011, "invalid_resource"),
        ({"client_secret": ""}, 401, 7000218, "invalid_client"),
        ({"grant_type": "password"}, 400, 70003, "unsupported_grant_type"),
    ],
)
def test_token_errors_have_entra_shape(sim: Sim, form: dict[str, str], status: int, aadsts: int, error: str) -> None:
    data = {"grant_type": "client_credentials", "client_id": sim.client_id, "client_secret": sim.client_secret,
            "scope": "https://management.azure.com/.default", **form}
    r = httpx.post(f"{sim.url}/{sim.tenant}/oauth2/v2.0/token", verify=sim.ca, data=data)
    assert r.status_code == status
    body = r.json()
    assert body["error"] == error and body["error_codes"] == [aadsts]
    assert body["error_description"].startswith(f"AADSTS{aadsts}:")
    assert "access_token" not in body


def test_unknown_tenant_is_aadsts90002(sim: Sim) -> None:
    r = httpx.post(f"{sim.url}/{uuid.uuid4()}/oauth2/v2.0/token", verify=sim.ca, data={
        "grant_type": "client_credentials", "client_id": sim.client_id, "client_secret": sim.client_secret,
        "scope": "https://management.azure.com/.default"})
    assert r.status_code == 400 and r.json()["error_codes"] == [90002]
    discovery = f"{sim.url}/{uuid.uuid4()}/v2.0/.well-known/openid-configuration"
    assert httpx.get(discovery, verify=sim.ca).status_code == 400


def test_wrong_secret_raises_in_the_sdk(sim: Sim) -> None:
    cred = ClientSecretCredential(sim.tenant, sim.client_id, "not-the-secret", authority=sim.url,
                                  disable_instance_discovery=True, connection_verify=sim.ca)
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        cred.get_token("https://management.azure.com/.default")


def _self_signed(tmp_path: Path, days: int = 30) -> tuple[Path, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "arm-sim test app")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days)).sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    path = tmp_path / "app.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()) + cert_pem.encode())
    return path, cert_pem


def _register(sim: Sim, cert_pem: str) -> dict[str, str]:
    with sim.http() as c:
        r = c.post("/_sim/applications?api-version=2025-01-01",
                   json={"displayName": "cert-app", "certificate": cert_pem, "secret": False})
    assert r.status_code == 200, r.text
    return r.json()


def test_certificate_credential_assertion_is_verified(sim: Sim, tmp_path: Path) -> None:
    pem_path, cert_pem = _self_signed(tmp_path)
    app = _register(sim, cert_pem)
    assert "clientSecret" not in app
    cred = CertificateCredential(sim.tenant, app["appId"], str(pem_path), authority=sim.url,
                                 disable_instance_discovery=True, connection_verify=sim.ca)
    token = cred.get_token("https://vault.azure.net/.default")
    claims = jwt.decode(token.token, options={"verify_signature": False})
    assert claims["appid"] == app["appId"] and claims["appidacr"] == "2"
    assert claims["oid"] == app["servicePrincipalObjectId"] and claims["aud"] == "https://vault.azure.net"


def test_assertion_signed_by_an_unregistered_key_is_refused(sim: Sim, tmp_path: Path) -> None:
    _, cert_pem = _self_signed(tmp_path)
    app = _register(sim, cert_pem)
    other_path, _ = _self_signed(tmp_path / "..", days=5)
    cred = CertificateCredential(sim.tenant, app["appId"], str(other_path), authority=sim.url,
                                 disable_instance_discovery=True, connection_verify=sim.ca)
    with pytest.raises(ClientAuthenticationError, match="AADSTS700027"):
        cred.get_token("https://management.azure.com/.default")


def test_ps256_assertion_with_sha256_thumbprint(sim: Sim, tmp_path: Path) -> None:
    pem_path, cert_pem = _self_signed(tmp_path)
    app = _register(sim, cert_pem)
    pem = pem_path.read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    der = x509.load_pem_x509_certificate(cert_pem.encode()).public_bytes(serialization.Encoding.DER)
    thumb = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
    endpoint = f"{sim.url}/{sim.tenant}/oauth2/v2.0/token"
    now = dt.datetime.now(dt.UTC).timestamp()
    assertion = jwt.encode({"aud": endpoint, "iss": app["appId"], "sub": app["appId"], "jti": str(uuid.uuid4()),
                            "nbf": now, "exp": now + 600}, key, algorithm="PS256",  # type: ignore[arg-type]
                           headers={"x5t#S256": thumb})
    r = httpx.post(endpoint, verify=sim.ca, data={
        "grant_type": "client_credentials", "client_id": app["appId"], "scope": "https://graph.microsoft.com/.default",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion})
    assert r.status_code == 200, r.text
    bad = jwt.encode({"aud": "https://elsewhere/token", "iss": app["appId"], "sub": app["appId"], "nbf": now,
                      "exp": now + 600}, key, algorithm="PS256", headers={"x5t#S256": thumb})  # type: ignore[arg-type]
    r = httpx.post(endpoint, verify=sim.ca, data={
        "grant_type": "client_credentials", "client_id": app["appId"], "scope": "https://graph.microsoft.com/.default",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": bad})
    assert r.status_code in (400, 401) and "access_token" not in r.json()


def test_token_refusals_are_events(sim: Sim) -> None:
    httpx.post(f"{sim.url}/{sim.tenant}/oauth2/v2.0/token", verify=sim.ca, data={
        "grant_type": "client_credentials", "client_id": sim.client_id, "client_secret": "nope",
        "scope": "https://management.azure.com/.default"})
    with sim.http() as c:
        found = c.get("/_sim/events", params={"kind": "token.refused"}).json()["value"]
    assert any(e["details"].get("reason") == "AADSTS7000215" for e in found)
