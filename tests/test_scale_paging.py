"""Issue 18 point 5: lists page by key (`$skipToken` carries the last key; no OFFSET), so every resource shows once
across the pages, in key order, whatever is written between two pages; and a delete takes exactly what lies below
the resource (a key range), not its namesakes. Timings live in bench/ (bench/paging.py), not here."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import httpx

from tests.simserver import Sim

GENERIC = "Microsoft.Relay/namespaces"  # stored generically
GENERIC_API = "2024-01-01"
GROUPS_API = "2021-04-01"
NET_API = "2024-03-01"


def _group(c: httpx.Client, sim: Sim, name: str) -> str:
    rg = f"/subscriptions/{sim.subscription}/resourceGroups/{name}"
    r = c.put(rg, params={"api-version": GROUPS_API}, json={"location": "eastus"})
    assert r.status_code in (200, 201), r.text
    return rg


def _put(c: httpx.Client, rid: str, api: str = GENERIC_API, body: dict[str, Any] | None = None) -> None:
    r = c.put(rid, params={"api-version": api}, json=body if body is not None else {"location": "eastus"})
    assert r.status_code in (200, 201), r.text


def _delete(c: httpx.Client, rid: str, api: str = GENERIC_API) -> None:
    r = c.delete(rid, params={"api-version": api})
    assert r.status_code in (200, 202, 204), r.text


def _deploy_many(c: httpx.Client, rg: str, count: int, prefix: str) -> None:
    """`count` generic resources in one deployment (a copy loop of at most 800, as ARM allows)."""
    done = 0
    while done < count:
        n = min(800, count - done)
        template = {
            "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
            "contentVersion": "1.0.0.0",
            "resources": [{"type": GENERIC, "apiVersion": GENERIC_API, "location": "eastus",
                           "name": f"[concat('{prefix}', add({done}, copyIndex()))]",
                           "copy": {"name": "many", "count": n}, "properties": {}}]}
        r = c.put(f"{rg}/providers/Microsoft.Resources/deployments/many-{done}", params={"api-version": GROUPS_API},
                  json={"properties": {"mode": "Incremental", "template": template}}, timeout=300)
        assert r.status_code in (200, 201), r.text
        state = c.get(f"{rg}/providers/Microsoft.Resources/deployments/many-{done}",
                      params={"api-version": GROUPS_API}).json()["properties"]["provisioningState"]
        assert state == "Succeeded"
        done += n


def _pages(c: httpx.Client, url: str, params: dict[str, str]) -> list[list[str]]:
    """The ids of each page, following nextLink to the end."""
    page = c.get(url, params=params)
    assert page.status_code == 200, page.text
    body = page.json()
    out = [[x["id"] for x in body["value"]]]
    while "nextLink" in body:
        assert "$skiptoken=" in unquote(body["nextLink"]).lower()
        page = c.get(body["nextLink"])
        assert page.status_code == 200, page.text
        body = page.json()
        out.append([x["id"] for x in body["value"]])
    return out


def _key_order(resource_ids: list[str]) -> list[str]:
    return sorted(resource_ids, key=str.lower)  # keys are the case-folded ids, compared bytewise


def test_a_group_pages_every_top_level_resource_once_in_key_order(sim: Sim, rg_name: str) -> None:
    # names whose order depends on bytewise comparison of the case-folded key: '-' '.' '0' '_' around a name
    names = ["a", "A-b", "a.b", "a0", "a_b", "aa", "B", "b-1", "Zed", "z.z", "m", "M1", "m-0", "m.0", "m_0",
             *(f"gen-{i:02d}" for i in range(20))]
    with sim.http() as c:
        rg = _group(c, sim, rg_name)
        ids = [f"{rg}/providers/{GENERIC}/{n}" for n in names]
        for rid in ids:
            _put(c, rid)
        vnet = f"{rg}/providers/Microsoft.Network/virtualNetworks/net"  # a child resource is not listed
        _put(c, vnet, NET_API, {"location": "eastus", "properties": {}})
        _put(c, f"{vnet}/subnets/s1", NET_API, {"properties": {"addressPrefix": "10.0.0.0/24"}})
        lock = f"{rg}/providers/Microsoft.Authorization/locks/l1"  # nor an extension resource of the group
        _put(c, lock, "2020-05-01", {"properties": {"level": "CanNotDelete"}})
        try:
            expected = _key_order([*ids, vnet])
            pages = _pages(c, f"{rg}/resources", {"api-version": GENERIC_API, "$top": "4"})
            assert [len(p) for p in pages[:-1]] == [4] * (len(pages) - 1) and 1 <= len(pages[-1]) <= 4
            assert [x for p in pages for x in p] == expected
            # a type in the group, and the same type in the subscription (other tests' resources may be there too)
            typed = _pages(c, f"{rg}/providers/{GENERIC}", {"api-version": GENERIC_API, "$top": "6"})
            assert [x for p in typed for x in p] == _key_order(ids)
            everywhere = [x for p in _pages(c, f"/subscriptions/{sim.subscription}/providers/{GENERIC}",
                                            {"api-version": GENERIC_API, "$top": "9"}) for x in p]
            assert len(everywhere) == len(set(everywhere)) and everywhere == _key_order(everywhere)
            assert [x for x in everywhere if x.lower().startswith(rg.lower() + "/")] == _key_order(ids)
            # filters page the same way
            gen = _pages(c, f"{rg}/resources", {"api-version": GENERIC_API, "$top": "3",
                                                "$filter": "substringof('gen-', name)"})
            assert [x for p in gen for x in p] == _key_order([i for i in ids if "/gen-" in i])
        finally:
            _delete(c, lock, "2020-05-01")


def test_writes_between_pages_neither_repeat_nor_skip_what_stays(sim: Sim, rg_name: str) -> None:
    with sim.http() as c:
        rg = _group(c, sim, rg_name)
        ids = [f"{rg}/providers/{GENERIC}/r{i:03d}" for i in range(40)]
        for rid in ids:
            _put(c, rid)
        params = {"api-version": GENERIC_API, "$top": "10"}
        first = c.get(f"{rg}/resources", params=params).json()
        seen = [x["id"] for x in first["value"]]
        assert seen == ids[:10]
        # between pages: delete one already shown and one not yet shown, add one before the cursor and two after it,
        # and update one not yet shown
        _delete(c, ids[3])
        _delete(c, ids[25])
        before, after = f"{rg}/providers/{GENERIC}/r005x", f"{rg}/providers/{GENERIC}/r020x"
        last = f"{rg}/providers/{GENERIC}/zz-last"
        for rid in (before, after, last):
            _put(c, rid)
        _put(c, ids[30], body={"location": "eastus", "tags": {"changed": "yes"}})
        body = first
        while "nextLink" in body:
            body = c.get(body["nextLink"]).json()
            seen += [x["id"] for x in body["value"]]
        assert len(seen) == len(set(seen))  # nothing twice
        stayed = [i for i in ids if i not in (ids[3], ids[25])]
        assert set(stayed) <= set(seen)  # everything that was there all along, once
        assert ids[25] not in seen and after in seen and last in seen  # deleted ahead: gone; added ahead: shown
        assert before not in seen  # added behind the cursor: the next listing shows it
        assert seen == sorted(seen, key=str.lower)


def test_default_page_size_and_a_thousand_and_more(sim: Sim, rg_name: str) -> None:
    """Without $top a page holds 1,000 (as ARM's); the next page starts right after the last key."""
    with sim.http() as c:
        rg = _group(c, sim, rg_name)
        _deploy_many(c, rg, 1010, "x")
        pages = _pages(c, f"{rg}/resources", {"api-version": GENERIC_API})
        assert [len(p) for p in pages] == [1000, 10]
        flat = [x for p in pages for x in p]
        assert flat == _key_order(flat) and len(set(flat)) == 1010


def test_a_delete_takes_what_is_below_the_resource_and_nothing_else(sim: Sim, rg_name: str) -> None:
    """What lies below a resource is the key range [key + '/', key + '0'): names that only share its prefix
    ('net0', 'net-1', 'net.x', 'net_x', 'NETa') and their children stay."""
    with sim.http() as c:
        rg = _group(c, sim, rg_name)
        nets = {n: f"{rg}/providers/Microsoft.Network/virtualNetworks/{n}"
                for n in ("net", "net0", "net-1", "net.x", "net_x", "NETa", "ne")}
        for i, vnet in enumerate(nets.values()):
            _put(c, vnet, NET_API, {"location": "eastus", "properties": {}})
            _put(c, f"{vnet}/subnets/s", NET_API, {"properties": {"addressPrefix": f"10.{i}.0.0/24"}})
        _put(c, f"{nets['net']}/subnets/Second", NET_API, {"properties": {"addressPrefix": "10.0.1.0/24"}})
        _delete(c, nets["net"][:-3] + "NET", NET_API)  # ids are case-insensitive
        for n, vnet in nets.items():
            gone = n == "net"
            assert c.get(vnet, params={"api-version": NET_API}).status_code == (404 if gone else 200), n
            status = c.get(f"{vnet}/subnets/s", params={"api-version": NET_API}).status_code
            assert status == (404 if gone else 200), n
        assert c.get(f"{nets['net']}/subnets/second", params={"api-version": NET_API}).status_code == 404
