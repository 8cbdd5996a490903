"""A VM that Compute accepts, for tests, benchmarks and examples: a size, an image, an OS profile and a network
interface that exists in the VM's region (a virtual network with a subnet and a NIC in it, made once per group).
REST bodies only (httpx), so that nothing here needs an Azure SDK."""

from __future__ import annotations

from typing import Any

import httpx

NET_API = "api-version=2024-05-01"
SIZE = "Standard_B1s"
IMAGE = {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2",
         "version": "latest"}
PASSWORD = "N0t-a-real-password!"  # Azure's password rules, and obviously not a secret


def nic(http: httpx.Client, group_id: str, name: str = "nic-shared", location: str = "eastus") -> str:
    """A network interface in the group (made on first use, then reused); returns its id. `http` is an ARM
    client (base URL and token) that may write in the group."""
    vnet = f"{group_id}/providers/Microsoft.Network/virtualNetworks/vnet-{location}"
    nic_id = f"{group_id}/providers/Microsoft.Network/networkInterfaces/{name}"
    if http.get(f"{nic_id}?{NET_API}").status_code == 200:
        return nic_id
    r = http.put(f"{vnet}?{NET_API}", json={"location": location, "properties": {
        "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
        "subnets": [{"name": "default", "properties": {"addressPrefix": "10.0.0.0/24"}}]}})
    if r.status_code not in (200, 201):
        raise RuntimeError(f"virtual network {vnet}: {r.status_code} {r.text[:300]}")
    r = http.put(f"{nic_id}?{NET_API}", json={"location": location, "properties": {"ipConfigurations": [
        {"name": "ipconfig1", "properties": {"subnet": {"id": f"{vnet}/subnets/default"}}}]}})
    if r.status_code not in (200, 201):
        raise RuntimeError(f"network interface {nic_id}: {r.status_code} {r.text[:300]}")
    return nic_id


def properties(nic_id: str, computer_name: str) -> dict[str, Any]:
    """A VM's `properties` for REST and templates."""
    return {"hardwareProfile": {"vmSize": SIZE}, "storageProfile": {"imageReference": dict(IMAGE)},
            "osProfile": {"computerName": computer_name[:15], "adminUsername": "azureuser", "adminPassword": PASSWORD},
            "networkProfile": {"networkInterfaces": [{"id": nic_id}]}}
