"""Issuers for workload identity federation beyond GitHub Actions and AKS (issue 20, point 2): generic issuers a
user registers (`arm-sim oidc register NAME`, `/_sim/oidc/issuers`), which arm-sim plays with discovery, JWKS and
keys rotated on the clock; and issuers arm-sim does not play, whose metadata it fetches only from loopback addresses
(a tiny HTTPS issuer the test runs on 127.0.0.1), never from the network.

Clients: the `arm-sim` CLI, plain HTTP (httpx) for discovery and the token endpoint."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.simserver import Sim
from tests.test_federation import assertion, claims, exchange, federate, identity, refused, unique


@pytest.fixture(scope="module")
def rg(sim: Sim, arm: httpx.Client) -> str:
    name = unique("rg-iss-")
    r = arm.put(f"/subscriptions/{sim.subscription}/resourcegroups/{name}", params={"api-version": "2025-04-01"},
                json={"location": "eastus"})
    assert r.status_code == 201, r.text
    return f"/subscriptions/{sim.subscription}/resourceGroups/{name}"


def test_a_registered_issuer_is_played_like_the_others(sim: Sim, arm: httpx.Client, rg: str) -> None:
    name = unique("kind-")
    done = sim.cli("oidc", "register", name)
    assert done.returncode == 0, done.stderr
    issuer = json.loads(done.stdout)["issuer"]
    assert issuer == f"https://localhost:{sim.port}/_issuers/registered/{name}"
    # a real OIDC issuer: discovery at the issuer URL, keys where it says
    doc = httpx.get(f"{issuer}/.well-known/openid-configuration", verify=sim.ca).json()
    assert doc["issuer"] == issuer
    kids = [k["kid"] for k in httpx.get(doc["jwks_uri"], verify=sim.ca).json()["keys"]]
    assert len(kids) == 1
    listed = {i["issuer"]: i for i in arm.get("/_sim/oidc/issuers").json()["value"]}
    assert listed[issuer]["kind"] == "registered" and listed[issuer]["name"] == name

    # `oidc token` signs for it (by URL or by name); the exchange takes it
    subject = "system:serviceaccount:apps:api"
    printed = sim.cli("oidc", "token", "--issuer", name, "--subject", subject)
    assert printed.returncode == 0, printed.stderr
    token = printed.stdout.strip()
    assert claims(token)["iss"] == issuer and jwt.get_unverified_header(token)["kid"] in kids
    uai = identity(arm, rg)
    federate(arm, uai, issuer, subject)
    assert exchange(sim, uai["properties"]["clientId"], token).status_code == 200

    # registered under a URL of the user's own: served under arm-sim's direct URLs
    own = f"https://ci.{unique('contoso')}.example/oidc"
    r = arm.post("/_sim/oidc/issuers", json={"name": unique("ci-"), "issuer": own})
    assert r.status_code == 200, r.text
    for url in (r.json()["discoveryUrl"], f"https://localhost:{sim.port}/_issuers/{own[8:]}/.well-known/"
                                          "openid-configuration"):
        assert httpx.get(url, verify=sim.ca).json()["issuer"] == own
    assert claims(assertion(arm, own, "pipeline:42"))["iss"] == own
    # what Azure would refuse as a federated credential's issuer, and names or URLs taken
    for body, status in (({"name": unique("x-"), "issuer": "http://ci.example"}, 400),
                         ({"name": unique("v6-"), "issuer": "https://[::1"}, 400),  # (no URL at all)
                         ({"name": "bad name!"}, 400), ({"name": name}, 409),
                         ({"name": unique("y-"), "issuer": own}, 409),
                         ({"name": unique("z-"), "issuer": "https://token.actions.githubusercontent.com"}, 409)):
        assert arm.post("/_sim/oidc/issuers", json=body).status_code == status, body

    # unregistered: its documents and keys go, an old assertion no longer verifies
    gone = sim.cli("oidc", "unregister", name)
    assert gone.returncode == 0, gone.stderr
    assert httpx.get(f"{issuer}/.well-known/openid-configuration", verify=sim.ca).status_code == 404
    refused(exchange(sim, uai["properties"]["clientId"], token), 50166, "invalid_request")
    assert arm.delete(f"/_sim/oidc/issuers/{name}").status_code == 404


def test_a_registered_issuers_key_rolls_on_the_clock(fresh_sim: Sim) -> None:
    """On a simulator of its own: the clock moves."""
    with fresh_sim.http() as arm:
        issuer = arm.post("/_sim/oidc/issuers", json={"name": "ci"}).json()["issuer"]
        first = assertion(arm, issuer, "job:1")
        assert arm.post("/_sim/clock/advance", json={"duration": "31d"}).status_code == 200
    with fresh_sim.http() as arm:  # a bearer token of the new time
        second = assertion(arm, issuer, "job:2")
        jwks_uri = httpx.get(f"{issuer}/.well-known/openid-configuration", verify=fresh_sim.ca).json()["jwks_uri"]
        published = [k["kid"] for k in httpx.get(jwks_uri, verify=fresh_sim.ca).json()["keys"]]
    old, new = (jwt.get_unverified_header(t)["kid"] for t in (first, second))
    assert old != new and {old, new} <= set(published)


# --- an issuer arm-sim does not play, on loopback ---------------------------------------------------------------

class LocalIssuer:
    """A tiny OIDC issuer on 127.0.0.1 over HTTPS with a self-signed certificate (as a kind cluster's API server
    has): discovery and JWKS, counting the requests it answers."""

    def __init__(self, tmp: Path, jwks_uri: str | None = None) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid, self.requests = "local-1", 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the standard library's name
                issuer.requests += 1
                if self.path == "/.well-known/openid-configuration":
                    body: Any = {"issuer": issuer.url, "jwks_uri": jwks_uri or f"{issuer.url}/openid/v1/jwks"}
                elif self.path == "/openid/v1/jwks":
                    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(issuer.key.public_key()))
                    body = {"keys": [jwk | {"kid": issuer.kid, "use": "sig", "alg": "RS256"}]}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert, key = tmp / "issuer.pem", tmp / "issuer.key"
        self._self_signed(cert, key)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _self_signed(self, cert_path: Path, key_path: Path) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = dt.datetime.now(dt.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
                .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))

    def sign(self, subject: str, kid: str | None = None) -> str:
        now = int(time.time())
        return jwt.encode({"iss": self.url, "sub": subject, "aud": "api://AzureADTokenExchange", "iat": now,
                           "nbf": now, "exp": now + 600}, self.key, algorithm="RS256",
                          headers={"kid": kid or self.kid})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def local_issuer(tmp_path: Path) -> Iterator[LocalIssuer]:
    issuer = LocalIssuer(tmp_path)
    yield issuer
    issuer.stop()


def test_an_issuer_on_loopback_is_fetched(sim: Sim, arm: httpx.Client, rg: str, local_issuer: LocalIssuer) -> None:
    uai = identity(arm, rg)
    client_id, subject = uai["properties"]["clientId"], "system:serviceaccount:default:local"
    federate(arm, uai, local_issuer.url, subject)
    r = exchange(sim, client_id, local_issuer.sign(subject))
    assert r.status_code == 200, r.text
    assert claims(r.json()["access_token"])["oid"] == uai["properties"]["principalId"]
    assert local_issuer.requests == 2  # discovery, then the JWKS
    refused(exchange(sim, client_id, local_issuer.sign(subject, kid="not-published")), 7000272)
    local_issuer.stop()  # the issuer down: its metadata cannot be had
    refused(exchange(sim, client_id, local_issuer.sign(subject)), 50166, "invalid_request")


def test_only_loopback_is_ever_fetched(sim: Sim, arm: httpx.Client, rg: str, tmp_path: Path) -> None:
    """A discovery document on loopback whose keys live elsewhere is refused without fetching them (a routable
    address that would hang if it were tried), as is every issuer off loopback."""
    far = LocalIssuer(tmp_path, jwks_uri="https://10.255.255.1/openid/v1/jwks")
    try:
        uai = identity(arm, rg)
        federate(arm, uai, far.url, "ci:far")
        started = time.monotonic()
        refused(exchange(sim, uai["properties"]["clientId"], far.sign("ci:far")), 50166, "invalid_request")
        assert far.requests == 1 and time.monotonic() - started < 2
    finally:
        far.stop()
    remote = f"https://{uuid.uuid4().hex[:8]}.issuer.example"
    uai = identity(arm, rg)
    federate(arm, uai, remote, "ci:remote")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    token = jwt.encode({"iss": remote, "sub": "ci:remote", "aud": "api://AzureADTokenExchange", "iat": now,
                        "nbf": now, "exp": now + 600}, key, algorithm="RS256", headers={"kid": "k"})
    refused(exchange(sim, uai["properties"]["clientId"], token), 50166, "invalid_request")


def test_issuers_under_their_real_names_through_the_proxy(sim: Sim, arm: httpx.Client, rg: str) -> None:
    """The proxy mode tunnels token.actions.githubusercontent.com and `{region}.oic.prod-aks.azure.com` to arm-sim
    (its CA's name constraints permit those names and no others): each issuer's discovery and keys at their real
    URLs, as a verifier that follows the issuer URL finds them."""
    github = "https://token.actions.githubusercontent.com"
    name = unique("aks-")
    r = arm.put(f"{rg}/providers/Microsoft.ContainerService/managedClusters/{name}", params={"api-version":
                                                                                             "2024-09-01"}, json={
        "location": "westeurope", "identity": {"type": "SystemAssigned"}, "properties": {
            "dnsPrefix": name, "oidcIssuerProfile": {"enabled": True},
            "agentPoolProfiles": [{"name": "system", "count": 1, "vmSize": "Standard_D2s_v3"}]}})
    assert r.status_code in (200, 201), r.text
    aks = r.json()["properties"]["oidcIssuerProfile"]["issuerURL"]
    with httpx.Client(proxy=sim.proxy_url, verify=sim.ca, timeout=30) as web:
        for issuer, jwks in ((github, f"{github}/.well-known/jwks"), (aks, f"{aks}openid/v1/jwks")):
            doc = web.get(f"{issuer.rstrip('/')}/.well-known/openid-configuration")
            assert doc.status_code == 200, doc.text
            assert doc.json()["issuer"] == issuer and doc.json()["jwks_uri"] == jwks
            kid = jwt.get_unverified_header(assertion(arm, issuer, "system:serviceaccount:default:sa"))["kid"]
            assert kid in [k["kid"] for k in web.get(jwks).json()["keys"]]
        # an issuer host that is not a cluster's, and every other host, find nothing
        assert web.get(f"https://westeurope.oic.prod-aks.azure.com/{sim.tenant}/{uuid.uuid4()}/.well-known/"
                       "openid-configuration").status_code == 404
        with pytest.raises(httpx.ProxyError):
            web.get("https://issuer.example.com/.well-known/openid-configuration")


def test_discovery_names_keys_at_arm_sims_own_url_whatever_the_host_header(sim: Sim, arm: httpx.Client) -> None:
    """A discovery document's `jwks_uri` is built from the issuer's configured URL (ARM_SIM_PUBLIC_HOST's), never
    from the request's Host header, which would let a caller aim the readers' key fetches anywhere."""
    github = f"https://localhost:{sim.port}/_issuers/token.actions.githubusercontent.com"
    name = unique("hosted-")
    registered = arm.post("/_sim/oidc/issuers", json={"name": name}).json()["issuer"]
    for issuer, jwks in ((github, f"{github}/.well-known/jwks"), (registered, f"{registered}/.well-known/jwks")):
        for host in (None, "attacker.example", f"127.0.0.1:{sim.port}"):
            headers = {"Host": host} if host else {}
            doc = httpx.get(f"{issuer}/.well-known/openid-configuration", verify=sim.ca, headers=headers)
            assert doc.status_code == 200, doc.text
            assert doc.json()["jwks_uri"] == jwks, (host, doc.json())
    listed = {i["issuer"]: i for i in httpx.get(f"{sim.url}/_sim/oidc/issuers", verify=sim.ca, headers={
        **arm.headers, "Host": "attacker.example"}).json()["value"]}
    assert listed[registered]["discoveryUrl"] == f"{registered}/.well-known/openid-configuration"
