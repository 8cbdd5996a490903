"""The teaching commands on the seed story (a VM with a system identity, a vault policy for it, the VM deleted and
re-created): `arm-sim env --vm` gives code the VM's identity and never the deployer's secret; `graph` and `audit`
show the orphan; `events --principal` has its credential events; `explain` names the decision and the near miss."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests.test_imds import identities
from tests.test_keyvault_secrets import (
    Env,
    claims_of,
    kv_env,
    unique,
)

_env = pytest.fixture(scope="module", name="env")(kv_env)  # the module's simulator

INSIDE = """
import base64, json, os, sys
from azure.identity import DefaultAzureCredential
from azure.keyvault.secrets import SecretClient

assert "AZURE_CLIENT_SECRET" not in os.environ and "AZURE_CLIENT_ID" not in os.environ
cred = DefaultAzureCredential()
token = cred.get_token("https://vault.azure.net/.default").token
claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
print("oid", claims["oid"])
with SecretClient(sys.argv[1], cred, verify_challenge_resource=False,
                  connection_verify=os.environ["REQUESTS_CA_BUNDLE"]) as secrets:
    print("value", secrets.get_secret("greeting").value)
"""


def cli(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    return env.sim.cli(*args)


def ok(env: Env, *args: str) -> str:
    done = cli(env, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_seed_story(env: Env, tmp_path: Path) -> None:
    sim = env.sim
    name = unique("web")
    vm = env.vm(name, identities("SystemAssigned"))
    first = vm.identity.principal_id
    vault = env.vault([env.policy(env.deployer_oid, ("all",)), env.policy(first, ("get",))])
    with env.secrets(vault.properties.vault_uri) as secrets:
        secrets.set_secret("greeting", "hello, web")

    # env --vm: what code inside the VM has, nothing of the deployer's, even evaluated in the deployer's shell
    values = json.loads(ok(env, "env", "--vm", name, "-g", env.rg, "--format", "json"))
    assert "AZURE_POD_IDENTITY_AUTHORITY_HOST" in values
    assert not {"AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "ARM_SIM_CLIENT_SECRET", "AZURE_TENANT_ID"} & set(values)
    assert sim.client_secret not in json.dumps(values)
    shell = ok(env, "env", "--vm", name, "-g", env.rg)
    assert sim.client_secret not in shell and shell.startswith("unset ")
    assert "AZURE_CLIENT_SECRET" in shell.split("\n")[0]
    script = tmp_path / "inside.py"
    script.write_text(textwrap.dedent(INSIDE))
    base = {k: v for k, v in sim.env().items() if not k.startswith(("AZURE_", "IDENTITY_", "MSI_", "IMDS_"))}
    deployer = f"export AZURE_TENANT_ID={sim.tenant} AZURE_CLIENT_ID={sim.client_id} " \
               f"AZURE_CLIENT_SECRET={sim.client_secret}"
    done = subprocess.run(["bash", "-c", f'{deployer}; eval "$("$0" -m arm_sim env --vm {name} -g {env.rg})" && '
                                         f'exec "$0" {script} {vault.properties.vault_uri}', sys.executable],
                          env=base, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    out = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert out == {"oid": first, "value": "hello, web"}  # DefaultAzureCredential() is the VM's identity

    # explain, before anything is deleted: Key Vault's access policies decide, by name
    text = ok(env, "explain", "--principal", first, "--action", "secrets/get", "--scope", vault.id)
    assert text.startswith("ALLOWED") and "access policies" in text and "grants secrets get" in text

    env.compute.virtual_machines.begin_delete(env.rg, name).result()
    tree = ok(env, "graph", "-g", env.rg)
    assert "ORPHANED grants" in tree and f"[orphan] access policy on vault {vault.name}: secrets get" in tree
    assert f"names {first} ({name}'s identity deleted" in tree
    assert f"{vault.name}  vaults" not in tree  # a vault carries no identity
    data = json.loads(ok(env, "graph", "-g", env.rg, "-o", "json"))
    assert [o["principalId"] for o in data["orphans"]] == [first] and data["invariantViolations"] == []

    audit = cli(env, "audit")
    assert audit.returncode == 0, audit.stderr  # orphans are no invariant violation
    assert "Orphaned grants (their principal is gone)" in audit.stdout and first in audit.stdout
    assert "Invariant violations: 0" in audit.stdout
    report = json.loads(ok(env, "audit", "-o", "json"))
    assert any(o["objectId"] == first for o in report["orphanedAccessPolicies"])

    # the principal's events include its credential's (filed under its appId) and its deletion
    kinds = [json.loads(line)["kind"] for line in ok(env, "events", "--principal", first, "-o", "json").splitlines()]
    assert {"servicePrincipal.created", "credential.issued", "token.issued", "servicePrincipal.deleted"} <= set(kinds)
    table = ok(env, "events", "--resource", vm.id)
    assert "servicePrincipal.deleted" in table and f"{first} ({name})" in table

    # the same name again: a new principal, and the old entry does not follow
    again = env.vm(name, identities("SystemAssigned")).identity.principal_id
    assert again != first
    text = ok(env, "explain", "--principal", name, "--action", "Microsoft.KeyVault/vaults/secrets/getSecret/action",
              "--scope", f"{vault.id}/secrets/greeting")
    assert text.startswith("DENIED") and "no access policy entry names this principal" in text
    assert f"Near miss: an entry grants secrets get to {first}: {name}'s previous identity" in text
    assert "you are its new one" in text and f"access policy entry for objectId {again}" in text
    d: dict[str, Any] = json.loads(ok(env, "explain", "--principal", again, "--action", "secrets/get", "--scope",
                                      vault.id, "-o", "json"))
    assert d["allowed"] is False and d["keyVault"]["mode"] == "accessPolicy"
    assert [e["matches"] for e in d["keyVault"]["entries"]] == [False, False]


def test_explain_rbac_names_roles_and_audit_exit_code(env: Env) -> None:
    sim = env.sim
    group = f"/subscriptions/{sim.subscription}/resourceGroups/{env.rg}"
    deployer = claims_of(sim.token())["oid"]
    text = ok(env, "explain", "--principal", deployer, "--action", "Microsoft.Resources/subscriptions/resourceGroups/"
              "read", "--scope", group)
    assert text.startswith("ALLOWED") and "Owner" in text
    uai = unique("uai-")
    with sim.http() as arm:
        r = arm.put(f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{uai}?api-version=2023-01-31",
                    json={"location": "eastus"})
        assert r.status_code in (200, 201), r.text
    tree = ok(env, "graph", "-g", env.rg)
    assert f"{uai}  userAssignedIdentities" in tree and "not issued yet" in tree
    assert cli(env, "explain", "--principal", "no-such-thing", "--action", "x", "--scope", group).returncode == 1


def test_events_follow_prints_new_events_as_they_happen(env: Env) -> None:
    sim = env.sim
    uai = unique("uai-")
    follow = subprocess.Popen([sys.executable, "-m", "arm_sim", "events", "--follow", "--kind", "servicePrincipal.*",
                               "-o", "json"], env=sim.env(), stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(2)  # (it has printed what was there and polls)
        group = f"/subscriptions/{sim.subscription}/resourceGroups/{env.rg}"
        with sim.http() as arm:
            r = arm.put(f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{uai}"
                        "?api-version=2023-01-31", json={"location": "eastus"})
            assert r.status_code in (200, 201), r.text
        principal = r.json()["properties"]["principalId"]
        assert follow.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not select.select([follow.stdout], [], [], deadline - time.monotonic())[0]:
                continue
            event = json.loads(follow.stdout.readline())
            if event["subject"] == principal:
                assert event["kind"] == "servicePrincipal.created"
                break
        else:
            raise AssertionError("the new principal's event never came")
    finally:
        follow.terminate()
        follow.wait(10)
