"""Issue 6 benchmark: a generated 200-resource template deployed end to end, against the same 200 resources
written by a client with REST PUTs, in the same run.

The template (generated here, no copy loops: each resource written out) holds, for --resources 200:
  50 user-assigned identities;
  50 role assignments named with guid(), Reader at the resource group for each identity, whose principalId comes
     from reference() of the identity (so each waits for its identity);
  10 Key Vault vaults, each with an access policy for one identity's principal (reference() again), when the Key
     Vault provider is there (checked first: the vault must come back with a vaultUri), else 10 more generic ones;
  90 generic resources (Microsoft.Relay/namespaces, stored generically).
The REST side is one sequential keep-alive client doing the equivalent PUTs in dependency order (identities first,
reading each principalId from the PUT's answer). Each round uses fresh resource groups and names for both sides;
the order alternates between rounds, and both sides start after a --settle pause (the simulator refills its pool
of pre-generated RSA keys meanwhile: every identity takes one). The simulator runs with ARM_SIM_LRO=sync; the
deployment PUT's LRO is followed if it is answered asynchronously anyway.

Target: the deployment takes no longer than the PUTs (deployment seconds / PUT seconds <= 1.00x).

    .venv/bin/python bench/deploy.py [--rounds 3] [--resources 200] [--settle 2]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from typing import Any

import httpx
from common import (
    ARM_API_GROUPS,
    Check,
    NotMeasured,
    Series,
    Workspace,
    arm,
    ensure_ok,
    main,
    report,
    wait_lro,
)

from arm_sim.testing.server import Sim, free_range

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
UAI = "Microsoft.ManagedIdentity/userAssignedIdentities"
UAI_API = "2023-01-31"
RA_API = "2022-04-01"
KV = "Microsoft.KeyVault/vaults"
KV_API = "2023-07-01"
GENERIC = "Microsoft.Relay/namespaces"  # a real type arm-sim stores generically
GENERIC_API = "2024-01-01"
DEPLOY_API = "2025-04-01"
SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"


class Mix:
    """How many of each kind make up --resources."""

    def __init__(self, total: int, vaults: bool) -> None:
        self.identities = self.assignments = total // 4
        self.vaults = min(total // 20, self.identities) if vaults else 0
        self.generic = total - self.identities - self.assignments - self.vaults

    def __str__(self) -> str:
        return (f"{self.identities} identities, {self.assignments} role assignments, {self.vaults} vaults, "
                f"{self.generic} generic")


def sku() -> dict[str, str]:
    return {"family": "A", "name": "standard"}


def template(prefix: str, mix: Mix) -> dict[str, Any]:
    def uai_id(i: int) -> str:
        return f"resourceId('{UAI}', '{prefix}-id-{i}')"

    reader = f"[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '{READER}')]"
    res: list[dict[str, Any]] = [{"type": UAI, "apiVersion": UAI_API, "name": f"{prefix}-id-{i}",
                                  "location": "eastus"} for i in range(mix.identities)]
    res += [{"type": "Microsoft.Authorization/roleAssignments", "apiVersion": RA_API,
             "name": f"[guid(resourceGroup().id, '{prefix}-id-{i}', 'reader')]", "dependsOn": [f"[{uai_id(i)}]"],
             "properties": {"roleDefinitionId": reader, "principalType": "ServicePrincipal",
                            "principalId": f"[reference({uai_id(i)}, '{UAI_API}').principalId]"}}
            for i in range(mix.assignments)]
    res += [{"type": KV, "apiVersion": KV_API, "name": f"{prefix}kv{i}", "location": "eastus",
             "properties": {"tenantId": "[subscription().tenantId]", "sku": sku(), "accessPolicies": [
                 {"tenantId": "[subscription().tenantId]", "permissions": {"secrets": ["get", "list"]},
                  "objectId": f"[reference({uai_id(i)}, '{UAI_API}').principalId]"}]}}
            for i in range(mix.vaults)]
    res += [{"type": GENERIC, "apiVersion": GENERIC_API, "name": f"{prefix}-w-{i}", "location": "eastus",
             "tags": {"bench": "deploy"}, "properties": {"index": i, "size": "small"}} for i in range(mix.generic)]
    return {"$schema": SCHEMA, "contentVersion": "1.0.0.0", "resources": res}


def rest_puts(c: httpx.Client, sim: Sim, rg: str, prefix: str, mix: Mix) -> int:
    """The template's resources as a client would write them; returns the number of PUTs."""
    principals: list[str] = []
    for i in range(mix.identities):
        r = wait_lro(c, c.put(f"{rg}/providers/{UAI}/{prefix}-id-{i}", params={"api-version": UAI_API},
                              json={"location": "eastus"}), "identity PUT")
        principals.append(r.json()["properties"]["principalId"])
    reader = f"/subscriptions/{sim.subscription}/providers/Microsoft.Authorization/roleDefinitions/{READER}"
    for i in range(mix.assignments):
        name = uuid.uuid5(uuid.NAMESPACE_URL, f"{rg}/{prefix}-id-{i}/reader")
        wait_lro(c, c.put(f"{rg}/providers/Microsoft.Authorization/roleAssignments/{name}",
                          params={"api-version": RA_API},
                          json={"properties": {"roleDefinitionId": reader, "principalId": principals[i],
                                               "principalType": "ServicePrincipal"}}), "role assignment PUT")
    for i in range(mix.vaults):
        wait_lro(c, c.put(f"{rg}/providers/{KV}/{prefix}kv{i}", params={"api-version": KV_API}, json={
            "location": "eastus", "properties": {"tenantId": sim.tenant, "sku": sku(), "accessPolicies": [
                {"tenantId": sim.tenant, "objectId": principals[i], "permissions": {"secrets": ["get", "list"]}}]}}),
                 "vault PUT")
    for i in range(mix.generic):
        wait_lro(c, c.put(f"{rg}/providers/{GENERIC}/{prefix}-w-{i}", params={"api-version": GENERIC_API},
                          json={"location": "eastus", "tags": {"bench": "deploy"},
                                "properties": {"index": i, "size": "small"}}), "generic PUT")
    return mix.identities + mix.assignments + mix.vaults + mix.generic


def deploy(c: httpx.Client, rg: str, name: str, tpl: dict[str, Any]) -> None:
    path = f"{rg}/providers/Microsoft.Resources/deployments/{name}"
    r = c.put(path, params={"api-version": DEPLOY_API}, json={"properties": {"mode": "Incremental", "template": tpl}},
              timeout=600)
    if r.status_code in (400, 404, 405, 501):
        raise NotMeasured(f"the deployment was refused: {r.status_code} {r.text[:600]}")
    wait_lro(c, r, "deployment")


def deployment_state(c: httpx.Client, rg: str, name: str) -> None:
    got = ensure_ok(c.get(f"{rg}/providers/Microsoft.Resources/deployments/{name}",
                          params={"api-version": DEPLOY_API}), "deployment GET").json()["properties"]
    if got.get("provisioningState") != "Succeeded":
        raise NotMeasured(f"the deployment ended {got.get('provisioningState')}: {str(got.get('error'))[:800]}")


def group(c: httpx.Client, sim: Sim, name: str) -> str:
    rg = f"/subscriptions/{sim.subscription}/resourceGroups/{name}"
    ensure_ok(c.put(rg, params={"api-version": ARM_API_GROUPS}, json={"location": "eastus"}), "resource group")
    return rg


def inventory(c: httpx.Client, rg: str) -> tuple[int, int]:
    """(resources listed in the group, role assignments at its scope)."""
    def count(url: str, params: dict[str, str]) -> int:
        n, r = 0, ensure_ok(c.get(url, params=params), "list")
        while True:
            body = r.json()
            n += len(body.get("value", []))
            if not body.get("nextLink"):
                return n
            r = ensure_ok(c.get(body["nextLink"]), "list")
    return (count(f"{rg}/resources", {"api-version": ARM_API_GROUPS}),
            count(f"{rg}/providers/Microsoft.Authorization/roleAssignments",
                  {"api-version": RA_API, "$filter": "atScope()"}))


def has_keyvault(c: httpx.Client, sim: Sim, run_id: str) -> bool:
    """The Key Vault provider is there when a vault PUT answers with a vaultUri (the generic one would not)."""
    rg = group(c, sim, f"bench-probe-{run_id}")
    r = c.put(f"{rg}/providers/{KV}/p{run_id}probe", params={"api-version": KV_API},
              json={"location": "eastus", "properties": {"tenantId": sim.tenant, "sku": sku(), "accessPolicies": []}})
    return r.is_success and bool(wait_lro(c, r, "probe vault").json().get("properties", {}).get("vaultUri"))


def run(args: argparse.Namespace, ws: Workspace) -> None:
    run_id = uuid.uuid4().hex[:6]
    max_vaults = args.resources // 20
    ports = free_range(2 * max_vaults * (args.rounds + 1) + 4)  # one data-plane port per vault, kept until purged
    print("starting arm-sim (ARM_SIM_LRO=sync) ...", flush=True)
    sim = ws.sim("deploy", vault_ports=ports, ARM_SIM_LRO="sync")
    with arm(sim) as c:
        vaults = has_keyvault(c, sim, run_id)
        mix = Mix(args.resources, vaults)
        pinning = ws.pin()
        times: dict[str, list[float]] = {"deployment": [], "rest": []}

        def side(kind: str, tag: str, mix: Mix) -> float:
            """One timed side in a fresh resource group: the deployment, or the same resources by REST."""
            prefix = f"{kind[0]}{run_id}{tag}"
            rg = group(c, sim, f"bench-{prefix}")
            time.sleep(args.settle)
            start = time.monotonic()
            if kind == "deployment":
                deploy(c, rg, prefix, template(prefix, mix))
            else:
                rest_puts(c, sim, rg, prefix, mix)
            took = time.monotonic() - start
            if kind == "deployment":
                deployment_state(c, rg, prefix)
            return took

        warm = Mix(max(20, args.resources // 10), vaults)
        print(f"warm-up (a {max(20, args.resources // 10)}-resource deployment and its PUTs) ...", flush=True)
        side("deployment", "w", warm)
        side("rest", "w", warm)
        print(f"{args.rounds} rounds, {args.resources} resources each side ({mix}) ...", flush=True)
        for r in range(1, args.rounds + 1):
            order = ("deployment", "rest") if r % 2 else ("rest", "deployment")
            for kind in order:
                took = side(kind, str(r), mix)
                times[kind].append(took)
                print(f"round {r}/{args.rounds}  {kind:<11} {took:7.2f} s  ({args.resources / took:6.1f} resources/s)",
                      flush=True)
        rg_d, rg_p = (f"/subscriptions/{sim.subscription}/resourceGroups/bench-{k}{run_id}1" for k in "dr")
        made_d, made_p = inventory(c, rg_d), inventory(c, rg_p)
    check = (f"round 1's groups list {made_d[0]} resources and {made_d[1]} role assignments at scope (inherited "
             f"included) after the deployment, {made_p[0]} and {made_p[1]} after the PUTs"
             + ("" if made_d == made_p else "  <-- NOT THE SAME"))
    dep = Series("deployment, end to end", "s", times["deployment"])
    rest = Series(f"{args.resources} REST PUTs, one client", "s", times["rest"])
    rates = [Series("deployment", "resources/s", [args.resources / t for t in dep.values]),
             Series("REST PUTs", "resources/s", [args.resources / t for t in rest.values])]
    report([f"template: {args.resources} resources ({mix}); Key Vault provider "
            + ("present" if vaults else "absent: generic resources instead of vaults"),
            "REST: one sequential HTTPS client, keep-alive, in dependency order; ARM_SIM_LRO=sync",
            f"rounds: {args.rounds}, alternating which side goes first, {args.settle:g} s settle before each; "
            "medians below", f"pinning: {pinning}", f"check: {check}"],
           [dep, rest, *rates],
           [Check("deployment time / REST PUTs time", dep, rest, "<=", 1.0)])


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each one deployment and one set of PUTs")
    parser.add_argument("--resources", type=int, default=200, help="resources per side per round (default 200)")
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds of idle before each timed side (the RSA key pool refills; default 2)")
    return main("deploy", parser, run, argv)


if __name__ == "__main__":
    sys.exit(cli())
