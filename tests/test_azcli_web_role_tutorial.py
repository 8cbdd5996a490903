"""The App Service + role assignment tutorial through the real Azure CLI (2.91.0), command by command.

A web app gets a system-assigned identity, a role on its group, a Key Vault access policy and loses them again;
a function app gets an identity; a user-assigned identity gets federated credentials. What the tutorial needs
from the simulator besides the resources: Microsoft.Web's `checknameavailability` and `geoRegions`, Graph's
`directoryObjects/getByIds` (az shows a role assignment's principal with it) and ARM's location rules.

az costs about a second a call, so the module logs in once and reads server-side state over REST and Graph.
`az webapp create --runtime` and `az functionapp create` read App Service's runtime stacks at the tenant level
(`GET /providers/Microsoft.Web/webAppStacks`, `functionAppStacks`); the function app, created without a plan, gets
the Consumption plan App Service makes for it. The sites the identity tests use are made over REST.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.azcli import AzCli, logged_in, require_az, resource_group
from tests.simserver import Sim

AZ = require_az()

pytestmark = pytest.mark.azcli

RG_API = "2024-11-01"
WEB_API = "2024-04-01"
MSI_API = "2024-11-30"
KV_API = "2023-07-01"
AUTHZ_API = "2022-04-01"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def az(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> AzCli:
    return logged_in(sim, tmp_path_factory.mktemp("azcfg-tutorial"), AZ)


@pytest.fixture(scope="module")
def rg(sim: Sim, arm: httpx.Client) -> Iterator[str]:
    yield from resource_group(sim, arm)


def group_id(sim: Sim, rg: str) -> str:
    return f"/subscriptions/{sim.subscription}/resourceGroups/{rg}"


@pytest.fixture(scope="module")
def plan(sim: Sim, az: AzCli, rg: str) -> str:
    """`az appservice plan create` (az 2.91 makes a Linux plan by default)."""
    created = az.json("appservice", "plan", "create", "-g", rg, "-n", unique("plan-"), "--sku", "B1")
    assert created["sku"]["name"] == "B1" and created["location"] == "eastus"
    return str(created["id"])


def site(sim: Sim, arm: httpx.Client, rg: str, plan: str, kind: str = "app,linux") -> str:
    name = unique("tut-")
    r = arm.put(f"{group_id(sim, rg)}/providers/Microsoft.Web/sites/{name}", params={"api-version": WEB_API},
                json={"location": "eastus", "kind": kind, "properties": {"serverFarmId": plan}})
    assert r.status_code == 200, r.text
    return name


def sp_status(graph: httpx.Client, object_id: str) -> int:
    return graph.get(f"/v1.0/servicePrincipals/{object_id}").status_code


def assignments(arm: httpx.Client, sim: Sim, principal: str) -> list[dict[str, Any]]:
    r = arm.get(f"/subscriptions/{sim.subscription}/providers/Microsoft.Authorization/roleAssignments",
                params={"api-version": AUTHZ_API, "$filter": f"principalId eq '{principal}'"})
    assert r.status_code == 200, r.text
    return list(r.json()["value"])


def test_create_commands(sim: Sim, az: AzCli, arm: httpx.Client, rg: str, plan: str) -> None:
    """`az webapp create` checks the name (a POST at a provider-level path, once a 500), writes the site and reads
    its publishing profiles (`publishxml`, App Service's XML) for the FTP address it shows."""
    name = unique("tut-")
    created = az.json("webapp", "create", "-g", rg, "-p", plan, "-n", name, "--container-image-name", "nginx")
    assert created["defaultHostName"] == f"{name}.azurewebsites.net"
    profiles = az.json("webapp", "deployment", "list-publishing-profiles", "-g", rg, "-n", name)
    ftp = next(p for p in profiles if p["publishMethod"] == "FTP")
    assert ftp["publishUrl"].startswith("ftps://") and ftp["userName"] == f"{name}\\${name}" and ftp["userPWD"]
    got = arm.get(f"{group_id(sim, rg)}/providers/Microsoft.Web/sites/{name}", params={"api-version": WEB_API})
    assert got.status_code == 200 and got.json()["properties"]["serverFarmId"] == plan
    # the publishing secret is never part of the resource (App Service answers siteConfig.publishingPassword null)
    assert ftp["userPWD"] not in got.text and got.json()["properties"]["siteConfig"]["publishingPassword"] is None


def test_runtime_commands(sim: Sim, az: AzCli, arm: httpx.Client, graph: httpx.Client, rg: str, plan: str) -> None:
    """`--runtime` is resolved against App Service's stacks, read at the tenant level (`GET /providers/Microsoft.Web/
    webAppStacks` and `functionAppStacks`, no subscription in the path, open to any signed-in caller). The stacks are
    data from public captures (scripts/gen_app_stacks.py): a Linux .NET runtime for web apps, Python on Functions ~4.
    Node 20 reached its end of life on 2026-04-30: az leaves such runtimes out, as it would against Azure."""
    name = unique("tut-")
    created = az.json("webapp", "create", "-g", rg, "-p", plan, "-n", name, "--runtime", "DOTNETCORE:3.1")
    assert created["defaultHostName"] == f"{name}.azurewebsites.net"
    web = arm.get(f"{group_id(sim, rg)}/providers/Microsoft.Web/sites/{name}/config/web",
                  params={"api-version": WEB_API})
    assert web.status_code == 200 and web.json()["properties"]["linuxFxVersion"] == "DOTNETCORE|3.1", web.text
    refused = az.fails("webapp", "create", "-g", rg, "-p", plan, "-n", unique("tut-"), "--runtime", "NODE:20-lts")
    assert "not supported" in refused.stderr.lower()

    account = unique("tutfn")
    az.run("storage", "account", "create", "-g", rg, "-n", account, "--sku", "Standard_LRS")
    app = unique("tutfn-")
    made = az.json("functionapp", "create", "-g", rg, "-n", app, "--storage-account", account,
                   "--consumption-plan-location", "eastus", "--runtime", "python", "--functions-version", "4",
                   "--os-type", "Linux")
    assert made["defaultHostName"] == f"{app}.azurewebsites.net" and "functionapp" in made["kind"]
    settings = arm.post(f"{group_id(sim, rg)}/providers/Microsoft.Web/sites/{app}/config/appsettings/list",
                        params={"api-version": WEB_API}).json()["properties"]
    assert settings["FUNCTIONS_WORKER_RUNTIME"] == "python" and settings["FUNCTIONS_EXTENSION_VERSION"] == "~4"
    identity = az.json("functionapp", "identity", "assign", "-g", rg, "-n", app)
    assert identity["type"] == "SystemAssigned" and sp_status(graph, identity["principalId"]) == 200


def test_web_app_identity_roles_and_access_policy(sim: Sim, az: AzCli, arm: httpx.Client, graph: httpx.Client,
                                                  rg: str, plan: str) -> None:
    name = site(sim, arm, rg, plan)
    identity = az.json("webapp", "identity", "assign", "-g", rg, "-n", name)
    principal = identity["principalId"]
    assert identity["type"] == "SystemAssigned" and identity["tenantId"] == sim.tenant
    assert sp_status(graph, principal) == 200

    # a role by the principal's object id: az resolves it through Graph (getByIds) before it PUTs
    scope = group_id(sim, rg)
    az.run("role", "assignment", "create", "--assignee", principal, "--role", "Reader", "--scope", scope)
    table = az.run("role", "assignment", "list", "--assignee", principal, "--all", "-o", "table").stdout
    client_id = graph.get(f"/v1.0/servicePrincipals/{principal}").json()["appId"]
    [row] = [line.split() for line in table.splitlines()[2:]]
    assert row == [client_id, "Reader", scope]  # az shows a principal by its first servicePrincipalName

    # the directory as az shows it
    [listed] = az.json("ad", "sp", "list", "--display-name", name)
    assert (listed["id"], listed["servicePrincipalType"]) == (principal, "ManagedIdentity")
    assert az.json("ad", "sp", "show", "--id", principal)["appId"] == client_id

    # a Key Vault access policy for it: set-policy on an existing entry replaces only the kinds it names
    vault = unique("tutkv")
    deployer = graph.get("/v1.0/servicePrincipals", params={"$filter": f"appId eq '{sim.client_id}'"}).json()
    deployer_id = deployer["value"][0]["id"]
    vault_path = f"{scope}/providers/Microsoft.KeyVault/vaults/{vault}"
    entries = [{"tenantId": sim.tenant, "objectId": principal, "permissions": {"secrets": ["get", "list"],
                                                                              "keys": ["get"]}},
               {"tenantId": sim.tenant, "objectId": deployer_id, "permissions": {"secrets": ["all"]}}]
    r = arm.put(vault_path, params={"api-version": KV_API}, json={"location": "eastus", "properties": {
        "tenantId": sim.tenant, "sku": {"family": "A", "name": "standard"}, "accessPolicies": entries}})
    assert r.status_code in (200, 201), r.text
    az.run("keyvault", "set-policy", "-g", rg, "-n", vault, "--object-id", principal, "--secret-permissions", "set")
    shown = arm.get(vault_path, params={"api-version": KV_API}).json()["properties"]["accessPolicies"]
    assert {p["objectId"]: p["permissions"] for p in shown} == {
        principal: {"secrets": ["set"], "keys": ["get"]}, deployer_id: {"secrets": ["all"]}}
    az.run("keyvault", "delete-policy", "-g", rg, "-n", vault, "--object-id", principal)
    shown = arm.get(vault_path, params={"api-version": KV_API}).json()["properties"]["accessPolicies"]
    assert [p["objectId"] for p in shown] == [deployer_id]

    # delete the role, then the identity: the principal goes with it
    az.run("role", "assignment", "delete", "--assignee", principal, "--role", "Reader", "--scope", scope)
    assert assignments(arm, sim, principal) == []
    az.run("webapp", "identity", "remove", "-g", rg, "-n", name)
    assert sp_status(graph, principal) == 404


def test_function_app_identity(sim: Sim, az: AzCli, arm: httpx.Client, graph: httpx.Client, rg: str,
                               plan: str) -> None:
    account = unique("tutsa")
    created = az.json("storage", "account", "create", "-g", rg, "-n", account, "--sku", "Standard_LRS")
    assert created["name"] == account
    name = site(sim, arm, rg, plan, kind="functionapp,linux")
    identity = az.json("functionapp", "identity", "assign", "-g", rg, "-n", name)
    assert identity["type"] == "SystemAssigned" and sp_status(graph, identity["principalId"]) == 200


def test_federated_credentials(sim: Sim, az: AzCli, arm: httpx.Client, rg: str) -> None:
    uai = unique("tutuai-")
    az.run("identity", "create", "-g", rg, "-n", uai)
    issuer, subject = "https://token.actions.githubusercontent.com", "repo:contoso/app:ref:refs/heads/main"
    made = az.json("identity", "federated-credential", "create", "-g", rg, "--identity-name", uai, "-n", "gh-main",
                   "--issuer", issuer, "--subject", subject)
    assert (made["issuer"], made["subject"], made["audiences"]) == (issuer, subject, ["api://AzureADTokenExchange"])
    assert made["type"] == "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
    listed = az.json("identity", "federated-credential", "list", "-g", rg, "--identity-name", uai)
    assert [f["name"] for f in listed] == ["gh-main"]
    shown = az.json("identity", "federated-credential", "show", "-g", rg, "--identity-name", uai, "-n", "gh-main")
    assert shown["id"] == made["id"]
    az.run("identity", "federated-credential", "delete", "-g", rg, "--identity-name", uai, "-n", "gh-main", "--yes")
    fic_list = arm.get(f"{group_id(sim, rg)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{uai}/"
                       "federatedIdentityCredentials", params={"api-version": MSI_API})
    assert fic_list.status_code == 200 and fic_list.json()["value"] == []

    # Entra's documented limits: one audience per credential, 20 credentials per identity
    fics = fic_list.url.copy_with(query=None)
    body = lambda n, aud=("api://AzureADTokenExchange",): {"properties": {  # noqa: E731
        "issuer": issuer, "subject": f"{subject}-{n}", "audiences": list(aud)}}
    two = arm.put(f"{fics}/two", params={"api-version": MSI_API}, json=body(0, ("api://a", "api://b")))
    assert two.status_code == 400 and two.json()["error"]["code"] == "BadRequest", two.text
    for n in range(20):
        assert arm.put(f"{fics}/fic{n:02}", params={"api-version": MSI_API}, json=body(n)).status_code == 201
    over = arm.put(f"{fics}/fic20", params={"api-version": MSI_API}, json=body(20))
    assert over.status_code == 400, over.text  # Azure's answer (providers/managed_identity.py says where it was seen)
    assert (over.json()["error"]["code"], over.json()["error"]["message"]) == (
        "BadRequest", "Too many Federated Identity Credentials")
    assert arm.put(f"{fics}/fic00", params={"api-version": MSI_API}, json=body(0)).status_code == 200


# --- locations: what ARM accepts and refuses before a provider sees the write (REST: no az needed) -----------

def test_locations(sim: Sim, az: AzCli, arm: httpx.Client, rg: str) -> None:
    locations = arm.get(f"/subscriptions/{sim.subscription}/locations", params={"api-version": "2022-12-01"})
    east = next(loc for loc in locations.json()["value"] if loc["name"] == "eastus")
    assert east["displayName"] == "East US"
    provider = arm.get(f"/subscriptions/{sim.subscription}/providers/Microsoft.ManagedIdentity",
                       params={"api-version": RG_API}).json()
    [uai_type] = [t for t in provider["resourceTypes"] if t["resourceType"] == "userAssignedIdentities"]
    assert "East US" in uai_type["locations"]  # ARM lists a type's regions by display name

    uai = f"{group_id(sim, rg)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
    account = f"{group_id(sim, rg)}/providers/Microsoft.Storage/storageAccounts"
    for path, api in ((f"{uai}/{unique('nowhere-')}", MSI_API), (f"{account}/{unique('nowhere')}", "2025-01-01")):
        r = arm.put(path, params={"api-version": api}, json={"location": "nowhere-region", "kind": "StorageV2",
                                                             "sku": {"name": "Standard_LRS"}})
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["code"] == "LocationNotAvailableForResourceType" and "'nowhere-region'" in err["message"]
        assert "eastus" in err["message"].split("List of available regions")[1]
        assert arm.get(path, params={"api-version": api}).status_code == 404
    for spelling in ("East US", "EASTUS", "eastus"):
        r = arm.put(f"{uai}/{unique('east-')}", params={"api-version": MSI_API}, json={"location": spelling})
        assert r.status_code in (200, 201) and r.json()["location"] == "eastus", r.text
    made = az.json("identity", "create", "-g", rg, "-n", unique("tutdisp-"), "-l", "East US")
    assert made["location"] == "eastus"
