"""What the Network, Storage and App Service resource providers refuse before storing, with their own codes and
wordings (as real Azure answers quote them). Nothing refused is stored."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.simserver import Sim

NET = {"api-version": "2024-05-01"}
ST = {"api-version": "2023-01-01"}
WEB = {"api-version": "2024-04-01"}


@pytest.fixture(scope="module")
def group(sim: Sim) -> Iterator[str]:
    rg = f"/subscriptions/{sim.subscription}/resourceGroups/checks-{uuid.uuid4().hex[:8]}"
    with sim.http() as c:
        assert c.put(rg, params={"api-version": "2025-04-01"}, json={"location": "eastus"}).status_code == 201
    yield rg


def _refused(r: httpx.Response, code: str, message: str) -> None:
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == code, r.text
    assert r.json()["error"]["message"] == message, r.text


def _vnet(subnets: list[dict[str, Any]], prefixes: tuple[str, ...] = ("10.0.0.0/16",),
          location: str = "eastus") -> dict[str, Any]:
    return {"location": location, "properties": {"addressSpace": {"addressPrefixes": list(prefixes)},
                                                 "subnets": subnets}}


def _subnet(name: str, prefix: str) -> dict[str, Any]:
    return {"name": name, "properties": {"addressPrefix": prefix}}


def test_virtual_network_prefixes(sim: Sim, group: str) -> None:
    vnet = f"{group}/providers/Microsoft.Network/virtualNetworks/net"
    with sim.http() as c:
        _refused(c.put(vnet, params=NET, json=_vnet([_subnet("a", "10.0.0.0")])), "InvalidAddressPrefixFormat",
                 f"Address prefix 10.0.0.0 of resource {vnet}/subnets/a is not formatted correctly. It should follow "
                 "CIDR notation, for example 10.0.0.0/24.")
        _refused(c.put(vnet, params=NET, json=_vnet([_subnet("a", "10.0.1.7/24")])), "InvalidCIDRNotation",
                 f"The address prefix 10.0.1.7/24 in resource {vnet}/subnets/a has an invalid CIDR notation. For the "
                 "given prefix length, the address prefix should be 10.0.1.0/24.")
        _refused(c.put(vnet, params=NET, json=_vnet([{"name": "a", "properties": {}}])),
                 "AddressPrefixStringCannotBeNullOrEmpty",
                 f"Address prefix string for resource {vnet}/subnets/a cannot be null or empty.")
        _refused(c.put(vnet, params=NET, json=_vnet([_subnet("a", "10.1.0.0/24")])), "NetcfgSubnetRangeOutsideVnet",
                 "Subnet 'a' is not valid because its IP address range is outside the IP address range of virtual "
                 "network 'net'.")
        _refused(c.put(vnet, params=NET, json=_vnet([_subnet("a", "10.0.0.0/24"), _subnet("b", "10.0.0.128/25")])),
                 "NetcfgSubnetRangesOverlap",
                 "Subnet 'b' is not valid because its IP address range overlaps with that of an existing subnet in "
                 "virtual network 'net'.")
        assert c.get(vnet, params=NET).status_code == 404  # nothing refused was stored
        assert c.put(vnet, params=NET, json=_vnet([_subnet("a", "10.0.0.0/24")])).status_code in (200, 201)
        # a subnet written as a child resource is checked against its network and its siblings
        _refused(c.put(f"{vnet}/subnets/b", params=NET, json={"properties": {"addressPrefix": "10.0.0.0/25"}}),
                 "NetcfgSubnetRangesOverlap",
                 "Subnet 'b' is not valid because its IP address range overlaps with that of an existing subnet in "
                 "virtual network 'net'.")
        assert c.put(f"{vnet}/subnets/b", params=NET,
                     json={"properties": {"addressPrefix": "10.0.1.0/24"}}).status_code in (200, 201)


def test_network_interfaces(sim: Sim, group: str) -> None:
    vnet = f"{group}/providers/Microsoft.Network/virtualNetworks/nicnet"
    nic = f"{group}/providers/Microsoft.Network/networkInterfaces/nic"
    with sim.http() as c:
        assert c.put(vnet, params=NET, json=_vnet([_subnet("default", "10.0.0.0/24")])).status_code in (200, 201)

        def config(subnet: str | None) -> dict[str, Any]:
            return {"name": "ip1", "properties": {"subnet": {"id": subnet}} if subnet else {}}

        for body in ({"location": "eastus", "properties": {}},
                     {"location": "eastus", "properties": {"ipConfigurations": []}}):
            _refused(c.put(nic, params=NET, json=body), "InvalidIPConfigCount",
                     "Network interface nic must have one or more IP configurations.")
        _refused(c.put(nic, params=NET,
                       json={"location": "eastus", "properties": {"ipConfigurations": [config(None)]}}),
                 "SubnetIsRequired", f"Subnet reference is required for ipconfiguration {nic}/ipConfigurations/ip1.")
        missing = f"{vnet}/subnets/nope"
        elsewhere = "westus"
        for subnet, location in ((missing, "eastus"), (f"{vnet}/subnets/default", elsewhere)):
            _refused(c.put(nic, params=NET, json={"location": location,
                                                  "properties": {"ipConfigurations": [config(subnet)]}}),
                     "InvalidResourceReference",
                     f"Resource {subnet} referenced by resource {nic} was not found. Please make sure that the "
                     "referenced resource exists, and that both resources are in the same region.")
        assert c.get(nic, params=NET).status_code == 404
        made = c.put(nic, params=NET, json={"location": "eastus", "properties": {
            "ipConfigurations": [config(f"{vnet}/subnets/default")]}})
        assert made.status_code in (200, 201), made.text


def test_public_ip_standard_is_static(sim: Sim, group: str) -> None:
    ip = f"{group}/providers/Microsoft.Network/publicIPAddresses/pip"
    with sim.http() as c:
        _refused(c.put(ip, params=NET, json={"location": "eastus", "sku": {"name": "Standard"},
                                             "properties": {"publicIPAllocationMethod": "Dynamic"}}),
                 "StandardSkuPublicIPAddressesMustBeStatic",
                 f"Standard sku publicIp {ip} must have AllocationMethod set to Static.")
        r = c.put(ip, params=NET, json={"location": "eastus", "sku": {"name": "Standard"}})
        assert r.status_code in (200, 201) and r.json()["properties"]["publicIPAllocationMethod"] == "Static"


def test_storage_sku_and_kind_values(sim: Sim, group: str) -> None:
    account = f"{group}/providers/Microsoft.Storage/storageAccounts/st{uuid.uuid4().hex[:12]}"
    with sim.http() as c:
        for body, what in (({"sku": {"name": "Standard_XYZ"}, "kind": "StorageV2"}, "sku"),
                           ({"sku": {"name": "Standard_LRS"}, "kind": "StorageV9"}, "kind"),
                           ({"sku": {"name": "Nope"}, "kind": "Nope"}, "kind, sku")):
            _refused(c.put(account, params=ST, json={"location": "eastus", **body}),
                     "InvalidValuesForRequestParameters", f"Values for request parameters are invalid: {what}.")
        assert c.get(account, params=ST).status_code == 404


def test_app_service_needs_a_plan_with_a_sku(sim: Sim, group: str) -> None:
    plan = f"{group}/providers/Microsoft.Web/serverfarms/plan"
    site = f"{group}/providers/Microsoft.Web/sites/app-{uuid.uuid4().hex[:8]}"
    with sim.http() as c:
        _refused(c.put(plan, params=WEB, json={"location": "eastus"}), "BadRequest",
                 "The parameter SKU cannot be null.")
        _refused(c.put(site, params=WEB, json={"location": "eastus", "properties": {}}), "BadRequest",
                 "Parameter ServerFarmId is null or empty.")
        assert c.put(plan, params=WEB, json={"location": "eastus", "sku": {"name": "B1"}}).status_code in (200, 201)
        r = c.put(site, params=WEB, json={"location": "eastus", "properties": {"serverFarmId": plan}})
        assert r.status_code in (200, 201), r.text
        # a later PUT that leaves the plan out keeps the site on it
        again = c.put(site, params=WEB, json={"location": "eastus", "tags": {"x": "y"}})
        assert again.status_code == 200 and again.json()["properties"]["serverFarmId"] == plan, again.text
