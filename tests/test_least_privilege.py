"""Least privilege on ARM reads: a subscription and its lists show a principal only what its role assignments reach.

ARM lists a subscription only to a principal holding some role assignment in it (at it, above it or below it),
answers 404 SubscriptionNotFound to anyone else, filters the subscription's lists of groups and resources item
by item, and refuses those lists (403 AuthorizationFailed) to a principal with no assignment in it at all.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.resource import ResourceManagementClient, SubscriptionClient

from tests.simserver import Sim, fresh_database_url
from tests.test_rbac import READER, _app, _assign

SUBS = "api-version=2022-12-01"
RG_API = "api-version=2025-04-01"
ST_API = "api-version=2023-01-01"
MSI_API = "api-version=2023-01-31"
ACCOUNTS = "providers/Microsoft.Storage/storageAccounts"


def _client(sim: Sim, token: str) -> httpx.Client:
    return httpx.Client(base_url=sim.url, verify=sim.ca, headers={"Authorization": f"Bearer {token}"})


def _credential(sim: Sim, app: dict[str, Any]) -> ClientSecretCredential:
    return ClientSecretCredential(sim.tenant, app["appId"], app["clientSecret"], authority=sim.url,
                                  disable_instance_discovery=True, connection_verify=sim.ca)


def _two_groups(sim: Sim) -> tuple[str, str, str, str]:
    """Two new groups, each with a storage account; returns (rg1, rg2, account in rg1, account in rg2) ids."""
    sub = f"/subscriptions/{sim.subscription}"
    suffix = uuid.uuid4().hex[:8]
    rg1, rg2 = f"{sub}/resourceGroups/lp1-{suffix}", f"{sub}/resourceGroups/lp2-{suffix}"
    st1 = f"{rg1}/providers/Microsoft.Storage/storageAccounts/lpa{suffix}"
    st2 = f"{rg2}/providers/Microsoft.Storage/storageAccounts/lpb{suffix}"
    with sim.http() as c:
        for rg in (rg1, rg2):
            assert c.put(f"{rg}?{RG_API}", json={"location": "eastus"}).status_code == 201
        for st in (st1, st2):
            assert c.put(f"{st}?{ST_API}", json={"location": "eastus"}).status_code == 200
    return rg1, rg2, st1, st2


def test_no_assignment_no_subscription(sim: Sim) -> None:
    app, token = _app(sim, "nobody")
    sub = f"/subscriptions/{sim.subscription}"
    with _client(sim, token) as c:
        assert c.get(f"/subscriptions?{SUBS}").json()["value"] == []
        r = c.get(f"{sub}?{SUBS}")
        assert r.status_code == 404 and r.json()["error"] == {
            "code": "SubscriptionNotFound", "message": f"The subscription '{sim.subscription}' could not be found."}
        for tail, action in (("resourcegroups", "Microsoft.Resources/subscriptions/resourceGroups/read"),
                             ("resources", "Microsoft.Resources/subscriptions/resources/read")):
            r = c.get(f"{sub}/{tail}?{RG_API}")
            assert r.status_code == 403 and r.json()["error"]["code"] == "AuthorizationFailed"
            msg = r.json()["error"]["message"]
            assert action in msg and f"scope '{sub}'" in msg and app["servicePrincipalObjectId"] in msg
        # a subscription's locations and provider registrations need read on the subscription itself
        for tail, action in (("locations", "Microsoft.Resources/subscriptions/locations/read"),
                             ("providers", "Microsoft.Resources/subscriptions/providers/read"),
                             ("providers/Microsoft.Storage", "Microsoft.Resources/subscriptions/providers/read")):
            r = c.get(f"{sub}/{tail}?{SUBS}")
            assert r.status_code == 403 and r.json()["error"]["code"] == "AuthorizationFailed", r.text
            assert action in r.json()["error"]["message"] and f"scope '{sub}'" in r.json()["error"]["message"]
        assert c.get(f"/providers/Microsoft.Storage?{SUBS}").status_code == 200  # tenant-level metadata is free
        tenants = c.get(f"/tenants?{SUBS}").json()["value"]
        assert [t["tenantId"] for t in tenants] == [sim.tenant]  # its own tenant, whatever it may do in ARM
    with sim.http() as c:
        denied = c.get("/_sim/events", params={"kind": "access.denied",
                                               "principal": app["servicePrincipalObjectId"]}).json()["value"]
    assert {e["details"]["action"] for e in denied} >= {"Microsoft.Resources/subscriptions/read"}


def test_reader_on_one_group_sees_the_subscription_and_only_that_group(sim: Sim) -> None:
    rg1, rg2, st1, st2 = _two_groups(sim)
    app, token = _app(sim, "rg-reader")
    assert _assign(sim, rg1, READER, app["servicePrincipalObjectId"]).status_code == 201
    sub = f"/subscriptions/{sim.subscription}"
    with _client(sim, token) as c:
        assert [s["subscriptionId"] for s in c.get(f"/subscriptions?{SUBS}").json()["value"]] == [sim.subscription]
        assert c.get(f"{sub}?{SUBS}").json()["subscriptionId"] == sim.subscription
        groups = [g["id"] for g in c.get(f"{sub}/resourcegroups?{RG_API}").json()["value"]]
        assert groups == [rg1]
        resources = [r["id"] for r in c.get(f"{sub}/resources?{RG_API}").json()["value"]]
        assert resources == [st1]
        # filters and paging still apply to what it can see
        named = {"api-version": RG_API.split("=")[1], "$filter": f"name eq '{st2.rsplit('/', 1)[1]}'"}
        assert c.get(f"{sub}/resources", params=named).json()["value"] == []
        page = c.get(f"{sub}/resources?{RG_API}&$top=1").json()
        assert [r["id"] for r in page["value"]] == [st1]
        assert c.get(f"{rg2}?{RG_API}").status_code == 403
        assert c.get(f"{rg2}/resources?{RG_API}").status_code == 403


def test_reader_on_one_resource_lists_that_resource(sim: Sim) -> None:
    _, _, st1, st2 = _two_groups(sim)
    app, token = _app(sim, "st-reader")
    assert _assign(sim, st2, READER, app["servicePrincipalObjectId"]).status_code == 201
    sub = f"/subscriptions/{sim.subscription}"
    with _client(sim, token) as c:
        assert c.get(f"{sub}?{SUBS}").status_code == 200
        assert c.get(f"{sub}/resourcegroups?{RG_API}").json()["value"] == []
        assert [r["id"] for r in c.get(f"{sub}/resources?{RG_API}").json()["value"]] == [st2]


def _ids(c: httpx.Client, url: str) -> list[str]:
    """Every item of a list, following nextLink."""
    out: list[str] = []
    next_url: str | None = url
    while next_url:
        r = c.get(next_url)
        assert r.status_code == 200, r.text
        out += [item["id"] for item in r.json()["value"]]
        next_url = r.json().get("nextLink")
    return out


def _refused(r: httpx.Response, app: dict[str, Any], action: str, scope: str) -> None:
    assert r.status_code == 403 and r.json()["error"]["code"] == "AuthorizationFailed", r.text
    msg = r.json()["error"]["message"]
    assert f"action '{action}'" in msg and f"scope '{scope}'" in msg and app["servicePrincipalObjectId"] in msg


def test_type_list_in_the_subscription_shows_what_the_caller_may_read(sim: Sim) -> None:
    rg1, rg2, st1, st2 = _two_groups(sim)
    sub = f"/subscriptions/{sim.subscription}"
    app, token = _app(sim, "type-reader")
    with _client(sim, token) as c:  # nothing in the subscription: refused, as before
        _refused(c.get(f"{sub}/{ACCOUNTS}?{ST_API}"), app, "Microsoft.Storage/storageAccounts/read", sub)
    assert _assign(sim, rg1, READER, app["servicePrincipalObjectId"]).status_code == 201
    with _client(sim, token) as c:
        assert _ids(c, f"{sub}/{ACCOUNTS}?{ST_API}") == [st1]
        named = {"api-version": ST_API.split("=")[1], "$filter": f"name eq '{st2.rsplit('/', 1)[1]}'"}
        assert c.get(f"{sub}/{ACCOUNTS}", params=named).json()["value"] == []
    assert _assign(sim, st2, READER, app["servicePrincipalObjectId"]).status_code == 201
    with _client(sim, token) as c:  # paging one item at a time still reaches every readable item, and only those
        assert _ids(c, f"{sub}/{ACCOUNTS}?{ST_API}&$top=1") == sorted([st1, st2], key=str.lower)
        assert sorted(_ids(c, f"{sub}/resources?{RG_API}")) == sorted([st1, st2])


def test_reader_on_one_resource_lists_it_in_its_group(sim: Sim) -> None:
    rg1, rg2, st1, st2 = _two_groups(sim)
    hidden = f"{rg2}/providers/Microsoft.Storage/storageAccounts/lph{uuid.uuid4().hex[:8]}"
    with sim.http() as c:
        assert c.put(f"{hidden}?{ST_API}", json={"location": "eastus"}).status_code == 200
    app, token = _app(sim, "one-resource")
    assert _assign(sim, st2, READER, app["servicePrincipalObjectId"]).status_code == 201
    with _client(sim, token) as c:
        assert _ids(c, f"{rg2}/resources?{RG_API}") == [st2]
        assert _ids(c, f"{rg2}/{ACCOUNTS}?{ST_API}") == [st2]
        assert _ids(c, f"{rg2}/resources?{RG_API}&$top=1") == [st2]
        assert c.get(f"{rg2}?{RG_API}").status_code == 403  # the group itself is not readable
        # nothing at or inside rg1: refused, as before
        _refused(c.get(f"{rg1}/resources?{RG_API}"), app,
                 "Microsoft.Resources/subscriptions/resourceGroups/resources/read", rg1)
        _refused(c.get(f"{rg1}/{ACCOUNTS}?{ST_API}"), app, "Microsoft.Storage/storageAccounts/read", rg1)
        missing = f"/subscriptions/{sim.subscription}/resourceGroups/lp-missing-{uuid.uuid4().hex[:8]}"
        assert c.get(f"{missing}/resources?{RG_API}").status_code == 403
    with sim.http() as c:  # whoever may read the whole group sees it all
        assert sorted(_ids(c, f"{rg2}/resources?{RG_API}")) == sorted([st2, hidden])
        assert sorted(_ids(c, f"{rg2}/{ACCOUNTS}?{ST_API}")) == sorted([st2, hidden])


def test_type_lists_through_the_sdk(sim: Sim) -> None:
    rg1, rg2, _, _ = _two_groups(sim)
    suffix = uuid.uuid4().hex[:8]
    mi1 = f"{rg1}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/lpmi1-{suffix}"
    mi2 = f"{rg2}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/lpmi2-{suffix}"
    mi3 = f"{rg2}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/lpmi3-{suffix}"
    with sim.http() as c:
        for mi in (mi1, mi2, mi3):
            assert c.put(f"{mi}?{MSI_API}", json={"location": "eastus"}).status_code in (200, 201)
    app, _ = _app(sim, "sdk-type-reader")
    cred, kwargs = _credential(sim, app), sim.mgmt_kwargs()
    rg1_name, rg2_name = rg1.rsplit("/", 1)[1], rg2.rsplit("/", 1)[1]
    with ManagedServiceIdentityClient(cred, sim.subscription, **kwargs) as msi:
        with pytest.raises(HttpResponseError) as e:
            list(msi.user_assigned_identities.list_by_subscription())
        assert e.value.status_code == 403 and e.value.error is not None
        assert e.value.error.code == "AuthorizationFailed"
    assert _assign(sim, rg1, READER, app["servicePrincipalObjectId"]).status_code == 201
    assert _assign(sim, mi2, READER, app["servicePrincipalObjectId"]).status_code == 201
    with ManagedServiceIdentityClient(cred, sim.subscription, **kwargs) as msi:
        assert sorted(i.id for i in msi.user_assigned_identities.list_by_subscription()) == sorted([mi1, mi2])
        assert [i.id for i in msi.user_assigned_identities.list_by_resource_group(rg2_name)] == [mi2]
        assert [i.id for i in msi.user_assigned_identities.list_by_resource_group(rg1_name)] == [mi1]
    with ResourceManagementClient(cred, sim.subscription, **kwargs) as rm:
        assert [r.id for r in rm.resources.list_by_resource_group(rg2_name)] == [mi2]
        assert mi1 in {r.id for r in rm.resources.list_by_resource_group(rg1_name)}  # a Reader on rg1: all of rg1
    with ManagedServiceIdentityClient(sim.credential(), sim.subscription, **kwargs) as msi:  # the fast path
        assert {mi1, mi2, mi3} <= {i.id for i in msi.user_assigned_identities.list_by_subscription()}
        assert sorted(i.id for i in msi.user_assigned_identities.list_by_resource_group(rg2_name)) == sorted(
            [mi2, mi3])


def test_through_the_sdk(sim: Sim) -> None:
    rg1, _, _, _ = _two_groups(sim)
    app, _ = _app(sim, "sdk-reader")
    cred = _credential(sim, app)
    kwargs = sim.mgmt_kwargs()
    with SubscriptionClient(cred, **kwargs) as subs:
        assert list(subs.subscriptions.list()) == []
        with pytest.raises(ResourceNotFoundError) as e:
            subs.subscriptions.get(sim.subscription)
        assert e.value.error is not None and e.value.error.code == "SubscriptionNotFound"
    with ResourceManagementClient(cred, sim.subscription, **kwargs) as rm:
        with pytest.raises(HttpResponseError) as e2:
            list(rm.resource_groups.list())
        assert e2.value.status_code == 403 and e2.value.error is not None
        assert e2.value.error.code == "AuthorizationFailed"
    assert _assign(sim, rg1, READER, app["servicePrincipalObjectId"]).status_code == 201
    with SubscriptionClient(cred, **kwargs) as subs:
        assert [s.subscription_id for s in subs.subscriptions.list()] == [sim.subscription]
        assert subs.subscriptions.get(sim.subscription).tenant_id == sim.tenant
        assert [t.tenant_id for t in subs.tenants.list()] == [sim.tenant]
    with ResourceManagementClient(cred, sim.subscription, **kwargs) as rm:
        assert [g.name for g in rm.resource_groups.list()] == [rg1.rsplit("/", 1)[1]]


def test_the_bootstrap_principal_sees_everything(sim: Sim) -> None:
    rg1, rg2, st1, st2 = _two_groups(sim)
    sub = f"/subscriptions/{sim.subscription}"
    with sim.http() as c:
        assert [s["subscriptionId"] for s in c.get(f"/subscriptions?{SUBS}").json()["value"]] == [sim.subscription]
        assert c.get(f"{sub}?{SUBS}").status_code == 200
        groups = {g["id"] for g in c.get(f"{sub}/resourcegroups?{RG_API}").json()["value"]}
        assert {rg1, rg2} <= groups
        assert {st1, st2} <= {r["id"] for r in c.get(f"{sub}/resources?{RG_API}").json()["value"]}
        assert {st1, st2} <= set(_ids(c, f"{sub}/{ACCOUNTS}?{ST_API}"))
        assert _ids(c, f"{rg1}/{ACCOUNTS}?{ST_API}") == [st1]
    with SubscriptionClient(sim.credential(), **sim.mgmt_kwargs()) as subs:
        assert [s.subscription_id for s in subs.subscriptions.list()] == [sim.subscription]


@pytest.mark.parametrize("mode", ["audit", "off"])
def test_audit_and_off_show_everything(tmp_path: Path, mode: str) -> None:
    sim = Sim(home=tmp_path / "sim", database_url=fresh_database_url(), extra_env={"ARM_SIM_RBAC": mode}).start()
    try:
        rg1, rg2, st1, st2 = _two_groups(sim)
        app, token = _app(sim, "nobody")
        sub = f"/subscriptions/{sim.subscription}"
        with _client(sim, token) as c:
            assert [s["subscriptionId"] for s in c.get(f"/subscriptions?{SUBS}").json()["value"]] == [
                sim.subscription]
            assert c.get(f"{sub}?{SUBS}").status_code == 200
            assert {g["id"] for g in c.get(f"{sub}/resourcegroups?{RG_API}").json()["value"]} == {rg1, rg2}
            assert {r["id"] for r in c.get(f"{sub}/resources?{RG_API}").json()["value"]} == {st1, st2}
            assert set(_ids(c, f"{sub}/{ACCOUNTS}?{ST_API}")) == {st1, st2}
            assert _ids(c, f"{rg1}/resources?{RG_API}") == [st1]
            assert _ids(c, f"{rg2}/{ACCOUNTS}?{ST_API}") == [st2]
        with sim.http() as c:
            audited = c.get("/_sim/events", params={"kind": "access.audited",
                                                    "principal": app["servicePrincipalObjectId"]}).json()["value"]
            denied = c.get("/_sim/events", params={"kind": "access.denied"}).json()["value"]
        assert not denied
        actions = {e["details"]["action"] for e in audited}
        if mode == "audit":
            assert {"Microsoft.Resources/subscriptions/read",
                    "Microsoft.Resources/subscriptions/resourceGroups/read",
                    "Microsoft.Resources/subscriptions/resources/read",
                    "Microsoft.Resources/subscriptions/resourceGroups/resources/read",
                    "Microsoft.Storage/storageAccounts/read"} <= actions
        else:
            assert not audited
    finally:
        sim.stop()
