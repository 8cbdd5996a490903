"""The real Azure CLI deploying templates to arm-sim: `az deployment group validate/create/what-if/show` and
`az deployment operation group list` (az sends its own non-JSON body: reference/clients.md §5)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.azcli import AzCli, az_executable
from tests.simserver import Sim
from tests.test_deployments_api import TEMPLATES, group, resource, rid
from tests.test_deployments_cli import STORAGE

pytestmark = pytest.mark.azcli


@pytest.fixture(scope="module")
def az(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzCli]:
    executable = az_executable()
    if executable is None:
        pytest.skip("Azure CLI not found: set ARM_SIM_AZ or install it in /work/main/.venv-az")
    cli = AzCli(sim, tmp_path_factory.mktemp("azcfg"), executable=executable)
    cli.configure()
    cli.login()
    yield cli


def test_the_azure_cli_deploys_validates_and_explains(sim: Sim, az: AzCli, rg_name: str) -> None:
    group(sim, rg_name)
    storage = str(TEMPLATES / "storage.json")
    az.run("deployment", "group", "validate", "-g", rg_name, "--template-file", storage,
           "--parameters", "prefix=azc", "count=1")
    out = az.json("deployment", "group", "create", "-g", rg_name, "-n", "azdep", "--template-file", storage,
                  "--parameters", "prefix=azc", "count=1")
    assert out["properties"]["provisioningState"] == "Succeeded"
    name = out["properties"]["outputs"]["names"]["value"][0]
    assert resource(sim, rid(sim, rg_name, STORAGE, name)) is not None
    shown = az.json("deployment", "group", "show", "-g", rg_name, "-n", "azdep")
    assert shown["properties"]["outputs"]["tls"]["value"] == "TLS1_2"
    ops = az.json("deployment", "operation", "group", "list", "-g", rg_name, "-n", "azdep")
    assert [o["properties"]["statusCode"] for o in ops] == ["Created"]
    plan = az.json("deployment", "group", "what-if", "-g", rg_name, "--template-file", storage,
                   "--parameters", "prefix=azc", "count=1", "--no-pretty-print")
    assert {c["changeType"] for c in plan["changes"]} == {"NoChange"}
    failed = az.fails("deployment", "group", "create", "-g", rg_name, "-n", "azfail", "--template-file",
                      str(TEMPLATES / "failing.json"), "--parameters", "prefix=azf")
    assert "PrincipalNotFound" in failed.stderr
