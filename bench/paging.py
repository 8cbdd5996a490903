"""Issue 18 point 5: does a list page cost the same wherever it is in a large resource group, and whatever the group's
size? ARM lists page with `$skipToken` (here the last key of the page: keyset paging, never OFFSET), so page N of a
10,000-resource group should cost what page 1 costs, and what page 1 of a 100-resource group costs.

One simulator holds two resource groups of generic resources, --resources (10,000) and --small (100). The large
group's pages of --top (100) are walked once to learn their nextLinks; then, in interleaved rounds, each of these is
fetched --repeat times by one keep-alive HTTPS client and timed (ms per page):
  - GET {group}/resources: the large group's first, middle and last page, and the small group's first page;
  - GET {group}/providers/{type}: the same type list, first and last page of the large group.
Ratios: last / first page (target <= 1.3x), large / small group's first page (target <= 1.3x).

    .venv/bin/python bench/paging.py [--resources 10000] [--small 100] [--top 100] [--rounds 3] [--repeat 20]
                                     [--database-url postgresql+psycopg://user@host:port/db]

--database-url names a PostgreSQL server: a fresh database is created on it for the run and dropped afterwards.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx
from common import Check, Series, Workspace, arm, ensure_ok, main, report, wait_lro

REPO = Path(__file__).resolve().parents[1]
GENERIC = "Microsoft.Relay/namespaces"
GENERIC_API = "2024-01-01"
GROUPS_API = "2021-04-01"
MAX_COPY = 800  # ARM's limit on one copy loop


def populate(c: httpx.Client, rg: str, count: int) -> None:
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"n": {"type": "int"}, "first": {"type": "int"}},
        "resources": [{"type": GENERIC, "apiVersion": GENERIC_API, "location": "eastus",
                       "name": "[concat('r-', add(parameters('first'), copyIndex()))]",
                       "copy": {"name": "many", "count": "[parameters('n')]"},
                       "properties": {"index": "[add(parameters('first'), copyIndex())]"}}]}
    done = 0
    while done < count:
        n = min(MAX_COPY, count - done)
        url = f"{rg}/providers/Microsoft.Resources/deployments/populate-{done}"
        body = {"properties": {"mode": "Incremental", "template": template,
                               "parameters": {"n": {"value": n}, "first": {"value": done}}}}
        wait_lro(c, c.put(url, params={"api-version": GROUPS_API}, json=body, timeout=600), "populating")
        state = ensure_ok(c.get(url, params={"api-version": GROUPS_API}), "deployment").json()["properties"]
        if state["provisioningState"] != "Succeeded":
            raise RuntimeError(f"populating ended {state['provisioningState']}: {str(state.get('error'))[:500]}")
        done += n


def walk(c: httpx.Client, url: str) -> list[str]:
    """Every page's URL of a list (the first one, then each nextLink), and checks each item shows once."""
    pages, seen = [url], set()
    body = ensure_ok(c.get(url), "list").json()
    while True:
        ids = [x["id"].lower() for x in body["value"]]
        if seen & set(ids):
            raise RuntimeError(f"an item was listed twice while walking {url}")
        seen |= set(ids)
        if "nextLink" not in body:
            return pages
        pages.append(body["nextLink"])
        body = ensure_ok(c.get(body["nextLink"]), "list page").json()


def timed(c: httpx.Client, url: str, repeat: int) -> tuple[float, int]:
    """Mean milliseconds per GET of `url` over `repeat` GETs; (ms, errors)."""
    errors = 0
    start = time.perf_counter()
    for _ in range(repeat):
        if c.get(url).status_code != 200:
            errors += 1
    return (time.perf_counter() - start) * 1000 / repeat, errors


def run(args: argparse.Namespace, ws: Workspace) -> None:
    database = ""
    if args.database_url:
        sys.path.insert(0, str(REPO))
        from tests.concurrency_load import create_database

        database = create_database(args.database_url)
    try:
        _measure(args, ws, database)
    finally:
        if database:
            for s in ws.sims:
                s.stop()
            from tests.concurrency_load import drop_database

            drop_database(args.database_url, database)


def _measure(args: argparse.Namespace, ws: Workspace, database: str) -> None:
    where = f"PostgreSQL database {database.rsplit('/', 1)[1]} (fresh)" if database else "SQLite"
    print(f"starting the simulator on {where} ...", flush=True)
    if database:
        from arm_sim.testing.server import Sim

        sim = Sim(home=ws.tmp / "sim", database_url=database, hermetic=True, extra_env={"ARM_SIM_LRO": "sync"})
        ws.sims.append(sim)
        sim.start()
    else:
        sim = ws.sim("sim", ARM_SIM_LRO="sync")
    info = [f"database: {where}"]
    with arm(sim) as c:
        groups = {}
        for label, n in (("large", args.resources), ("small", args.small)):
            rg = f"/subscriptions/{sim.subscription}/resourceGroups/paging-{label}"
            ensure_ok(c.put(rg, params={"api-version": GROUPS_API}, json={"location": "eastus"}), "resource group")
            print(f"populating {n:,} resources in paging-{label} ...", flush=True)
            start = time.monotonic()
            populate(c, rg, n)
            info.append(f"population: {n:,} generic resources in {time.monotonic() - start:.1f} s")
            groups[label] = rg
        q = f"api-version={GENERIC_API}&$top={args.top}"
        group_pages = walk(c, f"{groups['large']}/resources?{q}")
        type_pages = walk(c, f"{groups['large']}/providers/{GENERIC}?{q}")
        info.append(f"pages of {args.top}: {len(group_pages)} in the large group's list and in its type list")
        urls = {
            "group list, page 1": group_pages[0],
            f"group list, page {len(group_pages) // 2 + 1}": group_pages[len(group_pages) // 2],
            f"group list, page {len(group_pages)} (last)": group_pages[-1],
            f"group list @ {args.small:,}, page 1": f"{groups['small']}/resources?{q}",
            "type list, page 1": type_pages[0],
            f"type list, page {len(type_pages)} (last)": type_pages[-1],
        }
        pinning = ws.pin()
        runs = {name: Series(name if "@" in name else f"{name} @ {args.resources:,}", "ms/page", [])
                for name in urls}
        for url in urls.values():  # warm-up
            timed(c, url, 3)
        print(f"{args.rounds} rounds x {args.repeat} GETs per page ...", flush=True)
        for r in range(1, args.rounds + 1):
            for name, url in urls.items():
                ms, errors = timed(c, url, args.repeat)
                runs[name].values.append(ms)
                runs[name].errors += errors
            print(f"round {r}/{args.rounds}: " + ", ".join(f"{s.values[-1]:.1f}" for s in runs.values()) + " ms",
                  flush=True)
    s = list(runs.values())
    checks = [
        Check(f"group list: last page / page 1 @ {args.resources:,}", s[2], s[0], "<=", 1.3),
        Check(f"group list: middle page / page 1 @ {args.resources:,}", s[1], s[0], "<=", 1.3),
        Check(f"group list page 1: @ {args.resources:,} / @ {args.small:,}", s[0], s[3], "<=", 1.3),
        Check(f"type list: last page / page 1 @ {args.resources:,}", s[5], s[4], "<=", 1.3),
    ]
    info += [f"one sequential HTTPS client, keep-alive, $top={args.top}; {args.rounds} rounds x {args.repeat} GETs "
             "per page, interleaved; medians below (lower is better)", f"pinning: {pinning}"]
    report(info, s, checks)


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=10000, help="resources in the large group (default 10000)")
    parser.add_argument("--small", type=int, default=100, help="resources in the small group (default 100)")
    parser.add_argument("--top", type=int, default=100, help="page size, $top (default 100)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--repeat", type=int, default=20, help="GETs per page per round (default 20)")
    parser.add_argument("--database-url", default="",
                        help="a PostgreSQL server (postgresql+psycopg://user@host:port/db): a fresh database is made "
                             "on it for the run and dropped afterwards; default SQLite in a temporary home")
    return main("paging", parser, run, argv)


if __name__ == "__main__":
    sys.exit(cli())
