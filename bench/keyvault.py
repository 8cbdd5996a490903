"""Issue 5 benchmark: secret GET throughput through the Key Vault data plane.

Set-up through the server, as a client would: a vault created by REST (PUT …/Microsoft.KeyVault/vaults/{name},
api-version 2023-07-01) with an access policy for the bootstrap principal (its objectId from the token's `oid`
claim), a token for `https://vault.azure.net/.default`, and a secret set with PUT {vaultUri}secrets/s1?api-version=7.4.
Under load: GET {vaultUri}secrets/s1?api-version=7.4 (the vault's own HTTPS port), against the bare FastAPI endpoint
over HTTPS (bench/run.py's baseline), in interleaved rounds. An ARM GET of the vault is measured too, for scale.

Target: secret GET >= 0.4x the bare endpoint.

    .venv/bin/python bench/keyvault.py [--rounds 3] [--duration 4] [--connections 2] [--loadgen auto|wrk|python]
"""

from __future__ import annotations

import argparse
import sys
import uuid

import httpx
from common import (
    ARM_API_GROUPS,
    VAULT_SCOPE,
    Check,
    Endpoint,
    NotMeasured,
    Series,
    Workspace,
    add_load_args,
    arm,
    claims,
    ensure_ok,
    interleave,
    main,
    preflight,
    report,
    to_loopback,
    wait_lro,
)

from arm_sim.testing.server import Sim

KV_MGMT_API = "2023-07-01"
KV_DATA_API = "7.4"


def prepare(sim: Sim) -> tuple[str, str, str, str]:
    """(secret URL, vault token, vault ARM URL, ARM token)."""
    arm_token = sim.token()
    oid = claims(arm_token)["oid"]
    rg = f"/subscriptions/{sim.subscription}/resourceGroups/benchkv"
    vault = f"{rg}/providers/Microsoft.KeyVault/vaults/bench{uuid.uuid4().hex[:12]}"
    with arm(sim, arm_token) as c:
        ensure_ok(c.put(rg, params={"api-version": ARM_API_GROUPS}, json={"location": "eastus"}), "resource group")
        body = {"location": "eastus", "properties": {
            "tenantId": sim.tenant, "sku": {"family": "A", "name": "standard"},
            "accessPolicies": [{"tenantId": sim.tenant, "objectId": oid,
                                "permissions": {"secrets": ["get", "list", "set"]}}]}}
        wait_lro(c, c.put(vault, params={"api-version": KV_MGMT_API}, json=body), "vault create")
        got = ensure_ok(c.get(vault, params={"api-version": KV_MGMT_API}), "vault get").json()
    vault_uri = got.get("properties", {}).get("vaultUri")
    if not vault_uri:
        raise NotMeasured(f"the vault has no vaultUri (is the Key Vault provider there?): {str(got)[:300]}")
    base = to_loopback(vault_uri)
    token = sim.token(VAULT_SCOPE)
    secret = f"{base}secrets/s1?api-version={KV_DATA_API}"
    with httpx.Client(verify=sim.ca, timeout=60, headers={"Authorization": f"Bearer {token}"}) as kv:
        try:
            r = kv.put(secret, json={"value": "bench-" + uuid.uuid4().hex})
        except httpx.ConnectError as e:
            raise NotMeasured(f"nothing answers on the vault's data-plane address {vault_uri}: {e}") from e
        if r.status_code in (404, 405, 501):
            raise NotMeasured(f"the data plane does not set secrets yet: {r.status_code} {r.text[:300]}")
        ensure_ok(r, "secret set")
        got_secret = ensure_ok(kv.get(secret), "secret get").json()
    if not str(got_secret.get("id", "")).startswith(vault_uri.rstrip("/")):
        raise RuntimeError(f"unexpected secret bundle: {got_secret}")
    return secret, token, f"{to_loopback(sim.url)}{vault}?api-version={KV_MGMT_API}", arm_token


def run(args: argparse.Namespace, ws: Workspace) -> None:
    print("starting arm-sim (ARM_SIM_LRO=sync) and the HTTPS baseline ...", flush=True)
    sim = ws.sim("kv", ARM_SIM_LRO="sync")
    secret_url, kv_token, vault_url, arm_token = prepare(sim)
    bare = ws.https_baseline(sim)
    pinning = ws.pin()
    endpoints = [Endpoint("bare FastAPI GET (HTTPS)", bare),
                 Endpoint("Key Vault secret GET (data plane)", secret_url,
                          headers={"Authorization": f"Bearer {kv_token}"}),
                 Endpoint("ARM GET of the vault", vault_url, headers={"Authorization": f"Bearer {arm_token}"})]
    for ep in endpoints:
        preflight(ep, sim.ca)
    gen = ws.loadgen(args, sim.ca)
    print(f"{args.rounds} rounds x {args.duration:g} s per endpoint ...", flush=True)
    samples = interleave(gen, endpoints, args.rounds, args.duration, args.warmup)
    bare_s, secret_s, arm_s = (Series.of(ep.name, samples[ep.name]) for ep in endpoints)
    report([f"load generator: {gen.name}, {args.connections} connections",
            f"rounds: {args.rounds} x {args.duration:g} s per endpoint, interleaved; medians below",
            f"pinning: {pinning}",
            "servers: arm-sim (vault data plane on its own HTTPS port) and bare FastAPI, HTTPS, one process each"],
           [bare_s, secret_s, arm_s],
           [Check("secret GET / bare", secret_s, bare_s, ">=", 0.4),
            Check("ARM GET of the vault / bare", arm_s, bare_s)])


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_load_args(parser, rounds=3, duration=4.0)
    return main("keyvault", parser, run, argv)


if __name__ == "__main__":
    sys.exit(cli())
