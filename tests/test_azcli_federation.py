"""Workload identity federation through the real Azure CLI (issue 20): the deployer makes an identity, its federated
credential for a GitHub Actions subject and a Reader role on a group with `az`; a workload then signs in as the
identity with `az login --service-principal --federated-token` and reads the group; another branch is refused."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.azcli import AzCli, logged_in, require_az
from tests.simserver import Sim

AZ = require_az()
GITHUB = "https://token.actions.githubusercontent.com"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def az(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> AzCli:
    return logged_in(sim, tmp_path_factory.mktemp("azcfg-fed"), AZ)


@pytest.fixture(scope="module")
def rg(sim: Sim, arm: httpx.Client) -> Iterator[str]:
    name = unique("azfed-")
    path = f"/subscriptions/{sim.subscription}/resourcegroups/{name}"
    assert arm.put(path, params={"api-version": "2025-04-01"}, json={"location": "eastus"}).status_code == 201
    yield name
    arm.delete(path, params={"api-version": "2025-04-01"})


def test_az_login_with_a_federated_token(sim: Sim, az: AzCli, arm: httpx.Client, rg: str, tmp_path: Path) -> None:
    ident = az.json("identity", "create", "-g", rg, "-n", unique("gh-"))
    repo = f"contoso/{unique('app-')}"
    main = f"repo:{repo}:ref:refs/heads/main"
    fic = az.json("identity", "federated-credential", "create", "-g", rg, "--identity-name", ident["name"],
                  "-n", "github-main", "--issuer", GITHUB, "--subject", main, "--audiences", "api://AzureADTokenExchange")
    assert fic["subject"] == main and fic["issuer"] == GITHUB
    group_id = f"/subscriptions/{sim.subscription}/resourceGroups/{rg}"
    az.json("role", "assignment", "create", "--assignee-object-id", ident["principalId"],
            "--assignee-principal-type", "ServicePrincipal", "--role", "Reader", "--scope", group_id)

    def token(subject: str) -> str:
        r = arm.post("/_sim/oidc/token", json={"issuer": GITHUB, "subject": subject})
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    job = AzCli(sim, tmp_path / "job", executable=AZ)
    job.configure()
    job.json("login", "--service-principal", "-u", ident["clientId"], "-t", sim.tenant, "--federated-token",
             token(main), "--allow-no-subscriptions")
    assert job.json("group", "show", "-n", rg, "--subscription", sim.subscription)["id"].lower() == group_id.lower()
    other = AzCli(sim, tmp_path / "other", executable=AZ)
    other.configure()
    err = other.fails("login", "--service-principal", "-u", ident["clientId"], "-t", sim.tenant, "--federated-token",
                      token(f"repo:{repo}:ref:refs/heads/feature"), "--allow-no-subscriptions")
    assert "AADSTS700213" in err.stderr + err.stdout
