"""A site's App Service identity endpoint through azure-identity's ManagedIdentityCredential (IDENTITY_ENDPOINT +
IDENTITY_HEADER, MSAL's App Service protocol 2019-08-01), raw HTTP for the protocol details, `arm-sim env/exec
--site`. Sites are created through ARM's REST API, as azure-mgmt-web would."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CredentialUnavailableError
from azure.mgmt.msi import ManagedServiceIdentityClient

from tests.simserver import Sim
from tests.test_imds import VAULT, assert_mi_claims, endpoint, events, mi_token, system_client_id, verify
from tests.webspec import plan

WEB_API = "2024-04-01"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


# Clients are closed when the module ends: an idle TLS keep-alive connection holds the server's shutdown up.
@pytest.fixture(scope="module")
def credential(sim: Sim) -> Iterator[Any]:
    with sim.credential() as cred:
        yield cred


@pytest.fixture(scope="module")
def msi(sim: Sim, credential: Any) -> Iterator[ManagedServiceIdentityClient]:
    with ManagedServiceIdentityClient(credential, sim.subscription, **sim.mgmt_kwargs()) as client:
        yield client


@pytest.fixture(scope="module")
def rg(sim: Sim, credential: Any) -> str:
    name = unique("rg-appsvc-")
    with sim.resource_client(credential) as resources:
        resources.resource_groups.create_or_update(name, {"location": "westeurope"})
    return name


@pytest.fixture
def inside(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`inside(endpoint, header)`: run the rest of the test as code inside the site."""
    for name in ("AZURE_POD_IDENTITY_AUTHORITY_HOST", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT",
                 "MSI_SECRET"):
        monkeypatch.delenv(name, raising=False)

    def enter(url: str, header: str) -> None:
        monkeypatch.setenv("IDENTITY_ENDPOINT", url)
        monkeypatch.setenv("IDENTITY_HEADER", header)

    yield enter


class Web:
    """Sites through ARM's REST API (what azure-mgmt-web sends)."""

    def __init__(self, sim: Sim, arm: httpx.Client, rg: str) -> None:
        self.sim, self.arm, self.rg = sim, arm, rg

    def path(self, name: str) -> str:
        return f"/subscriptions/{self.sim.subscription}/resourceGroups/{self.rg}/providers/Microsoft.Web/sites/{name}"

    def create(self, name: str, identity: dict[str, Any] | None = None) -> dict[str, Any]:
        group = f"/subscriptions/{self.sim.subscription}/resourceGroups/{self.rg}"
        body: dict[str, Any] = {"location": "westeurope", "kind": "app",
                                "properties": {"serverFarmId": plan(self.arm, group)}}
        if identity:
            body["identity"] = identity
        r = self.arm.put(self.path(name), params={"api-version": WEB_API}, json=body)
        assert r.status_code in (200, 201), r.text
        return r.json()

    def delete(self, name: str) -> None:
        r = self.arm.delete(self.path(name), params={"api-version": WEB_API})
        assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def web(sim: Sim, arm: httpx.Client, rg: str) -> Web:
    return Web(sim, arm, rg)


def site_token(ep: dict[str, Any], header: str | None = None, version: str = "2019-08-01",
               **params: str) -> httpx.Response:
    headers = {"X-IDENTITY-HEADER": ep["header"] if header is None else header} if version == "2019-08-01" else {
        "secret": ep["header"] if header is None else header}
    return httpx.get(ep["endpoint"], params={"api-version": version, "resource": VAULT, **params}, headers=headers)


def test_site_tokens(sim: Sim, web: Web, msi: ManagedServiceIdentityClient, rg: str, inside: Any) -> None:
    uai = msi.user_assigned_identities.create_or_update(rg, unique("uai-"), {"location": "westeurope"})
    site = web.create(unique("app-"), {"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": {uai.id: {}}})
    principal = site["identity"]["principalId"]
    ep = endpoint(sim, site["id"])
    assert ep["kind"] == "site" and re.fullmatch(rf"{sim.imds_url}/sites/[0-9a-f]+/msi/token", ep["endpoint"])
    assert ep["header"]
    inside(ep["endpoint"], ep["header"])

    claims = verify(sim, mi_token(), VAULT)
    assert_mi_claims(sim, claims, principal, system_client_id(sim, site["id"]), site["id"])
    for kwargs in ({"client_id": uai.client_id}, {"identity_config": {"object_id": uai.principal_id}},
                   {"identity_config": {"resource_id": uai.id}}):
        assert_mi_claims(sim, verify(sim, mi_token(**kwargs), VAULT), uai.principal_id, uai.client_id, uai.id)

    # App Service's answer: expires_on in epoch seconds, no expires_in
    r = site_token(ep)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert body["expires_on"].isdigit() and body["resource"] == VAULT and body["token_type"] == "Bearer"
    r = site_token(ep, principal_id=uai.principal_id)  # object_id's documented alias
    assert r.status_code == 200 and r.json()["client_id"] == uai.client_id
    # the 2017-09-01 protocol: header `secret`, `clientid`, expires_on as a date string
    r = site_token(ep, version="2017-09-01", clientid=uai.client_id)
    assert r.status_code == 200, r.text
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d [AP]M \+00:00", r.json()["expires_on"])
    assert verify(sim, r.json()["access_token"], VAULT)["oid"] == uai.principal_id

    seen = [e for e in events(sim, principal=principal) if e["kind"] == "token.requested"]
    assert seen and seen[0]["details"]["via"] == "appService" and seen[0]["subject"] == site["id"]


def test_site_refusals(sim: Sim, web: Web, inside: Any) -> None:
    name = unique("app-")
    site = web.create(name, {"type": "SystemAssigned"})
    ep = endpoint(sim, site["id"])

    def refused(r: httpx.Response, status: int, message: str | None = None) -> str:
        assert r.status_code == status, r.text
        body = r.json()
        assert set(body) == {"statusCode", "message", "correlationId"} and body["statusCode"] == status
        assert message is None or body["message"] == message
        return body["message"]

    assert "X-IDENTITY-HEADER" in refused(httpx.get(ep["endpoint"], params={
        "api-version": "2019-08-01", "resource": VAULT}), 400)
    refused(site_token(ep, header="wrong"), 401)
    refused(site_token(ep, version="2017-09-01", header="wrong"), 401)
    refused(site_token(ep, client_id=str(uuid.uuid4())), 400, "Unable to load the proper Managed Identity.")
    refused(site_token(ep, version="2020-01-01"), 400)
    refused(site_token(ep, client_id="a", mi_res_id="b"), 400)
    assert [e for e in events(sim, kind="token.refused", resource=site["id"])
            if e["details"]["reason"] == "wrong identity header"]

    # through the client: a wrong header fails at once (4xx: no retries)
    inside(ep["endpoint"], "wrong")
    with pytest.raises((ClientAuthenticationError, CredentialUnavailableError)):
        mi_token()

    # a site without identity, then a deleted site
    bare = web.create(unique("app-"))
    refused(site_token(endpoint(sim, bare["id"])), 400, "Unable to load the proper Managed Identity.")
    assert site_token(ep).status_code == 200
    web.delete(name)
    refused(site_token(ep), 400, "Unable to load the proper Managed Identity.")


def test_env_and_exec_site(sim: Sim, web: Web, rg: str) -> None:
    name = unique("app-")
    site = web.create(name, {"type": "SystemAssigned"})
    ep = endpoint(sim, site["id"])
    env = sim.env()
    out = subprocess.run([sys.executable, "-m", "arm_sim", "env", "--site", name, "--format", "json"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    values = json.loads(out.stdout)
    assert (values["IDENTITY_ENDPOINT"], values["IDENTITY_HEADER"]) == (ep["endpoint"], ep["header"])
    assert "AZURE_POD_IDENTITY_AUTHORITY_HOST" not in values

    script = ("from azure.identity import ManagedIdentityCredential as M; "
              "print(M().get_token('https://vault.azure.net/.default').token)")
    env["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = "http://127.0.0.1:9/not-inside-a-vm"  # must not win over the site
    out = subprocess.run([sys.executable, "-m", "arm_sim", "exec", "--site", name, "-g", rg, "--", sys.executable,
                          "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert verify(sim, out.stdout.strip(), VAULT)["oid"] == site["identity"]["principalId"]
    # the command's exit status is exec's
    out = subprocess.run([sys.executable, "-m", "arm_sim", "exec", "--site", name, "--", sys.executable, "-c",
                          "raise SystemExit(3)"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 3, out.stderr
