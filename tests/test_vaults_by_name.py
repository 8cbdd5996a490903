"""Vaults are reached by name, so no port limits how many exist: the main listener serves each vault's data plane
at `{name}.vault.{public host}` (and, for the proxy, `{name}.vault.azure.net`); a vault port is lent while one is
free and given back at soft delete."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx

from tests.simserver import Sim, free_range, fresh_database_url
from tests.test_keyvault_secrets import KV_SCOPE, claims_of

VAULT_API = "2023-07-01"
KV_API = "api-version=7.4"


def _vault_body(sim: Sim, object_id: str | None = None) -> dict[str, object]:
    policies = [{"tenantId": sim.tenant, "objectId": object_id, "permissions": {"secrets": ["all"]}}] if (
        object_id) else []
    return {"location": "eastus", "properties": {"tenantId": sim.tenant, "accessPolicies": policies,
                                                 "sku": {"family": "A", "name": "standard"}}}


def test_a_thousand_vault_create_and_delete_cycles_never_run_out(tmp_path: Path) -> None:
    sim = Sim(home=tmp_path / "sim", database_url=fresh_database_url(), vault_ports=free_range(2),
              extra_env={"ARM_SIM_LRO": "sync"}).start()
    try:
        with sim.http() as arm:
            group = f"/subscriptions/{sim.subscription}/resourceGroups/rg-cycles"
            arm.put(f"{group}?api-version=2024-11-01", json={"location": "eastus"}).raise_for_status()
            started, body = time.monotonic(), _vault_body(sim)
            for n in range(1000):
                vault = f"{group}/providers/Microsoft.KeyVault/vaults/kv-cycle-{n:04d}?api-version={VAULT_API}"
                created = arm.put(vault, json=body)
                assert created.status_code == 200, (n, created.text)  # Key Vault's create answers 200
                assert arm.delete(vault).status_code == 200, n
            took = time.monotonic() - started
            deleted = arm.get(f"/subscriptions/{sim.subscription}/providers/Microsoft.KeyVault/deletedVaults",
                              params={"api-version": VAULT_API}).json()
            count = len(deleted["value"])
            while deleted.get("nextLink"):
                deleted = arm.get(deleted["nextLink"]).json()
                count += len(deleted["value"])
        print(f"\n1000 vault create+delete cycles in {took:.1f} s; {count} soft-deleted vaults kept")
        assert count == 1000
    finally:
        sim.stop()


def test_the_main_listener_serves_a_vault_by_its_name(tmp_path: Path) -> None:
    sim = Sim(home=tmp_path / "sim", database_url=fresh_database_url(), vault_ports=free_range(1),
              extra_env={"ARM_SIM_LRO": "sync"}).start()
    try:
        token = sim.token(KV_SCOPE)
        with sim.http() as arm:
            group = f"/subscriptions/{sim.subscription}/resourceGroups/rg-names"
            arm.put(f"{group}?api-version=2024-11-01", json={"location": "eastus"}).raise_for_status()
            names = [f"kv{uuid.uuid4().hex[:10]}" for _ in range(2)]
            uris = [arm.put(f"{group}/providers/Microsoft.KeyVault/vaults/{n}?api-version={VAULT_API}",
                            json=_vault_body(sim, claims_of(token)["oid"])).json()["properties"]["vaultUri"]
                    for n in names]
        port = sim.url.rsplit(":", 1)[1]
        assert uris == [f"https://localhost:{sim.vault_ports[0]}/", f"https://{names[1]}.vault.localhost:{port}/"]
        # this machine need not resolve *.localhost: connect to the main listener, ask for the vault by Host
        with httpx.Client(base_url=sim.url, verify=sim.ca, headers={"Authorization": f"Bearer {token}"}) as kv:
            for name in names:  # by name, whether or not the vault also holds a port
                host = {"Host": f"{name}.vault.localhost:{port}"}
                put = kv.put(f"/secrets/greeting?{KV_API}", json={"value": f"hello {name}"}, headers=host)
                assert put.status_code == 200, put.text
                assert put.json()["id"].startswith(f"https://{name}.vault.localhost:{port}/secrets/greeting/")
                got = kv.get(f"/secrets/greeting?{KV_API}", headers=host).json()
                assert got["value"] == f"hello {name}"
            missing = kv.get(f"/secrets/greeting?{KV_API}", headers={"Host": f"nosuchvault.vault.localhost:{port}"})
            assert missing.status_code == 404 and missing.json()["error"]["code"] == "VaultNotFound"
            challenge = httpx.get(f"{sim.url}/secrets?{KV_API}", verify=sim.ca,
                                  headers={"Host": f"{names[0]}.vault.azure.net"})
            assert challenge.status_code == 401
            assert 'authorization="https://login.microsoftonline.com/' in challenge.headers["www-authenticate"]
            assert 'resource="https://vault.azure.net"' in challenge.headers["www-authenticate"]
            # ARM itself is not served under a vault's name
            assert kv.get(f"/subscriptions/{sim.subscription}?api-version=2024-11-01",
                          headers={"Host": f"{names[0]}.vault.localhost:{port}"}).status_code != 200
    finally:
        sim.stop()
