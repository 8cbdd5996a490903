"""Management locks hold as in Azure: CanNotDelete refuses deletes at and below its scope, ReadOnly refuses
writes, deletes and POST actions too (listKeys included); a scope with a lock inside cannot be deleted; removing
the lock lifts it. Through the Azure SDK (azure-mgmt-resource's ManagementLockClient and generic resources)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.resource import ResourceManagementClient
from azure.mgmt.resource.locks import ManagementLockClient
from azure.mgmt.resource.locks.models import ManagementLockObject
from azure.mgmt.resource.resources.models import GenericResource, ResourceGroup

from tests.simserver import Sim

ST_API = "2023-01-01"


@pytest.fixture(scope="module")
def clients(sim: Sim) -> Iterator[tuple[ResourceManagementClient, ManagementLockClient]]:
    credential = sim.credential()
    with ResourceManagementClient(credential, sim.subscription, **sim.mgmt_kwargs()) as rm, \
            ManagementLockClient(credential, sim.subscription, **sim.mgmt_kwargs()) as locks:
        yield rm, locks


def _group(rm: ResourceManagementClient) -> str:
    name = f"locked-{uuid.uuid4().hex[:8]}"
    rm.resource_groups.create_or_update(name, ResourceGroup(location="eastus"))
    return name


def _account(rm: ResourceManagementClient, group: str, name: str | None = None) -> str:
    name = name or f"st{uuid.uuid4().hex[:12]}"
    made = rm.resources.begin_create_or_update(
        group, "Microsoft.Storage", "", "storageAccounts", name, ST_API,
        GenericResource(location="eastus", kind="StorageV2", sku={"name": "Standard_LRS"})).result()
    return str(made.id)


def _locked(e: pytest.ExceptionInfo[HttpResponseError], operation: str, target: str, *scopes: str) -> None:
    assert e.value.status_code == 409 and e.value.error is not None
    assert e.value.error.code == "ScopeLocked"
    listed = ", ".join(f"'{s}'" for s in scopes)
    assert e.value.error.message == (f"The scope '{target}' cannot perform {operation} operation because following "
                                     f"scope(s) are locked: {listed}. Please remove the lock and try again.")


def test_can_not_delete(sim: Sim, clients: tuple[ResourceManagementClient, ManagementLockClient]) -> None:
    rm, locks = clients
    group = _group(rm)
    account = _account(rm, group)
    lock = locks.management_locks.create_or_update_by_scope(account, "keep", ManagementLockObject(
        level="CanNotDelete", notes="do not delete"))
    assert lock.level == "CanNotDelete"
    assert lock.id.lower() == f"{account}/providers/Microsoft.Authorization/locks/keep".lower()
    with pytest.raises(HttpResponseError) as e:
        rm.resources.begin_delete_by_id(account, ST_API).result()
    _locked(e, "delete", account, account)
    # writes are allowed under CanNotDelete
    rm.resources.begin_create_or_update_by_id(account, ST_API, GenericResource(
        location="eastus", kind="StorageV2", sku={"name": "Standard_LRS"}, tags={"still": "writable"})).result()
    # the group holds a locked resource: it cannot be deleted either
    with pytest.raises(HttpResponseError) as e:
        rm.resource_groups.begin_delete(group).result()
    _locked(e, "delete", f"/subscriptions/{sim.subscription}/resourceGroups/{group}", account)
    assert rm.resources.get_by_id(account, ST_API).tags == {"still": "writable"}
    # removing the lock lifts it
    locks.management_locks.delete_by_scope(account, "keep")
    rm.resources.begin_delete_by_id(account, ST_API).result()
    rm.resource_groups.begin_delete(group).result()


def test_read_only(sim: Sim, clients: tuple[ResourceManagementClient, ManagementLockClient]) -> None:
    rm, locks = clients
    group = _group(rm)
    account = _account(rm, group)
    locks.management_locks.create_or_update_at_resource_group_level(group, "frozen", ManagementLockObject(
        level="ReadOnly"))
    group_id = f"/subscriptions/{sim.subscription}/resourceGroups/{group}"
    assert rm.resources.get_by_id(account, ST_API).name  # reads go on
    new = f"{group_id}/providers/Microsoft.Storage/storageAccounts/st{uuid.uuid4().hex[:12]}"
    with pytest.raises(HttpResponseError) as e:
        rm.resources.begin_create_or_update_by_id(new, ST_API, GenericResource(
            location="eastus", kind="StorageV2", sku={"name": "Standard_LRS"})).result()
    _locked(e, "write", new, group_id)
    with pytest.raises(HttpResponseError) as e:
        rm.resource_groups.update(group, {"tags": {"x": "y"}})
    _locked(e, "write", group_id, group_id)
    with sim.http() as c:  # a POST action is a write: listKeys is refused under ReadOnly, as in Azure
        r = c.post(f"{account}/listKeys", params={"api-version": ST_API})
        assert r.status_code == 409 and r.json()["error"]["code"] == "ScopeLocked", r.text
    with pytest.raises(HttpResponseError) as e:
        rm.resources.begin_delete_by_id(account, ST_API).result()
    _locked(e, "delete", account, group_id)
    listed = [lk.name for lk in locks.management_locks.list_at_resource_group_level(group)]
    assert listed == ["frozen"]
    locks.management_locks.delete_at_resource_group_level(group, "frozen")
    with sim.http() as c:
        assert c.post(f"{account}/listKeys", params={"api-version": ST_API}).status_code == 200
    rm.resource_groups.begin_delete(group).result()


def test_a_lock_needs_a_level(sim: Sim, clients: tuple[ResourceManagementClient, ManagementLockClient]) -> None:
    rm, _ = clients
    group = _group(rm)
    with sim.http() as c:
        url = f"/subscriptions/{sim.subscription}/resourceGroups/{group}/providers/Microsoft.Authorization/locks/x"
        for body in ({"properties": {}}, {"properties": {"level": "Sometimes"}}):
            r = c.put(url, params={"api-version": "2020-05-01"}, json=body)
            assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidLockLevel", r.text
    rm.resource_groups.begin_delete(group).result()


def test_a_subscription_lock_holds_every_group(fresh_sim: Sim) -> None:
    credential: Any = fresh_sim.credential()
    with ResourceManagementClient(credential, fresh_sim.subscription, **fresh_sim.mgmt_kwargs()) as rm, \
            ManagementLockClient(credential, fresh_sim.subscription, **fresh_sim.mgmt_kwargs()) as locks:
        group = _group(rm)
        locks.management_locks.create_or_update_at_subscription_level("everything", ManagementLockObject(
            level="CanNotDelete"))
        sub = f"/subscriptions/{fresh_sim.subscription}"
        with pytest.raises(HttpResponseError) as e:
            rm.resource_groups.begin_delete(group).result()
        _locked(e, "delete", f"{sub}/resourceGroups/{group}", sub)
        _group(rm)  # creating is a write: allowed under CanNotDelete
        locks.management_locks.delete_at_subscription_level("everything")
        rm.resource_groups.begin_delete(group).result()
