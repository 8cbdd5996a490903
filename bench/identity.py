"""Issue 3 benchmark: IMDS token throughput, and VM create+delete with a system identity per second at 100 and at
10,000 existing resources.

1. IMDS: GET {imds}/vms/{vmKey}/metadata/identity/oauth2/token for ARM's audience with `Metadata: true`, answered from
   the token cache, and with `bypass_cache=true` (each one signs a client assertion with the identity's certificate
   and gets a new token from the simulated Entra token service: two RSA signatures and a verification). Compared
   with the bare FastAPI endpoint served the same way over plain HTTP, as IMDS is plain HTTP. Reported only.
2. VM cycles: one sequential client does PUT VM (SystemAssigned identity, the minimal body of tests/test_compute.py),
   following the LRO if the answer is asynchronous (the simulators run with ARM_SIM_LRO=sync), then DELETE, for
   --duration seconds. Two simulators, one holding --small and one --large existing generic resources in the VMs'
   resource group, measured in interleaved rounds. Target: at most 1.3x slower at --large (issue 18; issue 3
   asked for less than 1.5x at 10,000), e.g. --large 100000.

--database-url postgresql+psycopg://user@host:port/db runs both simulators on that PostgreSQL server (a fresh database
each, dropped afterwards) instead of SQLite.

Existing resources are created through the server: template deployments of copy loops of up to 800 generic
resources each (one request per batch, each resource through the one write path), or REST PUTs (--populate rest,
also the fallback when deployments fail). How long that took is reported.

    .venv/bin/python bench/identity.py [--rounds 3] [--duration 3] [--small 100] [--large 10000]
                                       [--only imds|cycles] [--populate auto|deploy|rest] [--loadgen auto|wrk|python]
                                       [--database-url postgresql+psycopg://user@host:port/db]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from common import (
    ARM_API_GROUPS,
    Check,
    Endpoint,
    NotMeasured,
    Series,
    Workspace,
    add_load_args,
    arm,
    ensure_ok,
    interleave,
    main,
    preflight,
    report,
    to_loopback,
    wait_lro,
)

from arm_sim.testing.server import Sim
from arm_sim.testing.vm import nic, properties

VM_API = "2024-07-01"
GENERIC = "Microsoft.Relay/namespaces"  # a real type arm-sim stores generically
GENERIC_API = "2024-01-01"
ARM_RESOURCE = "https://management.azure.com/"
MAX_COPY = 800  # ARM's limit on one copy loop
REPO = Path(__file__).resolve().parents[1]


def vm_body(name: str, nic_id: str) -> dict[str, object]:
    return {"location": "eastus", "identity": {"type": "SystemAssigned"}, "properties": properties(nic_id, name)}


def rg_path(sim: Sim) -> str:
    return f"/subscriptions/{sim.subscription}/resourceGroups/bench"


# --- set-up ----------------------------------------------------------------------------------------------------


def _populate_deploy(c: httpx.Client, rg: str, count: int) -> int:
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"n": {"type": "int"}, "first": {"type": "int"}},
        "resources": [{"type": GENERIC, "apiVersion": GENERIC_API, "location": "eastus",
                       "name": "[concat('existing-', add(parameters('first'), copyIndex()))]",
                       "copy": {"name": "existing", "count": "[parameters('n')]"},
                       "properties": {"index": "[add(parameters('first'), copyIndex())]", "purpose": "bench"}}]}
    done = 0
    while done < count:
        n = min(MAX_COPY, count - done)
        body = {"properties": {"mode": "Incremental", "template": template,
                               "parameters": {"n": {"value": n}, "first": {"value": done}}}}
        r = c.put(f"{rg}/providers/Microsoft.Resources/deployments/populate-{done}",
                  params={"api-version": ARM_API_GROUPS}, json=body, timeout=600)
        wait_lro(c, r, "populating by deployment")
        got = ensure_ok(c.get(f"{rg}/providers/Microsoft.Resources/deployments/populate-{done}",
                              params={"api-version": ARM_API_GROUPS}), "deployment status").json()
        if got["properties"]["provisioningState"] != "Succeeded":
            raise RuntimeError(f"populating deployment ended {got['properties']['provisioningState']}: "
                               f"{str(got['properties'].get('error'))[:500]}")
        done += n
    return done


def _populate_rest(sim: Sim, rg: str, count: int, first: int) -> int:
    """REST PUTs from 4 client threads (the server is the bottleneck; a few connections keep it busy)."""
    def put_range(lo: int, hi: int) -> None:
        with arm(sim) as c:
            for i in range(lo, hi):
                ensure_ok(c.put(f"{rg}/providers/{GENERIC}/existing-{i}", params={"api-version": GENERIC_API},
                                json={"location": "eastus", "properties": {"index": i, "purpose": "bench"}}),
                          "populating by REST")
    step = -(-(count - first) // 4)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda lo: put_range(lo, min(lo + step, count)), range(first, count, step)))
    return count - first


def populate(sim: Sim, count: int, how: str) -> tuple[float, str]:
    """`count` generic resources in the bench resource group; (seconds, method)."""
    rg = rg_path(sim)
    start = time.monotonic()
    done, method = 0, "REST PUTs (4 connections)"
    if how in ("auto", "deploy"):
        with arm(sim) as c:
            try:
                done = _populate_deploy(c, rg, count)
                method = f"deployments of <= {MAX_COPY}-resource copy loops"
            except (RuntimeError, NotMeasured, KeyError) as e:
                if how == "deploy":
                    raise
                print(f"  deployments did not populate ({e}); falling back to REST PUTs", flush=True)
                # a failed batch may have written part of itself: count only what REST then writes on top
                done = 0
    if done < count:
        _populate_rest(sim, rg, count, done)
    return time.monotonic() - start, method


def prepare(sim: Sim) -> str:
    """The resource group and a VM with a system identity; returns the VM's IMDS base URL."""
    with arm(sim) as c:
        rg = rg_path(sim)
        ensure_ok(c.put(rg, params={"api-version": ARM_API_GROUPS}, json={"location": "eastus"}), "resource group")
        vm = f"{rg}/providers/Microsoft.Compute/virtualMachines/imds-vm"
        wait_lro(c, c.put(vm, params={"api-version": VM_API}, json=vm_body("imds-vm", nic(c, rg))), "VM create")
        got = ensure_ok(c.get(vm, params={"api-version": VM_API}), "VM get").json()
        if not got.get("identity", {}).get("principalId"):
            raise RuntimeError(f"the VM has no system identity principal: {got}")
        r = c.get("/_sim/imds-endpoint", params={"resourceId": got["id"]})
        return to_loopback(ensure_ok(r, "IMDS endpoint").json()["endpoint"])


# --- VM create+delete cycles -----------------------------------------------------------------------------------


def cycles(sim: Sim, c: httpx.Client, seconds: float) -> tuple[float, int, int]:
    """Sequential create+delete cycles for `seconds`: (cycles/s, cycles, errors)."""
    rg = rg_path(sim)
    nic_id = nic(c, rg)
    done = errors = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        name = f"cyc-{uuid.uuid4().hex[:10]}"
        path = f"{rg}/providers/Microsoft.Compute/virtualMachines/{name}"
        try:
            r = wait_lro(c, c.put(path, params={"api-version": VM_API}, json=vm_body(name, nic_id)), "VM create")
            if r.status_code == 201 and not r.json().get("identity", {}).get("principalId"):
                raise RuntimeError("VM created without a principal")
            wait_lro(c, c.delete(path, params={"api-version": VM_API}), "VM delete")
            done += 1
        except (RuntimeError, httpx.HTTPError) as e:
            errors += 1
            if errors > 5 and errors > done:
                raise RuntimeError(f"VM cycles keep failing: {e}") from e
    return done / (time.monotonic() - start), done, errors


# --- main ------------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace, ws: Workspace) -> None:
    databases: list[str] = []
    try:
        _run(args, ws, databases)
    finally:
        if databases:
            from tests.concurrency_load import drop_database

            for sim in ws.sims:
                sim.stop()
            for database in databases:
                drop_database(args.database_url, database)


def _sim(ws: Workspace, label: str, server_url: str, databases: list[str]) -> Sim:
    """A started simulator: SQLite in its home, or a fresh PostgreSQL database on `server_url`."""
    if not server_url:
        return ws.sim(label, ARM_SIM_LRO="sync")
    sys.path.insert(0, str(REPO))
    from tests.concurrency_load import create_database

    databases.append(create_database(server_url))
    sim = Sim(home=ws.tmp / label, database_url=databases[-1], hermetic=True, extra_env={"ARM_SIM_LRO": "sync"})
    ws.sims.append(sim)
    return sim.start()


def _run(args: argparse.Namespace, ws: Workspace, databases: list[str]) -> None:
    do_imds, do_cycles = args.only in (None, "imds"), args.only in (None, "cycles")
    print("starting simulators (ARM_SIM_LRO=sync) and the plain-HTTP baseline ...", flush=True)
    small = _sim(ws, "small", args.database_url, databases)
    large = _sim(ws, "large", args.database_url, databases) if do_cycles else None
    imds_base = prepare(small)
    if large:
        prepare(large)
    info: list[str] = []
    series: list[Series] = []
    checks: list[Check] = []
    if do_cycles:
        assert large is not None
        for sim, n in ((small, args.small), (large, args.large)):
            print(f"populating {n:,} existing resources ...", flush=True)
            took, method = populate(sim, n, args.populate)
            info.append(f"population: {n:,} generic resources in {took:.1f} s ({n / took:,.0f}/s) via {method}")
    bare_url = ws.http_baseline() if do_imds else ""
    pinning = ws.pin()

    if do_imds:
        q = f"api-version=2018-02-01&resource={ARM_RESOURCE}"
        token_url = f"{imds_base}/metadata/identity/oauth2/token?{q}"
        hdr = {"Metadata": "true"}
        endpoints = [Endpoint("bare FastAPI GET (plain HTTP)", bare_url, headers=hdr),
                     Endpoint("IMDS token, cached", token_url, headers=hdr),
                     Endpoint("IMDS token, bypass_cache=true", f"{token_url}&bypass_cache=true", headers=hdr)]
        for ep in endpoints:
            preflight(ep, small.ca)
        gen = ws.loadgen(args, small.ca)
        print(f"IMDS: {args.rounds} rounds x {args.duration:g} s per endpoint ...", flush=True)
        samples = interleave(gen, endpoints, args.rounds, args.duration, args.warmup)
        got = [Series.of(ep.name, samples[ep.name]) for ep in endpoints]
        series += got
        checks += [Check(f"{s.name} / bare", s, got[0]) for s in got[1:]]
        info.append(f"IMDS load: {gen.name}, {args.connections} connections; servers uvicorn + uvloop + httptools, "
                    "plain HTTP, one process")

    if do_cycles:
        assert large is not None
        runs: dict[str, Series] = {}
        with arm(small) as cs, arm(large) as cl:
            clients = ((f"VM create+delete @ {args.small:,} existing", small, cs),
                       (f"VM create+delete @ {args.large:,} existing", large, cl))
            for label, sim, c in clients:  # warm-up: first cycles pay imports and caches
                cycles(sim, c, min(args.warmup, 1.0))
                runs[label] = Series(label, "cycles/s", [])
            print(f"VM cycles: {args.rounds} rounds x {args.duration:g} s per simulator ...", flush=True)
            for r in range(1, args.rounds + 1):
                for label, sim, c in clients:
                    rate, n, errors = cycles(sim, c, args.duration)
                    runs[label].values.append(rate)
                    runs[label].errors += errors
                    print(f"round {r}/{args.rounds}  {label:<40} {rate:>9.2f} cycles/s  ({n} cycles, {errors} "
                          "errors)", flush=True)
        s_small, s_large = runs.values()
        series += [s_small, s_large]
        checks.append(Check(f"slowdown at {args.large:,} (rate @{args.small:,} / rate @{args.large:,})",
                            s_small, s_large, "<=", 1.3))
        info.append("VM cycles: one sequential HTTPS client, keep-alive; PUT (SystemAssigned) + DELETE, "
                    "ARM_SIM_LRO=sync, LRO followed if answered async")
    info += [f"rounds: {args.rounds} x {args.duration:g} s, interleaved; medians below", f"pinning: {pinning}",
             "database: " + ("PostgreSQL (a fresh database per simulator, not pinned)" if databases else "SQLite")]
    report(info, series, checks)


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_load_args(parser, rounds=3, duration=3.0)
    parser.add_argument("--small", type=int, default=100, help="existing resources, small case (default 100)")
    parser.add_argument("--large", type=int, default=10_000, help="existing resources, large case (default 10000)")
    parser.add_argument("--only", choices=("imds", "cycles"), help="run one half only")
    parser.add_argument("--populate", choices=("auto", "deploy", "rest"), default="auto",
                        help="how existing resources are created (default: deployments, else REST)")
    parser.add_argument("--database-url", default="",
                        help="a PostgreSQL server (postgresql+psycopg://user@host:port/db): each simulator gets a "
                             "fresh database on it, dropped afterwards; default SQLite in a temporary home")
    return main("identity", parser, run, argv)


if __name__ == "__main__":
    sys.exit(cli())
