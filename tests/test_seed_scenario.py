"""The seed scenario, end to end with real clients: a VM's identity reads a secret through IMDS, the VM goes,
its access-policy entry stays behind as an orphan, and the re-created VM's new principal is refused until it is
granted — as in Azure, where old grants never follow a new principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from azure.identity import ManagedIdentityCredential
from azure.mgmt.keyvault.models import VaultAccessPolicyParameters, VaultAccessPolicyProperties

from tests.test_imds import identities
from tests.test_keyvault_secrets import (
    Env,
    access_denied,
    mi_claims,
    refused,
    run_inside,
    start_kv_sim,
    unique,
)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    sim = start_kv_sim(tmp_path_factory)
    e = Env(sim)
    yield e
    e.close()
    sim.stop()


def audit(env: Env) -> dict[str, Any]:
    with env.sim.http() as arm:
        r = arm.get("/_sim/audit")
    assert r.status_code == 200, r.text
    return r.json()


def test_seed_scenario(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    inside = run_inside(monkeypatch)
    vm_name = unique("vm-seed-")

    # 1. a VM with a system-assigned identity, and a vault whose access policy names its principal
    vm = env.vm(vm_name, identities("SystemAssigned"))
    first = vm.identity.principal_id
    vault = env.vault([env.policy(env.deployer_oid, ("all",)), env.policy(first, ("get", "list"))])
    uri = vault.properties.vault_uri

    # 2. the deployer sets a secret
    with env.secrets(uri) as sc:
        sc.set_secret("db-password", "s3cr3t")

    # 3. code inside the VM reads it: ManagedIdentityCredential -> IMDS -> Entra -> Key Vault
    inside(env.endpoint(vm.id))
    with ManagedIdentityCredential() as cred, env.secrets(uri, cred) as sc:
        assert mi_claims(cred)["oid"] == first
        assert sc.get_secret("db-password").value == "s3cr3t"

    # 4. the VM is deleted: its principal goes, the access-policy entry naming it stays (an orphan)
    env.compute.virtual_machines.begin_delete(env.rg, vm_name).result()
    listed = env.kvm.vaults.get(env.rg, vault.name).properties.access_policies
    assert first in [p.object_id for p in listed]
    orphans = [o for o in audit(env).get("orphanedAccessPolicies", []) if o["objectId"] == first]
    assert len(orphans) == 1, audit(env)
    assert orphans[0]["vault"].lower() == vault.id.lower() and orphans[0]["principalDeletedAt"]

    # 5. the VM is re-created with the same name: a new principal, which the old grant does not cover
    vm = env.vm(vm_name, identities("SystemAssigned"))
    second = vm.identity.principal_id
    assert second != first
    inside(env.endpoint(vm.id))
    with ManagedIdentityCredential() as cred, env.secrets(uri, cred) as sc:  # a fresh credential: a new identity
        claims = mi_claims(cred)
        assert claims["oid"] == second
        assert refused(lambda: sc.get_secret("db-password")) == access_denied(claims, "secrets", "get", vault)
    denied = [x for x in env.events(kind="access.denied", principal=second)]
    assert denied and denied[-1]["details"]["reason"] == "no access policy entry names this principal"

    # 6. granted through azure-mgmt-keyvault's update_access_policy(add): the read succeeds
    env.kvm.vaults.update_access_policy(env.rg, vault.name, "add", VaultAccessPolicyParameters(
        properties=VaultAccessPolicyProperties(access_policies=[env.policy(second, ("get", "list"))])))
    with ManagedIdentityCredential() as cred, env.secrets(uri, cred) as sc:
        assert sc.get_secret("db-password").value == "s3cr3t"
    # the orphan is still there, next to the new grant
    object_ids = [p.object_id for p in env.kvm.vaults.get(env.rg, vault.name).properties.access_policies]
    assert first in object_ids and second in object_ids
