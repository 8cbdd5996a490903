"""Runtime state that templates read (issue 6 point 4): server-computed values of the types real templates
`reference()` or `list*()` — storage, network, Log Analytics, Application Insights, SQL, container registries,
container groups, container apps, AKS and deployment scripts.

Through a real server: raw REST (`sim.http()`), azure-mgmt-resource's generic client, Graph for principals.
In process (a database built by the migrations): AKS's node resource group and kubelet identity, effects its hook
returns that the service writes through the write path, and the script-output fixtures.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from sqlalchemy import select

from arm_sim.core import ids
from arm_sim.core.errors import DomainError
from arm_sim.core.settings import Settings
from arm_sim.db import migrate
from arm_sim.db.engine import make_engine, make_sessionmaker
from arm_sim.db.models import Event, Resource, ServicePrincipal
from arm_sim.domain import fixtures, tenancy
from arm_sim.domain.context import Ctx
from arm_sim.domain.runtime import Runtime
from arm_sim.providers.deployment_scripts import DeploymentScriptsProvider
from arm_sim.providers.monitoring import ApplicationInsightsProvider
from arm_sim.providers.registry import provider_for
from arm_sim.resources import groups, service
from tests.azcli import AzCli, az_executable
from tests.simserver import Sim

GRAPH = "https://graph.microsoft.com/.default"
RG_API = "2025-04-01"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
API = {"storage": "2023-05-01", "network": "2024-05-01", "workspace": "2022-10-01", "insights": "2020-02-02",
       "sql": "2023-08-01", "acr": "2023-07-01", "aci": "2023-05-01", "app": "2024-03-01", "aks": "2024-09-01",
       "script": "2023-08-01", "msi": "2023-01-31", "diagnostics": "2021-05-01-preview"}


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def rg(sim: Sim, arm: httpx.Client) -> str:
    name = unique("rg-rs-")
    r = arm.put(f"/subscriptions/{sim.subscription}/resourcegroups/{name}", params={"api-version": RG_API},
                json={"location": "westeurope"})
    assert r.status_code == 201, r.text
    return f"/subscriptions/{sim.subscription}/resourceGroups/{name}"


def put(arm: httpx.Client, rid: str, api: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    r = arm.put(rid, params={"api-version": API[api]}, json=body)
    assert r.status_code == status, r.text
    assert "_sim" not in r.json()
    return r.json()


def get(arm: httpx.Client, rid: str, api: str) -> dict[str, Any]:
    r = arm.get(rid, params={"api-version": API[api]})
    assert r.status_code == 200, r.text
    assert "_sim" not in r.json()
    return r.json()


def post(arm: httpx.Client, rid: str, action: str, api: str, body: Any = None, status: int = 200) -> Any:
    r = arm.post(f"{rid}/{action}", params={"api-version": API[api]}, json=body)
    assert r.status_code == status, r.text
    return r.json() if r.content else None


def error(r: httpx.Response, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text
    return str(r.json()["error"]["message"])


# --- storage accounts -------------------------------------------------------------------------------------------

def storage_id(rg: str, name: str) -> str:
    return f"{rg}/providers/Microsoft.Storage/storageAccounts/{name}"


def sas_signature(key: str, string_to_sign: str) -> str:
    return base64.b64encode(hmac.new(base64.b64decode(key), string_to_sign.encode(), hashlib.sha256).digest()).decode()


def test_storage_endpoints_keys_and_sas(arm: httpx.Client, rg: str) -> None:
    name = unique("st")
    rid = storage_id(rg, name)
    created = put(arm, rid, "storage", {"location": "westeurope", "kind": "StorageV2",
                                        "sku": {"name": "Standard_RAGRS"},
                                        "properties": {"minimumTlsVersion": "TLS1_2"}}, status=200)
    p = created["properties"]
    assert p["primaryEndpoints"] == {
        "blob": f"https://{name}.blob.core.windows.net/", "queue": f"https://{name}.queue.core.windows.net/",
        "table": f"https://{name}.table.core.windows.net/", "file": f"https://{name}.file.core.windows.net/",
        "dfs": f"https://{name}.dfs.core.windows.net/", "web": f"https://{name}.z13.web.core.windows.net/"}
    assert p["primaryLocation"] == "westeurope" and p["statusOfPrimary"] == "available"
    assert p["secondaryLocation"] == "northeurope" and p["secondaryEndpoints"]["blob"] == (
        f"https://{name}-secondary.blob.core.windows.net/")
    assert p["provisioningState"] == "Succeeded" and p["creationTime"] and p["minimumTlsVersion"] == "TLS1_2"
    assert created["sku"] == {"name": "Standard_RAGRS", "tier": "Standard"}

    keys = post(arm, rid, "listKeys", "storage")["keys"]
    assert [(k["keyName"], k["permissions"]) for k in keys] == [("key1", "FULL"), ("key2", "FULL")]
    assert all(len(base64.b64decode(k["value"])) == 64 and k["creationTime"] for k in keys)
    assert keys[0]["value"] != keys[1]["value"]
    assert post(arm, rid, "listKeys", "storage")["keys"] == keys  # stable across calls …
    put(arm, rid, "storage", {"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_RAGRS"},
                              "tags": {"a": "b"}}, status=200)
    assert get(arm, rid, "storage")["properties"]["primaryEndpoints"] == p["primaryEndpoints"]
    assert post(arm, rid, "listKeys", "storage")["keys"] == keys  # … and across updates

    other = storage_id(rg, unique("st"))
    put(arm, other, "storage", {"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}},
        status=200)
    assert {k["value"] for k in post(arm, other, "listKeys", "storage")["keys"]}.isdisjoint(k["value"] for k in keys)

    regenerated = post(arm, rid, "regenerateKey", "storage", {"keyName": "key2"})["keys"]
    assert regenerated[0] == keys[0] and regenerated[1]["value"] != keys[1]["value"]
    error(arm.post(f"{rid}/regenerateKey", params={"api-version": API["storage"]}, json={"keyName": "key3"}), 400,
          "InvalidValuesForRequestParameters")

    sas = post(arm, rid, "listAccountSas", "storage", {
        "signedServices": "bf", "signedResourceTypes": "sco", "signedPermission": "rl",
        "signedExpiry": "2030-01-01T10:00:00.0000000Z", "signedProtocol": "https"})["accountSasToken"]
    fields = dict(parse_qsl(sas))
    assert list(fields) == ["sv", "ss", "srt", "sp", "se", "spr", "sig"]
    assert fields["se"] == "2030-01-01T10:00:00Z" and "se=2030-01-01T10%3A00%3A00Z" in sas
    expected = sas_signature(keys[0]["value"], f"{name}\nrl\nbf\nsco\n\n2030-01-01T10:00:00Z\n\nhttps\n2015-04-05\n")
    assert fields["sig"] == expected  # really signed with key1
    error(arm.post(f"{rid}/listAccountSas", params={"api-version": API["storage"]},
                   json={"signedServices": "b"}), 400, "InvalidValuesForRequestParameters")
    service_sas = post(arm, rid, "listServiceSas", "storage", {
        "canonicalizedResource": f"/blob/{name}/data", "signedResource": "c", "signedPermission": "r",
        "signedExpiry": "2030-01-01T00:00:00Z"})["serviceSasToken"]
    assert dict(parse_qsl(service_sas))["sr"] == "c" and "sig=" in service_sas

    # a re-created account is a new account: new keys
    assert arm.delete(rid, params={"api-version": API["storage"]}).status_code == 200
    put(arm, rid, "storage", {"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}},
        status=200)
    renewed = post(arm, rid, "listKeys", "storage")["keys"]
    assert {k["value"] for k in renewed}.isdisjoint(k["value"] for k in keys)
    assert "secondaryEndpoints" not in get(arm, rid, "storage")["properties"]  # LRS now


def test_storage_names_are_global(sim: Sim, arm: httpx.Client, rg: str) -> None:
    name = unique("st")
    for bad in ("UpperCase1", "ab", "has-dash1"):
        error(arm.put(storage_id(rg, bad), params={"api-version": API["storage"]}, json={"location": "westeurope"}),
              400, "AccountNameInvalid")
    put(arm, storage_id(rg, name), "storage", {"location": "westeurope"}, status=200)
    other_rg = unique("rg-rs-")
    arm.put(f"/subscriptions/{sim.subscription}/resourcegroups/{other_rg}", params={"api-version": RG_API},
            json={"location": "westeurope"})
    msg = error(arm.put(storage_id(f"/subscriptions/{sim.subscription}/resourceGroups/{other_rg}", name),
                        params={"api-version": API["storage"]}, json={"location": "westeurope"}),
                409, "StorageAccountInAnotherResourceGroup")
    assert name in msg
    check = f"/subscriptions/{sim.subscription}/providers/Microsoft.Storage/checkNameAvailability"
    taken = arm.post(check, params={"api-version": API["storage"]},
                     json={"name": name, "type": "Microsoft.Storage/storageAccounts"}).json()
    assert taken == {"nameAvailable": False, "reason": "AlreadyExists",
                     "message": f"The storage account named {name} is already taken."}
    assert arm.post(check, params={"api-version": API["storage"]},
                    json={"name": unique("st")}).json() == {"nameAvailable": True}
    assert arm.post(check, params={"api-version": API["storage"]},
                    json={"name": "Bad!"}).json()["reason"] == "AccountNameInvalid"


def test_an_account_has_its_default_services(arm: httpx.Client, rg: str) -> None:
    """blobServices/default and its siblings exist with the account, as in Azure: a container needs no setup."""
    rid = storage_id(rg, unique("st"))
    put(arm, rid, "storage", {"location": "eastus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}, status=200)
    for services in ("blobServices", "fileServices", "queueServices", "tableServices"):
        listed = arm.get(f"{rid}/{services}", params={"api-version": API["storage"]}).json()["value"]
        assert [s["name"] for s in listed] == ["default"], (services, listed)
    r = arm.put(f"{rid}/blobServices/default/containers/logs", params={"api-version": API["storage"]},
                json={"properties": {}})
    assert r.status_code in (200, 201), r.text
    files = storage_id(rg, unique("st"))
    put(arm, files, "storage", {"location": "eastus", "kind": "FileStorage", "sku": {"name": "Premium_LRS"}},
        status=200)
    assert [s["name"] for s in arm.get(f"{files}/blobServices", params={"api-version": API["storage"]}).json()[
        "value"]] == []  # a FileStorage account has file shares only


def test_storage_through_the_generic_sdk_client(sim: Sim, rg: str) -> None:
    rm = sim.resource_client()
    name = unique("st")
    account = rm.resources.begin_create_or_update_by_id(storage_id(rg, name), API["storage"], {
        "location": "westeurope", "kind": "BlockBlobStorage", "sku": {"name": "Premium_LRS"}}).result()
    assert account.properties["primaryEndpoints"] == {
        "blob": f"https://{name}.blob.core.windows.net/", "dfs": f"https://{name}.dfs.core.windows.net/",
        "web": f"https://{name}.z13.web.core.windows.net/"}
    assert account.sku.tier == "Premium"
    assert rm.resources.get_by_id(storage_id(rg, name), API["storage"]).properties["creationTime"] == (
        account.properties["creationTime"])


# --- network ----------------------------------------------------------------------------------------------------

def net_id(rg: str, kind: str, name: str) -> str:
    return f"{rg}/providers/Microsoft.Network/{kind}/{name}"


def test_public_ips(arm: httpx.Client, rg: str) -> None:
    label = unique("app-")
    first = net_id(rg, "publicIPAddresses", unique("pip-"))
    p = put(arm, first, "network", {"location": "westeurope", "sku": {"name": "Standard"},
                                     "properties": {"dnsSettings": {"domainNameLabel": label}}})["properties"]
    assert re.fullmatch(r"20\.\d+\.\d+\.\d+", p["ipAddress"])
    assert p["dnsSettings"]["fqdn"] == f"{label}.westeurope.cloudapp.azure.com"
    assert p["publicIPAllocationMethod"] == "Static" and p["publicIPAddressVersion"] == "IPv4"
    assert get(arm, first, "network")["properties"]["ipAddress"] == p["ipAddress"]
    second = net_id(rg, "publicIPAddresses", unique("pip-"))
    assert put(arm, second, "network", {"location": "westeurope"})["properties"]["ipAddress"] != p["ipAddress"]
    error(arm.put(net_id(rg, "publicIPAddresses", unique("pip-")), params={"api-version": API["network"]},
                  json={"location": "westeurope", "properties": {"dnsSettings": {"domainNameLabel": "Bad_Label"}}}),
          400, "InvalidDomainNameLabel")


def test_virtual_networks_subnets_and_nics(arm: httpx.Client, rg: str) -> None:
    vnet = net_id(rg, "virtualNetworks", unique("vnet-"))
    created = put(arm, vnet, "network", {"location": "westeurope", "properties": {
        "addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
        "subnets": [{"name": "web", "properties": {"addressPrefix": "10.1.1.0/24"}},
                    {"name": "data", "properties": {"addressPrefix": "10.1.2.0/29"}}]}})
    subnets = created["properties"]["subnets"]
    assert [s["id"] for s in subnets] == [f"{vnet}/subnets/web", f"{vnet}/subnets/data"]
    assert all(s["properties"]["provisioningState"] == "Succeeded" for s in subnets)
    assert get(arm, f"{vnet}/subnets/web", "network")["properties"]["addressPrefix"] == "10.1.1.0/24"
    put(arm, f"{vnet}/subnets/extra", "network", {"properties": {"addressPrefix": "10.1.3.0/24"}})
    listed = arm.get(f"{vnet}/subnets", params={"api-version": API["network"]}).json()["value"]
    assert [s["name"] for s in listed] == ["web", "data", "extra"]
    assert [s["name"] for s in get(arm, vnet, "network")["properties"]["subnets"]] == ["web", "data", "extra"]
    error(arm.get(f"{vnet}/subnets/nope", params={"api-version": API["network"]}), 404, "ResourceNotFound")

    def nic(name: str, subnet: str, status: int = 201) -> dict[str, Any]:
        return put(arm, net_id(rg, "networkInterfaces", name), "network", {"location": "westeurope", "properties": {
            "ipConfigurations": [{"name": "ipconfig1", "properties": {"subnet": {"id": f"{vnet}/subnets/{subnet}"}}}]}},
            status)

    one = nic("nic-one", "data")["properties"]["ipConfigurations"][0]
    assert one["id"].endswith("/networkInterfaces/nic-one/ipConfigurations/ipconfig1")
    assert one["properties"]["privateIPAddress"] == "10.1.2.4"  # Azure keeps .0-.3
    assert one["properties"]["privateIPAllocationMethod"] == "Dynamic" and one["properties"]["primary"] is True
    assert nic("nic-two", "data")["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"] == "10.1.2.5"
    again = nic("nic-one", "data", 200)["properties"]["ipConfigurations"][0]["properties"]
    assert again["privateIPAddress"] == "10.1.2.4"  # stable while attached
    assert nic("nic-three", "extra")["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"] == (
        "10.1.3.4")
    nic("nic-four", "data")  # .6, the last usable address of a /29
    error(arm.put(net_id(rg, "networkInterfaces", "nic-five"), params={"api-version": API["network"]}, json={
        "location": "westeurope", "properties": {"ipConfigurations": [
            {"name": "c", "properties": {"subnet": {"id": f"{vnet}/subnets/data"}}}]}}), 400, "SubnetIsFull")
    error(arm.put(net_id(rg, "networkInterfaces", "nic-six"), params={"api-version": API["network"]}, json={
        "location": "westeurope", "properties": {"ipConfigurations": [
            {"name": "c", "properties": {"subnet": {"id": f"{vnet}/subnets/missing"}}}]}}), 400,
        "InvalidResourceReference")


# --- Log Analytics and Application Insights ------------------------------------------------------------------------

def test_log_analytics_workspace(arm: httpx.Client, rg: str) -> None:
    ws = f"{rg}/providers/Microsoft.OperationalInsights/workspaces/{unique('log-')}"
    p = put(arm, ws, "workspace", {"location": "westeurope", "properties": {"retentionInDays": 60}})["properties"]
    assert GUID.match(p["customerId"]) and p["retentionInDays"] == 60 and p["sku"]["name"] == "PerGB2018"
    assert get(arm, ws, "workspace")["properties"]["customerId"] == p["customerId"]
    shared = post(arm, ws, "sharedKeys", "workspace")
    assert set(shared) == {"primarySharedKey", "secondarySharedKey"}
    assert len(base64.b64decode(shared["primarySharedKey"])) == 64
    assert post(arm, ws, "listKeys", "workspace") == shared  # what templates' listKeys(workspace) calls
    other = f"{rg}/providers/Microsoft.OperationalInsights/workspaces/{unique('log-')}"
    assert put(arm, other, "workspace", {"location": "westeurope"})["properties"]["customerId"] != p["customerId"]
    assert post(arm, other, "sharedKeys", "workspace") != shared
    assert post(arm, ws, "regenerateSharedKey", "workspace") != shared


def test_application_insights_and_other_insights_types(arm: httpx.Client, rg: str) -> None:
    name = unique("appi-")
    comp = f"{rg}/providers/Microsoft.Insights/components/{name}"
    p = put(arm, comp, "insights", {"location": "westeurope", "kind": "web",
                                    "properties": {"Application_Type": "web"}})["properties"]
    assert GUID.match(p["InstrumentationKey"]) and GUID.match(p["AppId"]) and p["ApplicationId"] == name
    assert p["ConnectionString"] == (
        f"InstrumentationKey={p['InstrumentationKey']};IngestionEndpoint=https://westeurope-0.in."
        "applicationinsights.azure.com/;LiveEndpoint=https://westeurope.livediagnostics.monitor.azure.com/;"
        f"ApplicationId={p['AppId']}")
    assert get(arm, comp, "insights")["properties"]["InstrumentationKey"] == p["InstrumentationKey"]
    error(arm.put(f"{rg}/providers/Microsoft.Insights/components/{unique('appi-')}",
                  params={"api-version": API["insights"]}, json={"kind": "web"}), 400, "LocationRequired")
    # diagnostic settings (an extension resource of the same namespace) stay generic
    diag = f"{comp}/providers/Microsoft.Insights/diagnosticSettings/send"
    body = {"properties": {"workspaceId": "/x", "logs": [{"category": "AppTraces", "enabled": True}]}}
    shown = put(arm, diag, "diagnostics", body)
    assert shown["properties"] == dict(body["properties"], provisioningState="Succeeded")
    assert not isinstance(provider_for("microsoft.insights/diagnosticsettings"), ApplicationInsightsProvider)


# --- SQL --------------------------------------------------------------------------------------------------------

def test_sql_server(arm: httpx.Client, rg: str) -> None:
    name = unique("sql-")
    rid = f"{rg}/providers/Microsoft.Sql/servers/{name}"
    body = {"location": "westeurope", "properties": {"administratorLogin": "sqladmin",
                                                     "administratorLoginPassword": "P@ssw0rd-secret"}}
    created = put(arm, rid, "sql", body)
    assert created["properties"]["fullyQualifiedDomainName"] == f"{name}.database.windows.net"
    assert created["properties"]["state"] == "Ready" and created["kind"] == "v12.0"
    shown = [created, get(arm, rid, "sql"),
             *arm.get(f"{rg}/providers/Microsoft.Sql/servers", params={"api-version": API["sql"]}).json()["value"]]
    assert all("P@ssw0rd-secret" not in str(s) and "administratorLoginPassword" not in s["properties"] for s in shown)
    db = put(arm, f"{rid}/databases/app", "sql", {"location": "westeurope"})["properties"]
    assert db["status"] == "Online" and GUID.match(db["databaseId"])
    other_rg = rg.rsplit("/", 1)[0] + "/" + unique("rg-rs-")
    arm.put(other_rg, params={"api-version": RG_API}, json={"location": "westeurope"})
    error(arm.put(f"{other_rg}/providers/Microsoft.Sql/servers/{name}", params={"api-version": API["sql"]},
                  json=body), 409, "NameAlreadyExists")


# --- containers -------------------------------------------------------------------------------------------------

def test_container_registry_credentials(sim: Sim, arm: httpx.Client, rg: str) -> None:
    name = unique("acr")
    rid = f"{rg}/providers/Microsoft.ContainerRegistry/registries/{name}"
    p = put(arm, rid, "acr", {"location": "westeurope", "sku": {"name": "Basic"}})["properties"]
    assert p["loginServer"] == f"{name}.azurecr.io" and p["adminUserEnabled"] is False
    error(arm.post(f"{rid}/listCredentials", params={"api-version": API["acr"]}), 400,
          "UnAuthorizedForCredentialOperations")
    r = arm.patch(rid, params={"api-version": API["acr"]}, json={"properties": {"adminUserEnabled": True}})
    assert r.status_code == 200, r.text
    creds = post(arm, rid, "listCredentials", "acr")
    assert creds["username"] == name and [x["name"] for x in creds["passwords"]] == ["password", "password2"]
    assert post(arm, rid, "listCredentials", "acr") == creds
    renewed = post(arm, rid, "regenerateCredential", "acr", {"name": "password2"})
    assert renewed["passwords"][0] == creds["passwords"][0] and renewed["passwords"][1] != creds["passwords"][1]
    check = f"/subscriptions/{sim.subscription}/providers/Microsoft.ContainerRegistry/checkNameAvailability"
    assert arm.post(check, params={"api-version": API["acr"]}, json={
        "name": name, "type": "Microsoft.ContainerRegistry/registries"}).json()["nameAvailable"] is False
    other_rg = rg.rsplit("/", 1)[0] + "/" + unique("rg-rs-")
    arm.put(other_rg, params={"api-version": RG_API}, json={"location": "westeurope"})
    error(arm.put(f"{other_rg}/providers/Microsoft.ContainerRegistry/registries/{name.upper()}",
                  params={"api-version": API["acr"]}, json={"location": "westeurope"}), 409, "AlreadyInUse")


def test_container_group(arm: httpx.Client, rg: str) -> None:
    label = unique("aci-")
    rid = f"{rg}/providers/Microsoft.ContainerInstance/containerGroups/{label}"
    p = put(arm, rid, "aci", {"location": "westeurope", "properties": {
        "osType": "Linux", "ipAddress": {"type": "Public", "dnsNameLabel": label, "ports": [{"port": 80}]},
        "containers": [{"name": "web", "properties": {
            "image": "nginx", "resources": {"requests": {"cpu": 1, "memoryInGB": 1.5}},
            "environmentVariables": [{"name": "PLAIN", "value": "1"}, {"name": "TOKEN", "secureValue": "hush"}]}}]}}
        )["properties"]
    assert re.fullmatch(r"20\.\d+\.\d+\.\d+", p["ipAddress"]["ip"])
    assert p["ipAddress"]["fqdn"] == f"{label}.westeurope.azurecontainer.io"
    assert p["instanceView"]["state"] == "Running" and p["provisioningState"] == "Succeeded"
    container = p["containers"][0]["properties"]
    assert container["instanceView"]["currentState"]["state"] == "Running"
    assert container["environmentVariables"] == [{"name": "PLAIN", "value": "1"}, {"name": "TOKEN"}]
    assert "hush" not in str(get(arm, rid, "aci"))
    assert get(arm, rid, "aci")["properties"]["ipAddress"]["ip"] == p["ipAddress"]["ip"]
    post(arm, rid, "stop", "aci", status=204)
    assert get(arm, rid, "aci")["properties"]["instanceView"]["state"] == "Stopped"


def test_container_apps(arm: httpx.Client, rg: str) -> None:
    env = f"{rg}/providers/Microsoft.App/managedEnvironments/{unique('env-')}"
    e = put(arm, env, "app", {"location": "westeurope", "properties": {}})["properties"]
    assert re.fullmatch(r"[a-z]+-[0-9a-f]{8}\.westeurope\.azurecontainerapps\.io", e["defaultDomain"])
    assert re.fullmatch(r"20\.\d+\.\d+\.\d+", e["staticIp"])

    def app(name: str, external: bool, status: int = 201, image: str = "nginx") -> dict[str, Any]:
        return put(arm, f"{rg}/providers/Microsoft.App/containerApps/{name}", "app", {
            "location": "westeurope", "properties": {
                "managedEnvironmentId": env,
                "configuration": {"ingress": {"external": external, "targetPort": 80},
                                  "secrets": [{"name": "db", "value": "s3cr3t"}]},
                "template": {"containers": [{"name": "main", "image": image}]}}}, status)["properties"]

    public = app("web", True)
    assert public["configuration"]["ingress"]["fqdn"] == f"web.{e['defaultDomain']}"
    revision = public["latestRevisionName"]
    assert re.fullmatch(r"web--[a-z0-9]{7}", revision)
    assert public["latestRevisionFqdn"] == f"{revision}.{e['defaultDomain']}"
    assert len(public["outboundIpAddresses"]) == 3 and public["runningStatus"] == "Running"
    assert public["configuration"]["secrets"] == [{"name": "db"}]
    app_id = f"{rg}/providers/Microsoft.App/containerApps/web"
    assert post(arm, app_id, "listSecrets", "app") == {"value": [{"name": "db", "value": "s3cr3t"}]}
    assert app("web", True, 200)["latestRevisionName"] == revision  # same template: same revision
    assert app("web", True, 200, image="nginx:2")["latestRevisionName"] != revision  # new template: new revision
    assert app("api", False)["configuration"]["ingress"]["fqdn"] == f"api.internal.{e['defaultDomain']}"


def test_aks_cluster_and_its_kubelet_identity(sim: Sim, arm: httpx.Client, graph: httpx.Client, rg: str) -> None:
    name = unique("aks-")
    rid = f"{rg}/providers/Microsoft.ContainerService/managedClusters/{name}"
    body = {"location": "westeurope", "identity": {"type": "SystemAssigned"}, "properties": {
        "dnsPrefix": name, "oidcIssuerProfile": {"enabled": True},
        "addonProfiles": {"azureKeyvaultSecretsProvider": {"enabled": True}, "httpApplicationRouting": {
            "enabled": False}},
        "agentPoolProfiles": [{"name": "system", "count": 1, "vmSize": "Standard_D2s_v3"}]}}
    p = put(arm, rid, "aks", body)["properties"]
    assert re.fullmatch(rf"{name}-[0-9a-f]{{8}}\.hcp\.westeurope\.azmk8s\.io", p["fqdn"])
    group = rg.rsplit("/", 1)[1]
    assert p["nodeResourceGroup"] == f"MC_{group}_{name}_westeurope"
    assert p["oidcIssuerProfile"]["issuerURL"].startswith(f"https://westeurope.oic.prod-aks.azure.com/{sim.tenant}/")
    kubelet = p["identityProfile"]["kubeletidentity"]
    assert kubelet["resourceId"] == (f"/subscriptions/{sim.subscription}/resourceGroups/{p['nodeResourceGroup']}"
                                     f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}-agentpool")
    sp = graph.get(f"/v1.0/servicePrincipals/{kubelet['objectId']}").json()
    assert sp["appId"] == kubelet["clientId"] and sp["servicePrincipalType"] == "ManagedIdentity"
    # the node resource group and the kubelet identity are ARM resources of their own, made by "the RP"
    node_rg = f"/subscriptions/{sim.subscription}/resourceGroups/{p['nodeResourceGroup']}"
    assert arm.get(node_rg, params={"api-version": RG_API}).json()["managedBy"] == rid
    uai = arm.get(kubelet["resourceId"], params={"api-version": API["msi"]}).json()
    assert (uai["properties"]["principalId"], uai["properties"]["clientId"]) == (kubelet["objectId"],
                                                                                   kubelet["clientId"])
    addon = p["addonProfiles"]["azureKeyvaultSecretsProvider"]["identity"]
    assert addon["resourceId"].endswith(f"/userAssignedIdentities/azurekeyvaultsecretsprovider-{name}")
    assert graph.get(f"/v1.0/servicePrincipals/{addon['objectId']}").json()["appId"] == addon["clientId"]
    assert "identity" not in p["addonProfiles"]["httpApplicationRouting"]
    assert p["agentPoolProfiles"][0]["mode"] == "System" and p["powerState"] == {"code": "Running"}
    again = put(arm, rid, "aks", body, 200)["properties"]
    assert again["identityProfile"] == p["identityProfile"] and again["fqdn"] == p["fqdn"]  # stable
    kubeconfig = post(arm, rid, "listClusterUserCredential", "aks")["kubeconfigs"][0]
    assert kubeconfig["name"] == "clusterUser"
    assert f"server: https://{p['fqdn']}:443" in base64.b64decode(kubeconfig["value"]).decode()
    # a role assignment naming the kubelet identity validates: it is a real principal
    assignment = f"{rg}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    reader = f"/subscriptions/{sim.subscription}/providers/Microsoft.Authorization/roleDefinitions/" \
             "acdd72a7-3385-48ef-bd42-f606fba81ae7"
    r = arm.put(assignment, params={"api-version": "2022-04-01"}, json={"properties": {
        "roleDefinitionId": reader, "principalId": kubelet["objectId"], "principalType": "ServicePrincipal"}})
    assert r.status_code == 201, r.text
    assert arm.delete(rid, params={"api-version": API["aks"]}).status_code == 200
    assert arm.get(node_rg, params={"api-version": RG_API}).status_code == 404  # gone with the cluster
    assert graph.get(f"/v1.0/servicePrincipals/{kubelet['objectId']}").status_code == 404
    assert graph.get(f"/v1.0/servicePrincipals/{addon['objectId']}").status_code == 404


# --- deployment scripts ---------------------------------------------------------------------------------------

def test_deployment_scripts_answer_with_registered_outputs(sim: Sim, arm: httpx.Client, rg: str) -> None:
    name = unique("script-")
    rid = f"{rg}/providers/Microsoft.Resources/deploymentScripts/{name}"
    body = {"location": "westeurope", "kind": "AzureCLI", "properties": {
        "azCliVersion": "2.60.0", "scriptContent": "echo hi", "retentionInterval": "P1D"}}
    p = put(arm, rid, "script", body)["properties"]
    assert p["provisioningState"] == "Succeeded" and p["outputs"] == {}
    assert p["status"]["startTime"] and p["status"]["endTime"] and p["status"]["expirationTime"]
    with server_unit(sim) as ctx:  # what the /_sim route will do
        fixtures.set_script_outputs(ctx, name.upper(), {"result": "ok", "count": 2})
    assert put(arm, rid, "script", body, 200)["properties"]["outputs"] == {}  # unchanged: it does not run again
    rerun = put(arm, rid, "script", {**body, "properties": {**body["properties"], "forceUpdateTag": "2"}}, 200)
    assert rerun["properties"]["outputs"] == {"result": "ok", "count": 2}
    assert get(arm, rid, "script")["properties"]["outputs"] == {"result": "ok", "count": 2}
    logs = arm.get(f"{rid}/logs", params={"api-version": API["script"]}).json()
    assert logs["value"][0]["id"] == f"{rid}/logs/default"
    assert get(arm, f"{rid}/logs/default", "script")["properties"] == {"log": ""}
    error(arm.put(f"{rg}/providers/Microsoft.Resources/deploymentScripts/{unique('s-')}",
                  params={"api-version": API["script"]}, json={"location": "westeurope", "kind": "Bash"}), 400,
          "InvalidRequestContent")
    # with a user-assigned identity, handled by the shared reconciler like any other type
    uai = f"{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{unique('id-')}"
    principal = put(arm, uai, "msi", {"location": "westeurope"})["properties"]["principalId"]
    with_identity = put(arm, f"{rid}2", "script", {**body, "identity": {
        "type": "UserAssigned", "userAssignedIdentities": {uai: {}}}})
    assert with_identity["identity"]["userAssignedIdentities"][uai]["principalId"] == principal


def test_reapplying_the_same_definition_changes_nothing(arm: httpx.Client, rg: str) -> None:
    """Computed values are stable, so a re-deployed template finds every modelled resource unchanged."""
    loc = {"location": "westeurope"}
    env = f"{rg}/providers/Microsoft.App/managedEnvironments/{unique('env-')}"
    vnet = net_id(rg, "virtualNetworks", unique("vnet-"))
    cases = [
        (storage_id(rg, unique("st")), "storage", {**loc, "kind": "StorageV2", "sku": {"name": "Standard_GRS"}}),
        (net_id(rg, "publicIPAddresses", unique("pip-")), "network", loc),
        (vnet, "network", {**loc, "properties": {"subnets": [{"name": "a", "properties": {
            "addressPrefix": "10.9.0.0/24"}}]}}),
        (net_id(rg, "networkInterfaces", unique("nic-")), "network", {**loc, "properties": {"ipConfigurations": [
            {"name": "c", "properties": {"subnet": {"id": f"{vnet}/subnets/a"}}}]}}),
        (f"{rg}/providers/Microsoft.OperationalInsights/workspaces/{unique('log-')}", "workspace", loc),
        (f"{rg}/providers/Microsoft.Insights/components/{unique('appi-')}", "insights", {**loc, "kind": "web"}),
        (f"{rg}/providers/Microsoft.Sql/servers/{unique('sql-')}", "sql", loc),
        (f"{rg}/providers/Microsoft.ContainerRegistry/registries/{unique('acr')}", "acr", loc),
        (f"{rg}/providers/Microsoft.ContainerInstance/containerGroups/{unique('aci-')}", "aci", {**loc, "properties": {
            "ipAddress": {"type": "Public"}, "containers": [{"name": "c", "properties": {"image": "nginx"}}]}}),
        (env, "app", loc),
        (f"{rg}/providers/Microsoft.App/containerApps/{unique('app-')}", "app", {**loc, "properties": {
            "environmentId": env, "configuration": {"ingress": {"external": True}}}}),
        (f"{rg}/providers/Microsoft.ContainerService/managedClusters/{unique('aks-')}", "aks", {
            **loc, "identity": {"type": "SystemAssigned"}, "properties": {"agentPoolProfiles": [{"name": "p"}]}}),
        (f"{rg}/providers/Microsoft.Resources/deploymentScripts/{unique('ds-')}", "script", {
            **loc, "kind": "AzurePowerShell", "properties": {"retentionInterval": "PT1H"}}),
    ]
    volatile = ("etag", "systemData")
    for rid, api, body in cases:
        created = 200 if api == "storage" else 201  # a storage account's create answers 200 or 202, never 201
        first = {k: v for k, v in put(arm, rid, api, body, created).items() if k not in volatile}
        again = {k: v for k, v in put(arm, rid, api, body, 200).items() if k not in volatile}
        assert again == first, rid


def test_narrow_handlers() -> None:
    """Only the modelled types are taken: deployments, diagnostic settings … stay with whoever handles them."""
    assert isinstance(provider_for("microsoft.resources/deploymentscripts"), DeploymentScriptsProvider)
    assert isinstance(provider_for("microsoft.resources/deploymentscripts/logs"), DeploymentScriptsProvider)
    ours = ("storage", "network", "monitoring", "sql", "containers", "deployment_scripts")
    for other in ("microsoft.resources/deployments", "microsoft.resources/deployments/operations",
                  "microsoft.resources/", "microsoft.insights/diagnosticsettings", "microsoft.insights/actiongroups",
                  "microsoft.insights/", "microsoft.storage/storageaccountsx", "microsoft.sql/managedinstances",
                  "microsoft.operationalinsights/workspacesx", "microsoft.network/loadbalancers"):
        assert type(provider_for(other)).__module__.rsplit(".", 1)[1] not in ours, other


# --- the Azure CLI (its vendored azure-mgmt-storage/containerregistry/loganalytics/network clients) -----------

@pytest.mark.azcli
@pytest.mark.skipif(az_executable() is None, reason="Azure CLI not found (ARM_SIM_AZ, .venv-az or PATH)")
def test_the_azure_cli_reads_keys_credentials_and_addresses(sim: Sim, arm: httpx.Client, rg: str,
                                                            tmp_path: Path) -> None:
    az = AzCli(sim, tmp_path / "az", executable=az_executable() or "az")
    # as tests/azcli.py registers the cloud, plus the service suffixes these commands need
    az.run("cloud", "register", "-n", "ArmSimRuntime", "--skip-endpoint-discovery",
           "--endpoint-resource-manager", f"{sim.url}/", "--endpoint-active-directory", sim.url,
           "--endpoint-active-directory-resource-id", "https://management.core.windows.net/",
           "--endpoint-microsoft-graph-resource-id", f"{sim.url}/",
           "--endpoint-active-directory-graph-resource-id", "https://graph.windows.net/",
           "--suffix-storage-endpoint", "core.windows.net", "--suffix-acr-login-server-endpoint", ".azurecr.io")
    az.set_cloud("ArmSimRuntime")
    az.login()
    group, name = rg.rsplit("/", 1)[1], unique("st")
    created = az.json("storage", "account", "create", "-n", name, "-g", group, "-l", "westeurope", "--sku",
                      "Standard_LRS")  # azure-mgmt-storage accepts 200 or 202 here, not ARM's usual 201
    assert created["provisioningState"] == "Succeeded" and created["sku"]["name"] == "Standard_LRS"
    assert created["primaryEndpoints"]["blob"] == f"https://{name}.blob.core.windows.net/"
    keys = az.json("storage", "account", "keys", "list", "-n", name, "-g", group)
    expected = post(arm, storage_id(rg, name), "listKeys", "storage")["keys"]
    assert [(k["keyName"], k["value"]) for k in keys] == [(k["keyName"], k["value"]) for k in expected]
    connection = az.json("storage", "account", "show-connection-string", "-n", name, "-g", group)
    assert f"AccountName={name};AccountKey={keys[0]['value']}" in connection["connectionString"]
    acr = f"acr{name}"
    shown = az.json("acr", "create", "-n", acr, "-g", group, "--sku", "Basic", "--admin-enabled", "true")
    assert shown["loginServer"] == f"{acr}.azurecr.io"
    creds = az.json("acr", "credential", "show", "-n", acr, "-g", group)
    assert creds["username"] == acr and [p["name"] for p in creds["passwords"]] == ["password", "password2"]
    workspace = f"{rg}/providers/Microsoft.OperationalInsights/workspaces/log{name}"
    put(arm, workspace, "workspace", {"location": "westeurope"})
    shared = az.json("monitor", "log-analytics", "workspace", "get-shared-keys", "-n", f"log{name}", "-g", group)
    assert shared == post(arm, workspace, "sharedKeys", "workspace")


# --- in process: the script fixtures and AKS's effects through the write path ---------------------------------

@contextmanager
def server_unit(sim: Sim) -> Iterator[Ctx]:
    """A unit of work on the running server's own database (SQLite in WAL mode, or its PostgreSQL)."""
    settings = Settings(home=sim.home, database_url=sim.database_url)
    engine = make_engine(settings.db_url)
    try:
        with Runtime(settings, make_sessionmaker(engine)).unit() as ctx:
            yield ctx
    finally:
        engine.dispose()


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    settings = Settings(home=tmp_path)
    migrate.upgrade(settings.db_url)
    rt = Runtime(settings, make_sessionmaker(make_engine(settings.db_url)))
    with rt.unit() as ctx:
        tenancy.bootstrap(ctx)
    return rt


def test_script_output_fixtures(runtime: Runtime) -> None:
    long_name = "x" * 90
    with runtime.unit() as ctx:
        assert fixtures.script_outputs(ctx, "nothing") == {}
        fixtures.set_script_outputs(ctx, "MyScript", {"a": 1})
        fixtures.set_script_outputs(ctx, long_name, {"b": [1, 2]})
        with pytest.raises(DomainError) as e:
            fixtures.set_script_outputs(ctx, "bad", ["not", "an", "object"])
        assert e.value.code == "DeploymentScriptInvalidOutputs"
    with runtime.unit() as ctx:
        assert fixtures.script_outputs(ctx, "myscript") == {"a": 1}
        assert fixtures.script_outputs(ctx, long_name.upper()) == {"b": [1, 2]}
        assert fixtures.clear_script_outputs(ctx, "MYSCRIPT") and fixtures.script_outputs(ctx, "myscript") == {}


def test_aks_node_group_and_kubelet_identity_through_the_write_path(runtime: Runtime) -> None:
    with runtime.unit() as ctx:
        sub = tenancy.bootstrap(ctx).subscription_id
        groups.put(ctx, sub, "apps", {"location": "westeurope"})
        cluster_id = f"/subscriptions/{sub}/resourceGroups/apps/providers/Microsoft.ContainerService/managedClusters/k1"
        doc, _ = service.put(ctx, ids.parse(cluster_id), {
            "location": "westeurope", "identity": {"type": "SystemAssigned"},
            "properties": {"dnsPrefix": "k1", "agentPoolProfiles": [{"name": "system", "count": 1}],
                           "addonProfiles": {"omsagent": {"enabled": True}}}}, API["aks"])
        kubelet = doc["properties"]["identityProfile"]["kubeletidentity"]
        oms = doc["properties"]["addonProfiles"]["omsagent"]["identity"]
        oms_row = ctx.session.get(Resource, ids.key(oms["resourceId"]))
        assert oms_row is not None and oms_row.properties["principalId"] == oms["objectId"]
        assert groups.exists(ctx, sub, "MC_apps_k1_westeurope")
        assert groups.get(ctx, sub, "MC_apps_k1_westeurope").managed_by == cluster_id
        uai = ctx.session.get(Resource, ids.key(kubelet["resourceId"]))
        assert uai is not None and uai.name == "k1-agentpool"
        assert (uai.properties["principalId"], uai.properties["clientId"]) == (kubelet["objectId"],
                                                                               kubelet["clientId"])
        again, _ = service.put(ctx, ids.parse(cluster_id), {
            "location": "westeurope", "identity": {"type": "SystemAssigned"},
            "properties": {"dnsPrefix": "k1", "agentPoolProfiles": [{"name": "system", "count": 1}],
                           "addonProfiles": {"omsagent": {"enabled": True}}}}, API["aks"])
        assert again["properties"]["identityProfile"]["kubeletidentity"] == kubelet
        assert again["properties"]["addonProfiles"]["omsagent"]["identity"] == oms
        created = ctx.session.scalars(select(Event.subject).where(Event.kind == "resource.created")).all()
        assert {kubelet["resourceId"], oms["resourceId"]} <= set(created)  # written as any resource is
        # the node resource group deleted behind the cluster's back: the next PUT makes it again, new principals
        groups.delete(ctx, sub, "MC_apps_k1_westeurope")
        assert ctx.session.get(ServicePrincipal, kubelet["objectId"]) is None
        third, _ = service.put(ctx, ids.parse(cluster_id), {
            "location": "westeurope", "identity": {"type": "SystemAssigned"},
            "properties": {"dnsPrefix": "k1", "agentPoolProfiles": [{"name": "system", "count": 1}]}}, API["aks"])
        renewed = third["properties"]["identityProfile"]["kubeletidentity"]
        assert renewed["resourceId"] == kubelet["resourceId"] and renewed["objectId"] != kubelet["objectId"]
        assert groups.exists(ctx, sub, "MC_apps_k1_westeurope")
        assert ctx.session.get(ServicePrincipal, renewed["objectId"]) is not None
        kubelet = renewed
    with runtime.unit() as ctx:
        assert service.delete(ctx, ids.parse(cluster_id))
        assert not groups.exists(ctx, sub, "MC_apps_k1_westeurope")
        assert ctx.session.get(ServicePrincipal, kubelet["objectId"]) is None
        assert ctx.session.get(ServicePrincipal, oms["objectId"]) is None
