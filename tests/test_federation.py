"""Workload identity federation (issue 20): an external issuer's assertion exchanged for a user-assigned identity's
own token, every refusal with Entra's AADSTS code, the issuers arm-sim plays (GitHub Actions, AKS clusters with an
OIDC issuer), and workloads through azure-identity's WorkloadIdentityCredential and `arm-sim exec
--workload-identity`.

Clients: raw HTTP token requests (httpx) with assertions arm-sim's issuers sign or the test signs itself; the Azure
SDK for Python (WorkloadIdentityCredential, DefaultAzureCredential, SecretClient) for the Key Vault read."""

from __future__ import annotations

import re
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.simserver import Sim

GITHUB = "https://token.actions.githubusercontent.com"
EXCHANGE = "api://AzureADTokenExchange"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MSI_API = "2023-01-31"
AKS_API = "2024-09-01"
KV_API = "2023-07-01"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def rg(sim: Sim, arm: httpx.Client) -> str:
    name = unique("rg-fed-")
    r = arm.put(f"/subscriptions/{sim.subscription}/resourcegroups/{name}", params={"api-version": "2025-04-01"},
                json={"location": "eastus"})
    assert r.status_code == 201, r.text
    return f"/subscriptions/{sim.subscription}/resourceGroups/{name}"


def identity(arm: httpx.Client, rg: str) -> dict[str, Any]:
    r = arm.put(f"{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{unique('id-')}",
                params={"api-version": MSI_API}, json={"location": "eastus"})
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def federate(arm: httpx.Client, uai: dict[str, Any], issuer: str, subject: str, name: str | None = None,
             audience: str = EXCHANGE) -> str:
    fic_id = f"{uai['id']}/federatedIdentityCredentials/{name or unique('fic-')}"
    r = arm.put(fic_id, params={"api-version": MSI_API},
                json={"properties": {"issuer": issuer, "subject": subject, "audiences": [audience]}})
    assert r.status_code in (200, 201), r.text
    return fic_id


def assertion(arm: httpx.Client, issuer: str, subject: str, **extra: Any) -> str:
    r = arm.post("/_sim/oidc/token", json={"issuer": issuer, "subject": subject, **extra})
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def exchange(sim: Sim, client_id: str, token: str, v1: bool = False) -> httpx.Response:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": token}
    if v1:
        form["resource"] = "https://management.azure.com/"
        url = f"{sim.url}/{sim.tenant}/oauth2/token"
    else:
        form["scope"] = "https://management.azure.com/.default"
        url = f"{sim.url}/{sim.tenant}/oauth2/v2.0/token"
    return httpx.post(url, data=form, verify=sim.ca, timeout=30)


def refused(r: httpx.Response, code: int, error: str = "invalid_client") -> str:
    assert r.status_code == (400 if error == "invalid_request" else 401), r.text
    body = r.json()
    assert body["error"] == error and body["error_codes"] == [code], body
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    return str(body["error_description"])


def claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def test_github_subject_exchanges_for_the_identitys_own_token(sim: Sim, arm: httpx.Client, rg: str) -> None:
    uai = identity(arm, rg)
    props = uai["properties"]
    main = f"repo:contoso/{unique('app-')}:ref:refs/heads/main"
    federate(arm, uai, GITHUB, main)
    token = assertion(arm, GITHUB, main)
    assert claims(token)["ref"] == "refs/heads/main" and claims(token)["aud"] == EXCHANGE
    for v1 in (False, True):
        r = exchange(sim, props["clientId"], token, v1)
        assert r.status_code == 200, r.text
        got = claims(r.json()["access_token"])
        assert (got["oid"], got["appid"], got["tid"]) == (props["principalId"], props["clientId"], props["tenantId"])
        assert got["iss"] == f"https://sts.windows.net/{sim.tenant}/" and got["xms_mirid"].endswith(uai["name"])
    # the token it got is one ARM accepts, as the identity (which has no role: 403, not 401)
    with sim.http(exchange(sim, props["clientId"], token).json()["access_token"]) as as_identity:
        assert as_identity.get(rg, params={"api-version": "2025-04-01"}).status_code == 403
    other = main.replace("refs/heads/main", "refs/heads/feature")
    text = refused(exchange(sim, props["clientId"], assertion(arm, GITHUB, other)), 700213)
    assert f"presented assertion subject '{other}'" in text
    kinds = [e["kind"] for e in arm.get("/_sim/events", params={"principal": props["principalId"],
                                                                 "kind": "federation.*"}).json()["value"]]
    assert "federation.exchanged" in kinds and "federation.refused" in kinds
    refusal = [e for e in arm.get("/_sim/events", params={"principal": props["principalId"], "kind":
                                                          "federation.refused"}).json()["value"]][-1]["details"]
    assert refusal["reason"] == "AADSTS700213" and refusal["differingField"] == "subject"


def test_every_refusal_has_entras_code(sim: Sim, arm: httpx.Client, rg: str) -> None:
    uai = identity(arm, rg)
    client_id = uai["properties"]["clientId"]
    subject = f"repo:contoso/{unique('r-')}:environment:prod"
    federate(arm, uai, GITHUB, subject)
    stranger = "https://issuer.example.com"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())

    def signed(iss: str, sub: str = subject, kid: str = "k1", exp: int = now + 600) -> str:
        return jwt.encode({"iss": iss, "sub": sub, "aud": EXCHANGE, "iat": now, "nbf": now, "exp": exp}, key,
                          algorithm="RS256", headers={"kid": kid})
    # no credential for the issuer
    assert "assertion issuer 'https://issuer.example.com'" in refused(exchange(sim, client_id, signed(stranger)),
                                                                     700211)
    # audience: Entra's text, as a captured answer has it (domain/federation.py)
    assert refused(exchange(sim, client_id, assertion(arm, GITHUB, subject, audience="api://somewhere-else")),
                   700212).startswith(
        "AADSTS700212: No matching federated identity record found for presented assertion audience "
        "'api://somewhere-else'. Please check your federated identity credential Subject, Audience and Issuer "
        "against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation")
    # an issuer arm-sim does not play is never fetched: Entra's unreachable-metadata error
    federate(arm, uai, stranger, subject)
    refused(exchange(sim, client_id, signed(stranger)), 50166, "invalid_request")
    # a key the issuer does not publish, and a forged signature under a published kid
    assert "could not be found in the metadata" in refused(exchange(sim, client_id, signed(GITHUB)), 7000272)
    real_kid = jwt.get_unverified_header(assertion(arm, GITHUB, subject))["kid"]
    assert refused(exchange(sim, client_id, signed(GITHUB, kid=real_kid)), 700027).startswith(
        "AADSTS700027: Client assertion contains an invalid signature. [Reason - The provided signature value did "
        "not match the expected signature value.]")
    # a malformed assertion
    assert exchange(sim, client_id, "not-a-jwt").status_code in (400, 401)


def test_an_expired_assertion_is_refused_on_the_simulated_clock(fresh_sim: Sim) -> None:
    """On a simulator of its own: moving the clock must not leak into other tests' tokens."""
    with fresh_sim.http() as arm:
        r = arm.put(f"/subscriptions/{fresh_sim.subscription}/resourcegroups/rg-exp",
                    params={"api-version": "2025-04-01"}, json={"location": "eastus"})
        assert r.status_code == 201, r.text
        uai = identity(arm, f"/subscriptions/{fresh_sim.subscription}/resourceGroups/rg-exp")
        subject = "repo:contoso/app:pull_request"
        federate(arm, uai, GITHUB, subject)
        short = assertion(arm, GITHUB, subject, lifetime=60)
        assert exchange(fresh_sim, uai["properties"]["clientId"], short).status_code == 200
        assert arm.post("/_sim/clock/advance", json={"duration": "2m"}).status_code == 200
    text = refused(exchange(fresh_sim, uai["properties"]["clientId"], short), 700024)
    assert ("Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/"
            "active-directory-certificate-credentials .\r\nTrace ID: ") in text
    assert re.search(r"Current time: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z, assertion valid from "
                     r"\S+\.0000000Z, expiry time of assertion \S+\.0000000Z\.", text), text


def test_aks_issuer_is_served_and_ends_with_its_cluster(sim: Sim, arm: httpx.Client, rg: str) -> None:
    name = unique("aks-")
    cluster_id = f"{rg}/providers/Microsoft.ContainerService/managedClusters/{name}"
    r = arm.put(cluster_id, params={"api-version": AKS_API}, json={
        "location": "eastus", "identity": {"type": "SystemAssigned"}, "properties": {
            "dnsPrefix": name, "oidcIssuerProfile": {"enabled": True}, "securityProfile": {
                "workloadIdentity": {"enabled": True}},
            "agentPoolProfiles": [{"name": "system", "count": 1, "vmSize": "Standard_D2s_v3"}]}})
    assert r.status_code in (200, 201), r.text
    issuer = r.json()["properties"]["oidcIssuerProfile"]["issuerURL"]
    listed = arm.get("/_sim/oidc/issuers").json()["value"]
    served = next(i for i in listed if i["issuer"] == issuer)
    doc = httpx.get(served["discoveryUrl"], verify=sim.ca).json()
    assert doc["issuer"] == issuer and doc["jwks_uri"].endswith("/openid/v1/jwks")
    subject = "system:serviceaccount:default:workload-sa"
    token = assertion(arm, issuer, subject)
    assert claims(token)["aud"] == [EXCHANGE]
    kids = [k["kid"] for k in httpx.get(doc["jwks_uri"], verify=sim.ca).json()["keys"]]
    assert jwt.get_unverified_header(token)["kid"] in kids
    uai = identity(arm, rg)
    client_id = uai["properties"]["clientId"]
    fic = federate(arm, uai, issuer, subject)
    assert exchange(sim, client_id, token).status_code == 200
    # deleting the credential: the next exchange fails at once
    assert arm.delete(fic, params={"api-version": MSI_API}).status_code == 200
    refused(exchange(sim, client_id, token), 700211)
    federate(arm, uai, issuer, subject)
    assert exchange(sim, client_id, token).status_code == 200
    # deleting the cluster ends its issuer: an old token no longer verifies, and nothing is served
    assert arm.delete(cluster_id, params={"api-version": AKS_API}).status_code in (200, 202)
    refused(exchange(sim, client_id, token), 50166, "invalid_request")
    assert httpx.get(served["discoveryUrl"], verify=sim.ca).status_code == 404
    # deleting the identity: its client id is gone
    assert arm.delete(uai["id"], params={"api-version": MSI_API}).status_code == 200
    assert exchange(sim, client_id, token).json()["error_codes"] == [700016]


def _vault_with_secret(sim: Sim, arm: httpx.Client, rg: str, reader: str) -> str:
    deployer = claims(sim.token())["oid"]
    r = arm.put(f"{rg}/providers/Microsoft.KeyVault/vaults/{unique('kv')}", params={"api-version": KV_API}, json={
        "location": "eastus", "properties": {"tenantId": sim.tenant, "sku": {"family": "A", "name": "standard"},
                                             "accessPolicies": [
            {"tenantId": sim.tenant, "objectId": deployer, "permissions": {"secrets": ["all"]}},
            {"tenantId": sim.tenant, "objectId": reader, "permissions": {"secrets": ["get"]}}]}})
    assert r.status_code in (200, 201), r.text
    uri = str(r.json()["properties"]["vaultUri"])
    from azure.keyvault.secrets import SecretClient
    with sim.credential() as cred:
        SecretClient(uri, cred, verify_challenge_resource=False, connection_verify=sim.ca).set_secret("db", "s3cr3t")
    return uri


def test_workload_identity_credential_reads_a_secret(sim: Sim, arm: httpx.Client, rg: str, tmp_path: Path) -> None:
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import WorkloadIdentityCredential
    from azure.keyvault.secrets import SecretClient

    uai = identity(arm, rg)
    props = uai["properties"]
    subject = f"repo:contoso/{unique('svc-')}:ref:refs/heads/main"
    fic = federate(arm, uai, GITHUB, subject)
    uri = _vault_with_secret(sim, arm, rg, props["principalId"])
    token_file = tmp_path / "token"
    token_file.write_text(assertion(arm, GITHUB, subject))
    cred = WorkloadIdentityCredential(tenant_id=sim.tenant, client_id=props["clientId"],
                                      token_file_path=str(token_file), authority=sim.url,
                                      disable_instance_discovery=True, connection_verify=sim.ca)
    with SecretClient(uri, cred, verify_challenge_resource=False, connection_verify=sim.ca) as secrets:
        assert secrets.get_secret("db").value == "s3cr3t"
    # the credential deleted: a new workload (no cached token) is refused with Entra's error
    assert arm.delete(fic, params={"api-version": MSI_API}).status_code == 200
    fresh = WorkloadIdentityCredential(tenant_id=sim.tenant, client_id=props["clientId"],
                                       token_file_path=str(token_file), authority=sim.url,
                                       disable_instance_discovery=True, connection_verify=sim.ca)
    with pytest.raises(ClientAuthenticationError, match="AADSTS700211"):
        fresh.get_token("https://vault.azure.net/.default")


def test_exec_workload_identity_runs_default_azure_credential(sim: Sim, arm: httpx.Client, rg: str,
                                                              tmp_path: Path) -> None:
    uai = identity(arm, rg)
    subject = "system:serviceaccount:apps:reader"
    issuer = GITHUB  # any issuer arm-sim plays; the credential names it, so exec finds it
    federate(arm, uai, issuer, subject)
    uri = _vault_with_secret(sim, arm, rg, uai["properties"]["principalId"])
    script = tmp_path / "read.py"
    script.write_text(textwrap.dedent(f"""
        import os
        from azure.identity import DefaultAzureCredential
        from azure.keyvault.secrets import SecretClient
        assert os.environ["AZURE_CLIENT_ID"] == {uai['properties']['clientId']!r}
        assert "AZURE_CLIENT_SECRET" not in os.environ
        cred = DefaultAzureCredential(disable_instance_discovery=True,
                                      connection_verify=os.environ["REQUESTS_CA_BUNDLE"])
        client = SecretClient({uri!r}, cred, verify_challenge_resource=False,
                              connection_verify=os.environ["REQUESTS_CA_BUNDLE"])
        print(client.get_secret("db").value)
    """))
    run = sim.cli("exec", "--workload-identity", uai["name"], "--subject", subject, "--", sys.executable, str(script))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "s3cr3t"
    printed = sim.cli("oidc", "token", "--issuer", GITHUB, "--subject", subject)
    assert printed.returncode == 0, printed.stderr
    assert claims(printed.stdout.strip())["sub"] == subject
