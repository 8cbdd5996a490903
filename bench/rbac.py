"""Issue 4 benchmark: what enforcing Azure RBAC costs an ARM GET.

Two simulators side by side, identical but for ARM_SIM_RBAC (`enforce` and `off`). In each: a resource group, a
resource in it, and a principal registered through `/_sim/applications` with a Reader role assignment at the
resource group. Under load, that principal's token GETs the resource on both simulators, in interleaved rounds; the
bare FastAPI endpoint over HTTPS (bench/run.py's baseline) is measured too, for scale. Before measuring, the set-up is
checked: the enforcing simulator refuses the principal a resource group it has no role on (403), the other allows it.

Target: enforcement costs less than 20% (enforce / off > 0.80x).

    .venv/bin/python bench/rbac.py [--rounds 3] [--duration 4] [--connections 2] [--loadgen auto|wrk|python]
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

import httpx
from common import (
    ARM_API_GROUPS,
    ARM_SCOPE,
    Check,
    Endpoint,
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

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
RBAC_API = "2022-04-01"
STORAGE_API = "2023-01-01"


def prepare(sim: Sim) -> tuple[str, str]:
    """Resource group, resource, principal with Reader at the group; returns (resource URL, the principal's token)."""
    sub = f"/subscriptions/{sim.subscription}"
    rg = f"{sub}/resourceGroups/benchrg"
    res = f"{rg}/providers/Microsoft.Storage/storageAccounts/benchst"
    with arm(sim) as c:
        for group in (rg, f"{sub}/resourceGroups/otherrg"):
            ensure_ok(c.put(group, params={"api-version": ARM_API_GROUPS}, json={"location": "eastus"}), "group")
        wait_lro(c, c.put(res, params={"api-version": STORAGE_API},
                          json={"location": "eastus", "properties": {"a": 1}}), "resource")
        app = ensure_ok(c.post("/_sim/applications", json={"displayName": "bench-reader"}), "application").json()
        role = f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{READER}"
        ensure_ok(c.put(f"{rg}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
                        params={"api-version": RBAC_API},
                        json={"properties": {"roleDefinitionId": role, "principalId": app["servicePrincipalObjectId"],
                                             "principalType": "ServicePrincipal"}}), "role assignment")
    r = httpx.post(f"{to_loopback(sim.url)}/{sim.tenant}/oauth2/v2.0/token", verify=sim.ca, timeout=60, data={
        "grant_type": "client_credentials", "client_id": app["appId"], "client_secret": app["clientSecret"],
        "scope": ARM_SCOPE})
    token = ensure_ok(r, "the principal's token").json()["access_token"]
    return f"{to_loopback(sim.url)}{res}?api-version={STORAGE_API}", token


def sanity(sim: Sim, token: str, expect: int) -> str:
    """The principal reading a resource group it holds no role on: 403 when enforcing, 200 when not."""
    with arm(sim, token) as c:
        got = c.get(f"/subscriptions/{sim.subscription}/resourceGroups/otherrg",
                    params={"api-version": ARM_API_GROUPS}).status_code
    if got != expect:
        raise RuntimeError(f"expected {expect} reading a group without a role on the RBAC simulator, got {got}")
    return str(got)


def run(args: argparse.Namespace, ws: Workspace) -> None:
    print("starting two simulators (ARM_SIM_RBAC=enforce and off) and the HTTPS baseline ...", flush=True)
    on = ws.sim("enforce", ARM_SIM_RBAC="enforce", ARM_SIM_LRO="sync")
    off = ws.sim("off", ARM_SIM_RBAC="off", ARM_SIM_LRO="sync")
    on_url, on_token = prepare(on)
    off_url, off_token = prepare(off)
    checked = f"without a role: enforce answers {sanity(on, on_token, 403)}, off answers {sanity(off, off_token, 200)}"
    bare = ws.https_baseline(on)
    pinning = ws.pin()
    endpoints = [Endpoint("bare FastAPI GET (HTTPS)", bare),
                 Endpoint("ARM GET, RBAC off (Reader at RG)", off_url,
                          headers={"Authorization": f"Bearer {off_token}"}),
                 Endpoint("ARM GET, RBAC enforce (Reader at RG)", on_url,
                          headers={"Authorization": f"Bearer {on_token}"})]
    ca = {endpoints[0].name: on.ca, endpoints[1].name: off.ca, endpoints[2].name: on.ca}
    for ep in endpoints:
        preflight(ep, ca[ep.name])
    # each simulator has its own CA (the baseline uses the enforcing one's): the Python load generator gets both
    bundle = ws.tmp / "both-ca.pem"
    bundle.write_text(Path(on.ca).read_text() + Path(off.ca).read_text())
    gen = ws.loadgen(args, str(bundle))
    print(f"{args.rounds} rounds x {args.duration:g} s per endpoint ...", flush=True)
    samples = interleave(gen, endpoints, args.rounds, args.duration, args.warmup)
    bare_s, off_s, on_s = (Series.of(ep.name, samples[ep.name]) for ep in endpoints)
    report([f"load generator: {gen.name}, {args.connections} connections",
            f"rounds: {args.rounds} x {args.duration:g} s per endpoint, interleaved; medians below",
            f"pinning: {pinning}",
            "servers: two arm-sim processes (ARM_SIM_RBAC=enforce / off) and bare FastAPI, HTTPS, one process each",
            f"set-up check, the principal reading a group {checked}"],
           [bare_s, off_s, on_s],
           [Check("enforce / off (cost of enforcement)", on_s, off_s, ">", 0.8),
            Check("RBAC off / bare", off_s, bare_s), Check("RBAC enforce / bare", on_s, bare_s)])


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_load_args(parser, rounds=3, duration=4.0)
    return main("rbac", parser, run, argv)


if __name__ == "__main__":
    sys.exit(cli())
