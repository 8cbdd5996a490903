"""Workload identity federation on an app registration (issue 20 point 1): `az ad app federated-credential
create/list/show/delete` through the real Azure CLI (Graph's /applications/{id}/federatedIdentityCredentials), then
a GitHub Actions job signs in as the application with the Azure SDK for Python's ClientAssertionCredential and an
assertion from arm-sim's GitHub issuer, and reads the group its service principal has Reader on; another branch is
refused with AADSTS700213, and once the credential is deleted the same job is refused with AADSTS700211.
Graph's rules for the credentials themselves (shapes, errors, the limit of 20, permissions) are checked over REST."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.azcli import AzCli, logged_in, require_az
from tests.simserver import Sim
from tests.test_graph_permissions import app_token, assert_denied, grant
from tests.test_graph_writes import create_app, graph_error

AZ = require_az()
GITHUB = "https://token.actions.githubusercontent.com"
EXCHANGE = "api://AzureADTokenExchange"
GRAPH = "https://graph.microsoft.com/.default"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def az(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> AzCli:
    return logged_in(sim, tmp_path_factory.mktemp("azcfg-appfed"), AZ)


@pytest.fixture(scope="module")
def gh(sim: Sim) -> Iterator[httpx.Client]:
    with sim.http(sim.token(GRAPH)) as client:
        yield client


@pytest.fixture(scope="module")
def rg(sim: Sim, arm: httpx.Client) -> Iterator[str]:
    name = unique("appfed-")
    path = f"/subscriptions/{sim.subscription}/resourcegroups/{name}"
    assert arm.put(path, params={"api-version": "2025-04-01"}, json={"location": "eastus"}).status_code == 201
    yield name
    arm.delete(path, params={"api-version": "2025-04-01"})


def github_token(arm: httpx.Client, subject: str) -> str:
    r = arm.post("/_sim/oidc/token", json={"issuer": GITHUB, "subject": subject})
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def test_az_federates_an_app_registration_and_the_sdk_exchanges_a_github_token(
        sim: Sim, az: AzCli, arm: httpx.Client, rg: str, tmp_path: Path) -> None:
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import ClientAssertionCredential

    app = az.json("ad", "app", "create", "--display-name", unique("gh-deployer-"))
    sp = az.json("ad", "sp", "create", "--id", app["appId"])
    repo = f"contoso/{unique('app-')}"
    main = f"repo:{repo}:ref:refs/heads/main"
    params = tmp_path / "credential.json"
    params.write_text(json.dumps({"name": "github-main", "issuer": GITHUB, "subject": main,
                                  "description": "main branch", "audiences": [EXCHANGE]}))
    made = az.json("ad", "app", "federated-credential", "create", "--id", app["appId"], "--parameters", str(params))
    assert {k: made[k] for k in ("name", "issuer", "subject", "description", "audiences")} == {
        "name": "github-main", "issuer": GITHUB, "subject": main, "description": "main branch",
        "audiences": [EXCHANGE]}
    assert str(uuid.UUID(made["id"])) == made["id"]
    listed = az.json("ad", "app", "federated-credential", "list", "--id", app["appId"])
    assert [(f["id"], f["name"]) for f in listed] == [(made["id"], "github-main")]
    for key in ("github-main", made["id"]):  # az passes a name or an id in the same place
        shown = az.json("ad", "app", "federated-credential", "show", "--id", app["appId"],
                        "--federated-credential-id", key)
        assert shown["id"] == made["id"] and shown["subject"] == main
    params.write_text(json.dumps({"name": "github-main", "issuer": GITHUB, "subject": main,
                                  "description": "deploys main", "audiences": [EXCHANGE]}))
    az.run("ad", "app", "federated-credential", "update", "--id", app["appId"], "--federated-credential-id",
           "github-main", "--parameters", str(params))
    assert az.json("ad", "app", "federated-credential", "show", "--id", app["appId"], "--federated-credential-id",
                   made["id"])["description"] == "deploys main"
    # the same issuer and subject again, under another name: Graph's refusal
    params.write_text(json.dumps({"name": "again", "issuer": GITHUB, "subject": main, "audiences": [EXCHANGE]}))
    again = az.fails("ad", "app", "federated-credential", "create", "--id", app["appId"], "--parameters", str(params))
    assert "The combination of issuer and subject must be unique for the application" in again.stderr, again.stderr

    group_id = f"/subscriptions/{sim.subscription}/resourceGroups/{rg}"
    identity = arm.put(f"{group_id}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/in-the-group",
                       params={"api-version": "2023-01-31"}, json={"location": "eastus"})
    assert identity.status_code == 201, identity.text
    az.json("role", "assignment", "create", "--assignee-object-id", sp["id"], "--assignee-principal-type",
            "ServicePrincipal", "--role", "Reader", "--scope", group_id)

    def job(subject: str) -> Any:
        """A GitHub Actions job: its OIDC token is the client assertion, the client is the app registration."""
        cred = ClientAssertionCredential(sim.tenant, app["appId"], lambda: github_token(arm, subject),
                                         authority=sim.url, disable_instance_discovery=True,
                                         connection_verify=sim.ca)
        return sim.resource_client(cred)

    with job(main) as rm:
        assert [r.name for r in rm.resources.list_by_resource_group(rg)] == ["in-the-group"]
        assert rm.resource_groups.get(rg).id.lower() == group_id.lower()
    with job(f"repo:{repo}:ref:refs/heads/feature") as other, pytest.raises(
            ClientAuthenticationError, match="AADSTS700213"):
        list(other.resources.list_by_resource_group(rg))
    refusal = arm.get("/_sim/events", params={"kind": "federation.refused", "principal": sp["id"]}
                      ).json()["value"][-1]["details"]
    assert (refusal["differingField"], refusal["closestCredential"]) == ("subject", made["id"])
    explained = arm.get("/_sim/explain", params={"identity": app["appId"]})  # as for an identity (issue 20 point 4)
    assert explained.status_code == 200, explained.text
    why = explained.json()
    assert why["identity"]["kind"] == "application" and why["identity"]["principalId"] == sp["id"]
    assert [(c["id"], c["name"], c["subject"]) for c in why["federatedCredentials"]] == [
        (made["id"], "github-main", main)]
    newest = why["exchanges"][0]
    assert (newest["kind"], newest["differingField"], newest["credentialHas"]) == (
        "federation.refused", "subject", main)
    assert newest["presented"]["subject"] == f"repo:{repo}:ref:refs/heads/feature"
    cli = sim.cli("oidc", "explain", app["appId"], "-o", "json")  # the CLI reads the same answer
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)[-1]["credentialHas"] == main

    # the credential deleted: the next exchange is refused at once
    az.run("ad", "app", "federated-credential", "delete", "--id", app["appId"], "--federated-credential-id",
           "github-main")
    assert az.json("ad", "app", "federated-credential", "list", "--id", app["appId"]) == []
    with job(main) as gone, pytest.raises(ClientAuthenticationError, match="AADSTS700211"):
        list(gone.resources.list_by_resource_group(rg))


def test_graph_rules_for_an_applications_federated_credentials(sim: Sim, gh: httpx.Client, arm: httpx.Client,
                                                               app: dict[str, Any]) -> None:
    made = create_app(gh)
    base = f"/v1.0/applications/{made['id']}/federatedIdentityCredentials"
    body = lambda n, **kw: {"name": f"fic-{n:02}", "issuer": GITHUB,  # noqa: E731
                            "subject": f"repo:contoso/app:environment:e{n}", "audiences": [EXCHANGE], **kw}
    r = gh.post(base, json=body(0))
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["@odata.context"].endswith(
        f"/v1.0/$metadata#applications('{made['id']}')/federatedIdentityCredentials/$entity")
    assert set(first) == {"@odata.context", "id", "name", "issuer", "subject", "description", "audiences"}
    assert first["description"] is None

    # refusals in Graph's envelope: a plain-http issuer, two audiences, an unknown property, a missing subject,
    # a name taken, a name changed
    graph_error(gh.post(base, json=body(1, issuer="http://issuer.example")), 400,
                "InvalidFederatedIdentityCredentialValue", "paramName: FederatedIdentityCredential.Issuer")
    graph_error(gh.post(base, json=body(1, audiences=["a", "b"])), 400, "InvalidFederatedIdentityCredentialValue")
    graph_error(gh.post(base, json=body(1, issuer="https://[::1")), 400, "InvalidFederatedIdentityCredentialValue")
    graph_error(gh.patch(f"{base}/{first['id']}", json={"issuer": "https://[::1/x"}), 400,
                "InvalidFederatedIdentityCredentialValue")
    graph_error(gh.post(base, json=body(1, colour="blue")), 400, "Request_BadRequest", "'colour' does not exist")
    graph_error(gh.post(base, json={"name": "x1", "issuer": GITHUB, "audiences": [EXCHANGE]}), 400,
                "Request_BadRequest", "Required property 'subject'")
    graph_error(gh.post(base, json=body(1, name="FIC-00")), 409, "Request_MultipleObjectsWithSameKeyValue")
    graph_error(gh.patch(f"{base}/{first['id']}", json={"name": "renamed"}), 400,
                "InvalidFederatedIdentityCredentialValue")

    # PATCH by the name alternate key, then GET by id and by (name='…'), and through applications(appId='…')
    assert gh.patch(f"{base}(name='fic-00')", json={"description": "prod"}).status_code == 204
    by_app_id = f"/v1.0/applications(appId='{made['appId']}')/federatedIdentityCredentials"
    for path in (f"{base}/{first['id']}", f"{by_app_id}(name='fic-00')", f"{by_app_id}/fic-00"):
        got = gh.get(path)
        assert got.status_code == 200 and got.json()["description"] == "prod", (path, got.text)
    graph_error(gh.get(f"{base}/no-such-credential"), 404, "Request_ResourceNotFound")

    # at most 20 on an application; a PATCH of one of them is not a 21st
    for n in range(1, 20):
        assert gh.post(base, json=body(n)).status_code == 201
    listed = gh.get(base).json()
    assert len(listed["value"]) == 20 and listed["@odata.context"].endswith("/federatedIdentityCredentials")
    graph_error(gh.post(base, json=body(20)), 400, "InvalidFederatedIdentityCredentialValue",
                "Too many Federated Identity Credentials")
    assert gh.patch(f"{base}/fic-19", json={"subject": "repo:contoso/app:environment:e19b"}).status_code == 204
    graph_error(gh.patch(f"{base}/fic-19", json={"subject": "repo:contoso/app:environment:e0"}), 400,
                "InvalidFederatedIdentityCredentialValue", "must be unique")
    assert gh.delete(f"{base}/fic-19").status_code == 204
    assert gh.post(base, json=body(20)).status_code == 201

    # who may: reading needs Application.Read.All or Application.ReadWrite.All (Graph's table for the list: the
    # Directory.* permissions, which read applications themselves, are not among them), writing
    # Application.ReadWrite.All
    with sim.http(app_token(sim, app)) as nobody:
        assert_denied(nobody.get(base))
    with sim.http() as admin:
        directory_only = admin.post("/_sim/applications", json={"displayName": unique("dir-")}).json()
    assert grant(sim, directory_only["appId"], "Directory.Read.All", "Directory.ReadWrite.All").status_code == 200
    with sim.http(app_token(sim, directory_only)) as directory_reader:
        assert directory_reader.get(f"/v1.0/applications/{made['id']}").status_code == 200  # (the app itself: yes)
        assert_denied(directory_reader.get(base))
        assert_denied(directory_reader.get(f"{base}/{first['id']}"))
    assert grant(sim, app["appId"], "Application.Read.All", "Directory.ReadWrite.All").status_code == 200
    with sim.http(app_token(sim, app)) as reader:  # Directory.ReadWrite.All is not among Graph's permissions here
        assert reader.get(base).status_code == 200
        assert_denied(reader.post(base, json=body(21)))
        assert_denied(reader.patch(f"{base}/fic-00", json={"description": "x"}))
        assert_denied(reader.delete(f"{base}/fic-00"))
    assert grant(sim, app["appId"], "Application.ReadWrite.All").status_code == 200
    with sim.http(app_token(sim, app)) as writer:
        assert writer.delete(f"{base}/fic-00").status_code == 204

    # the application deleted: its credentials go with it
    assert gh.delete(f"/v1.0/applications/{made['id']}").status_code == 204
    graph_error(gh.get(base), 404, "Request_ResourceNotFound")
