"""`grant.orphaned` is a durable event (domain/principal_deletion.py): a VM's deletion takes its system-assigned
principal, and each grant naming it (a role assignment, a vault's access-policy entry) gets one event, written in
the deletion's transaction: visible after a restart, found by kind, principal and resource, printed by the request
log and by `arm-sim events`; none for a principal without grants, none when the deletion is rolled back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from arm_sim.core.settings import Settings
from arm_sim.db.engine import make_engine, make_sessionmaker
from arm_sim.domain import events, managed_identities
from arm_sim.domain.runtime import Runtime
from tests.simserver import Sim, fresh_database_url
from tests.vmspec import nic, properties

VM_API = {"api-version": "2024-07-01"}
RA_API = {"api-version": "2022-04-01"}
KV_API = {"api-version": "2023-07-01"}
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    server = Sim(home=tmp_path / "sim", database_url=fresh_database_url(), extra_env={
        "ARM_SIM_LRO": "sync", "ARM_SIM_LOG_LEVEL": "info", "ARM_SIM_LOG_FORMAT": "json"}).start()
    yield server
    server.stop()


def _vm(c: httpx.Client, group: str, name: str) -> tuple[str, str]:
    vm = f"{group}/providers/Microsoft.Compute/virtualMachines/{name}"
    r = c.put(vm, params=VM_API, json={"location": "eastus", "identity": {"type": "SystemAssigned"},
                                       "properties": properties(nic(c, group), name)})
    assert r.status_code in (200, 201), r.text
    return vm, r.json()["identity"]["principalId"]


def _orphaned(c: httpx.Client, **query: str) -> list[dict[str, Any]]:
    r = c.get("/_sim/events", params={"kind": "grant.orphaned", **query})
    assert r.status_code == 200, r.text
    return list(r.json()["value"])


def test_a_deleted_vm_leaves_one_durable_event_per_grant(sim: Sim) -> None:
    group = f"/subscriptions/{sim.subscription}/resourceGroups/rg-orphans"
    with sim.http() as c:
        assert c.put(group, params={"api-version": "2025-04-01"}, json={"location": "eastus"}).status_code == 201
        vm, principal = _vm(c, group, "web1")
        bare_vm, bare = _vm(c, group, "bare1")  # a principal with no grant at all
        ra = f"{group}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
        r = c.put(ra, params=RA_API, json={"properties": {
            "roleDefinitionId": f"/subscriptions/{sim.subscription}/providers/Microsoft.Authorization/"
                                f"roleDefinitions/{READER}", "principalId": principal}})
        assert r.status_code == 201, r.text
        vault = f"{group}/providers/Microsoft.KeyVault/vaults/kvo{uuid.uuid4().hex[:10]}"
        r = c.put(vault, params=KV_API, json={"location": "eastus", "properties": {
            "tenantId": sim.tenant, "sku": {"family": "A", "name": "standard"}, "accessPolicies": [
                {"tenantId": sim.tenant, "objectId": principal.upper(), "permissions": {"secrets": ["get", "list"]}}]}})
        assert r.status_code in (200, 201), r.text
        vault_id = r.json()["id"]

        # a deletion that fails after the principal went (an exception in the same unit) leaves no event
        settings = Settings(home=sim.home, database_url=sim.database_url)
        engine = make_engine(settings.db_url)
        try:
            rt = Runtime(settings, make_sessionmaker(engine))
            with pytest.raises(RuntimeError, match="after the deletion"), rt.unit() as ctx:
                managed_identities.delete_principal(ctx, principal, "resource deleted")
                assert len(events.query(ctx, kind="grant.orphaned", principal=principal)) == 2  # written, in the unit
                raise RuntimeError("a failure after the deletion")
        finally:
            engine.dispose()
        assert _orphaned(c, principal=principal) == []
        assert c.get(vm, params=VM_API).json()["identity"]["principalId"] == principal  # nothing happened

        assert c.delete(vm, params=VM_API).status_code == 200
        assert c.delete(bare_vm, params=VM_API).status_code == 200
        found = _orphaned(c, principal=principal)
        assert sorted(e["subject"] for e in found) == sorted([ra, vault_id]), found
        by_grant = {e["details"]["grant"]: dict(e["details"]) for e in found}
        assert {d.pop("resourceId").lower() for d in by_grant.values()} == {vm.lower()}  # who owned the principal
        assert by_grant["roleAssignment"] == {
            "principalId": principal, "grant": "roleAssignment", "role": "Reader", "scope": group,
            "roleDefinitionId": f"/subscriptions/{sim.subscription}/providers/Microsoft.Authorization/"
                                f"roleDefinitions/{READER}"}
        assert by_grant["accessPolicy"]["permissions"] == {"secrets": ["get", "list"]}
        assert by_grant["accessPolicy"]["vault"] == vault_id
        deleted = c.get("/_sim/events", params={"kind": "servicePrincipal.deleted", "principal": principal}).json()
        assert min(e["seq"] for e in found) > deleted["value"][0]["seq"]  # after the deletion, in its unit
        assert _orphaned(c, principal=bare) == []
        # the resource filter finds them though their subjects are the grants: they are the VM's principal's
        assert [e["seq"] for e in _orphaned(c, resource=vm)] == [e["seq"] for e in found]
        assert _orphaned(c, resource=bare_vm) == []
        assert len(_orphaned(c)) == 2

    sim.restart()  # a new server process on the same database
    with sim.http() as c:
        assert [e["seq"] for e in _orphaned(c, principal=principal)] == [e["seq"] for e in found]
    table = sim.cli("events", "--kind", "grant.orphaned")
    assert table.returncode == 0, table.stderr
    rows = [line for line in table.stdout.splitlines() if "grant.orphaned" in line]
    assert len(rows) == 2, table.stdout
    assert any(ra.rsplit("/providers/", 1)[1] in r and "role Reader at" in r and f"{principal} (web1)" in r
               for r in rows), rows
    assert any("access policy secrets: get/list" in r for r in rows), rows
    out = sim.cli("events", "--kind", "grant.orphaned", "-o", "json").stdout
    listed = [json.loads(line) for line in out.splitlines()]
    assert sorted(e["subject"] for e in listed) == sorted([ra, vault_id])
    # the request log prints the stored events, once each (the restart did not print them again)
    lines = [json.loads(x) for x in (sim.home / "server.log").read_text().splitlines() if x.startswith("{")]
    logged = [x for x in lines if x.get("kind") == "grant.orphaned"]
    assert sorted(x["subject"] for x in logged) == sorted([ra, vault_id]), logged
    assert {x["principalId"] for x in logged} == {principal}
