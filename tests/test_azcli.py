"""The real Azure CLI (2.91.0) against arm-sim: cloud registration, SP login, resource groups, generic resources.

Configured exactly as /work/shared/reference/clients.md §5 says. az is slow to start, so the module logs in once
and keeps the number of az invocations small; server-side state is checked over REST with `sim.http()`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.azcli import CLOUD_NAME, AzCli, az_executable
from tests.simserver import Sim

AZ = az_executable()
if AZ is None:
    pytest.skip("Azure CLI not found: set ARM_SIM_AZ, install it in /work/main/.venv-az or put az on PATH",
                allow_module_level=True)

pytestmark = pytest.mark.azcli

RG_API = "2024-11-01"
STORAGE = "Microsoft.Storage/storageAccounts"
STORAGE_API = "2023-01-01"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def az(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzCli]:
    """One logged-in az configuration (cloud ArmSimCloud) for the whole module."""
    cli = AzCli(sim, tmp_path_factory.mktemp("azcfg"), executable=AZ or "az")
    cli.configure()
    cli.login()
    yield cli


@pytest.fixture(scope="module")
def created_group(az: AzCli) -> dict[str, Any]:
    """`az group create` output of a group the lifecycle test goes on to show, list and delete."""
    name = unique("azrg-")
    return {"name": name, "output": az.json("group", "create", "-n", name, "-l", "eastus", "--tags", "a=b")}


def rest_get(sim: Sim, path: str, api_version: str) -> tuple[int, Any]:
    with sim.http() as client:
        r = client.get(path, params={"api-version": api_version})
    return r.status_code, (r.json() if r.content else None)


# --- 1. cloud registration + service-principal login ----------------------------------------------------------

def test_login_reports_the_simulator_subscription(az: AzCli, sim: Sim) -> None:
    subs = az.login_output
    assert [s["id"] for s in subs] == [sim.subscription]
    assert subs[0]["tenantId"] == sim.tenant
    assert subs[0]["cloudName"] == CLOUD_NAME
    assert subs[0]["user"] == {"name": sim.client_id, "type": "servicePrincipal"}

    account = az.json("account", "show")
    assert account["id"] == sim.subscription
    assert account["tenantId"] == sim.tenant
    assert account["homeTenantId"] == sim.tenant
    assert account["environmentName"] == CLOUD_NAME
    assert account["state"] == "Enabled"
    assert account["isDefault"] is True
    assert account["user"] == {"name": sim.client_id, "type": "servicePrincipal"}


# --- 2. resource groups -----------------------------------------------------------------------------------------

def test_group_create_output(created_group: dict[str, Any], sim: Sim) -> None:
    out, name = created_group["output"], created_group["name"]
    assert out["id"] == f"/subscriptions/{sim.subscription}/resourceGroups/{name}"
    assert out["name"] == name
    assert out["type"] == "Microsoft.Resources/resourceGroups"
    assert out["location"] == "eastus"
    assert out["tags"] == {"a": "b"}
    # ARM answers the PUT with a terminal state; az prints the PUT response body as is.
    assert out["properties"]["provisioningState"] == "Succeeded"


def test_group_lifecycle(az: AzCli, sim: Sim, created_group: dict[str, Any]) -> None:
    name = created_group["name"]
    rg_path = f"/subscriptions/{sim.subscription}/resourcegroups/{name}"
    status, body = rest_get(sim, rg_path, RG_API)
    assert status == 200, body
    assert body["tags"] == {"a": "b"} and body["location"] == "eastus"

    shown = az.json("group", "show", "-n", name)
    assert shown["id"] == f"/subscriptions/{sim.subscription}/resourceGroups/{name}"
    assert shown["tags"] == {"a": "b"}
    assert shown["location"] == "eastus"
    assert shown["properties"]["provisioningState"] == "Succeeded"

    listed = {g["name"]: g for g in az.json("group", "list")}
    assert name in listed
    assert listed[name]["tags"] == {"a": "b"}

    assert az.json("group", "exists", "-n", name) is True

    assert az.json("group", "delete", "-n", name, "--yes") is None
    assert az.json("group", "exists", "-n", name) is False

    status, body = rest_get(sim, rg_path, RG_API)
    assert status == 404
    assert body["error"]["code"] == "ResourceGroupNotFound"


def test_group_delete_of_missing_group_reports_not_found(az: AzCli) -> None:
    # Real ARM answers DELETE on a missing group with 404 ResourceGroupNotFound; the SDK az uses
    # (azure-mgmt-resource 24) accepts only 200/202 for that DELETE.
    err = az.fails("group", "delete", "-n", unique("azrg-missing-"), "--yes")
    assert "ResourceGroupNotFound" in err.stderr, err
    assert err.returncode == 3, err  # az's exit code for ResourceNotFoundError


# --- 3. generic resources ------------------------------------------------------------------------------------

@pytest.fixture
def rest_group(sim: Sim) -> Iterator[str]:
    """A resource group made over REST (saves an az call), deleted afterwards."""
    name = unique("azres-")
    path = f"/subscriptions/{sim.subscription}/resourcegroups/{name}"
    with sim.http() as client:
        r = client.put(path, params={"api-version": RG_API}, json={"location": "eastus"})
        assert r.status_code in (200, 201), r.text
    yield name
    with sim.http() as client:
        client.delete(path, params={"api-version": RG_API})


def test_resource_lifecycle(az: AzCli, sim: Sim, rest_group: str) -> None:
    rg, name = rest_group, unique("azst")
    res_id = f"/subscriptions/{sim.subscription}/resourceGroups/{rg}/providers/{STORAGE}/{name}"
    target = ["-g", rg, "-n", name, "--resource-type", STORAGE, "--api-version", STORAGE_API]

    created = az.json("resource", "create", *target, "--properties", '{"foo":"bar"}', "-l", "eastus")
    assert created["id"] == res_id
    assert created["name"] == name
    assert created["type"] == STORAGE
    assert created["location"] == "eastus"
    assert created["properties"]["foo"] == "bar"
    assert created["properties"]["provisioningState"] == "Succeeded"

    status, body = rest_get(sim, res_id, STORAGE_API)
    assert status == 200, body
    assert body["properties"]["foo"] == "bar"

    shown = az.json("resource", "show", *target)
    assert shown["id"] == res_id
    assert shown["resourceGroup"] == rg
    assert shown["properties"]["foo"] == "bar"

    listed = az.json("resource", "list", "-g", rg)
    assert [(r["id"], r["type"], r["location"]) for r in listed] == [(res_id, STORAGE, "eastus")]

    tagged = az.json("resource", "tag", *target, "--tags", "env=test", "team=x")
    assert tagged["tags"] == {"env": "test", "team": "x"}
    status, body = rest_get(sim, res_id, STORAGE_API)
    assert body["tags"] == {"env": "test", "team": "x"}
    assert body["properties"]["foo"] == "bar"  # tag is a full PUT: properties must survive it

    az.run("resource", "delete", *target)
    status, body = rest_get(sim, res_id, STORAGE_API)
    assert status == 404
    assert body["error"]["code"] == "ResourceNotFound"

    err = az.fails("resource", "show", *target)
    assert "ResourceNotFound" in err.stderr, err
    assert err.returncode == 3, err


def test_resource_create_without_api_version_uses_provider_metadata(az: AzCli, sim: Sim, rest_group: str) -> None:
    # Without --api-version az first GETs /subscriptions/S/providers/Microsoft.Storage and picks the newest
    # non-preview apiVersion of storageAccounts; it then PUTs …/providers/Microsoft.Storage//storageAccounts/x.
    rg, name = rest_group, unique("azst")
    res_id = f"/subscriptions/{sim.subscription}/resourceGroups/{rg}/providers/{STORAGE}/{name}"
    created = az.json("resource", "create", "-g", rg, "-n", name, "--resource-type", STORAGE,
                      "--properties", '{"foo":"bar"}', "-l", "eastus")
    assert created["id"] == res_id
    assert created["properties"]["foo"] == "bar"

    with sim.http() as client:
        provider = client.get(f"/subscriptions/{sim.subscription}/providers/Microsoft.Storage",
                              params={"api-version": RG_API}).json()
    types = {t["resourceType"].lower(): t for t in provider["resourceTypes"]}
    assert types["storageaccounts"]["apiVersions"], provider
    status, body = rest_get(sim, res_id, STORAGE_API)
    assert status == 200, body
    assert body["name"] == name


# --- 4. cloud registration through endpoint discovery ---------------------------------------------------------

def test_cloud_register_with_endpoint_discovery(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> None:
    cli = AzCli(sim, tmp_path_factory.mktemp("azcfg-discovered"), executable=AZ or "az")
    registered = cli.register_discovered_cloud("ArmSimDiscovered")
    # az fetches the single-object metadata document from the URL it was given (hence the double slash).
    assert re.search(r'"GET //metadata/endpoints\?api-version=2022-09-01 HTTP/1\.1" 200 ', registered.stderr), \
        registered.stderr[-3000:]

    cloud = cli.json("cloud", "show", "-n", "ArmSimDiscovered")
    endpoints = cloud["endpoints"]
    assert cloud["name"] == "ArmSimDiscovered"
    assert endpoints["activeDirectory"] == sim.url
    assert endpoints["resourceManager"] == f"{sim.url}/"
    assert endpoints["microsoftGraphResourceId"] == f"{sim.url}/"
    assert endpoints["activeDirectoryResourceId"] == "https://management.core.windows.net/"
    assert endpoints["activeDirectoryGraphResourceId"] == "https://graph.windows.net/"
    assert cloud["suffixes"]["keyvaultDns"] == ".vault.azure.net"


# --- 5. login failures --------------------------------------------------------------------------------------

def test_login_with_wrong_secret_fails(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> None:
    cli = AzCli(sim, tmp_path_factory.mktemp("azcfg-badsecret"), executable=AZ or "az")
    cli.configure()
    err = cli.fails("login", "--service-principal", "-u", sim.client_id, "-p", "not-the-secret",
                    "--tenant", sim.tenant, "-o", "json")
    assert "AADSTS7000215" in err.stderr, err
    assert err.stdout.strip() in ("", "[]")
