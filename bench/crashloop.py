"""Crash loop: SIGKILL arm-sim under concurrent writes, restart it on the same database, check what survived.

Proof of DESIGN §6 ("every acknowledged write, every lifecycle invariant"), on SQLite or PostgreSQL. Each cycle:

1. start `arm-sim serve` (the first time: a resource group and a Key Vault for the writers);
2. check the state the previous cycles left (on a quiet server, before any writer starts):
   - every write acknowledged (2xx) before a kill is there with what was written: resources (a tag per write,
     and the principal the answer named), role assignments (their principal), vault secrets (every acknowledged
     version's value; the current version is the last acknowledged one, or a write in flight at the kill);
     every acknowledged delete is gone. A write in flight at a kill (no answer) may or may not have happened:
     both outcomes are allowed, and the next check keeps the one it finds;
   - lifecycle: every ManagedIdentity service principal (Graph `/v1.0/servicePrincipals`) has its resource, which
     names it; every resource with a system-assigned identity, and every user-assigned identity, has its principal,
     which names the resource; `/_sim/audit` lists as orphans only grants of principals deleted legitimately (with
     their resource), and every such grant; no dangling user-assigned identity reference;
3. run 8 writer threads (each with its own connection): VMs with SystemAssigned identities, user-assigned
   identities, role assignments naming those principals, vault secrets, updates and deletes;
4. SIGKILL the server at a random moment, and check that none of its child processes (the key-pool worker and
   the multiprocessing resource tracker) outlives it by more than a few seconds.

    .venv/bin/python bench/crashloop.py                                   # SQLite in a temporary home
    .venv/bin/python bench/crashloop.py --database-url postgresql+psycopg://user@127.0.0.1:5432/postgres

With a PostgreSQL URL, a database of its own is created on that server for the run and dropped afterwards
(`--keep` keeps it). Traffic goes to 127.0.0.1 only. The exit code is 0 when nothing was lost and nothing was
violated, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from arm_sim.testing.server import Sim, descendants
from arm_sim.testing.vm import nic, properties

ARM_API = "2025-04-01"
VM_API = "2024-07-01"
UAI_API = "2023-01-31"
RA_API = "2022-04-01"
KV_MGMT_API = "2023-07-01"
KV_API = "7.4"
VAULT_SCOPE = "https://vault.azure.net/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
# Reader, Contributor, Key Vault Secrets User, Storage Blob Data Reader: one (principal, role, scope) may be granted
# once (RoleAssignmentExists), so a few roles keep most grants new
ROLES = ("acdd72a7-3385-48ef-bd42-f606fba81ae7", "b24988ac-6180-42a0-ab88-20f7382dd24c",
         "4633458b-17de-408a-b874-0445c86b69e6", "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1")
VM_TYPE = "microsoft.compute/virtualmachines"
UAI_TYPE = "microsoft.managedidentity/userassignedidentities"
ABSENT = None  # a state: the resource does not exist


# --- processes -----------------------------------------------------------------------------------------------------


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def survivors(pids: list[int], within: float = 5.0) -> list[int]:
    """Those of `pids` still running after `within` seconds."""
    deadline = time.monotonic() + within
    left = [p for p in pids if alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if alive(p)]
    return left


# --- what was written ----------------------------------------------------------------------------------------------


@dataclass
class Tracked:
    """An ARM resource (VM, user-assigned identity, role assignment) and the states it may be in: one after an
    acknowledged write, more while a write in flight at a kill has not been checked yet.

    A state is ABSENT or a dict: `tag` (the value of the `w` tag each write sets; None for a role assignment) and
    `principal` (the principal id the answer named; None when no answer told it)."""

    kind: str  # vm | uai | ra
    id: str
    states: list[dict[str, Any] | None]
    principal: str | None = None  # the last one known (for role assignments and legitimate orphans)

    def certain(self) -> dict[str, Any] | None:
        return self.states[0] if len(self.states) == 1 else ABSENT


@dataclass
class Secret:
    name: str
    versions: dict[str, str] = field(default_factory=dict)  # acknowledged version -> value
    current: list[str | None] = field(default_factory=lambda: [None])  # what the current value may be (None: no
    # secret yet)


@dataclass
class Figures:
    writes: int = 0
    acknowledged: int = 0
    in_flight: int = 0  # no answer: the kill came first
    refused: int = 0  # 4xx: a refusal writes nothing
    refusals: dict[str, int] = field(default_factory=dict)  # by error code
    server_errors: int = 0  # 5xx: reported (they should not happen)
    lost: int = 0
    violations: int = 0
    orphans: int = 0
    survivors: int = 0
    cycles: int = 0
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, kind: str, text: str) -> None:
        if kind == "lost":
            self.lost += 1
        else:
            self.violations += 1
        if len(self.problems) < 50:
            self.problems.append(f"{kind}: {text}")


# --- the writers ---------------------------------------------------------------------------------------------------


class Writer:
    """One client writing its own resources and secrets (so that each has one order of writes), until `stop`."""

    def __init__(self, n: int, loop: CrashLoop, seed: int) -> None:
        self.n, self.loop, self.rng = n, loop, random.Random(seed)
        self.resources: dict[str, Tracked] = {}
        self.secrets: dict[str, Secret] = {}
        self.deleted_principals: set[str] = set()
        self.counter = 0
        self.figures = Figures()
        self.thread: threading.Thread | None = None

    def start(self, stop: threading.Event) -> None:
        self.thread = threading.Thread(target=self._write, args=(stop,), name=f"writer-{self.n}", daemon=True)
        self.thread.start()

    def join(self, timeout: float) -> None:
        if self.thread is not None:
            self.thread.join(timeout)

    def _write(self, stop: threading.Event) -> None:
        loop = self.loop
        with httpx.Client(base_url=loop.sim.url, verify=loop.sim.ca, timeout=60,
                          headers={"Authorization": f"Bearer {loop.arm_token}"}) as arm, \
                httpx.Client(verify=loop.sim.ca, timeout=60,
                             headers={"Authorization": f"Bearer {loop.vault_token}"}) as vault:
            while not stop.is_set():
                op = self.rng.choices(["vm", "uai", "update", "ra", "secret", "delete"], [2, 2, 2, 2, 3, 1])[0]
                try:
                    getattr(self, "_" + op)(arm, vault)
                except _Skip:
                    continue

    def _name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-w{self.n}-{self.counter}"

    def _live(self, *kinds: str) -> list[Tracked]:
        return [t for t in self.resources.values() if t.kind in kinds and t.certain() is not ABSENT]

    def _send(self, client: httpx.Client, method: str, url: str, body: Any = None) -> httpx.Response | None:
        """The answer, or None when there was none (the server died first)."""
        try:
            response = client.request(method, url, json=body)
        except httpx.ConnectError:  # no connection, so no request: nothing happened (the server is down)
            time.sleep(0.05)
            raise _Skip from None
        except httpx.HTTPError:
            self.figures.writes += 1
            self.figures.in_flight += 1
            return None
        self.figures.writes += 1
        if response.status_code >= 500:
            self.figures.server_errors += 1
            self.figures.problems.append(f"{method} {url}: {response.status_code} {response.text[:300]}")
            return None  # whatever it says, treat it as unknown
        if response.status_code >= 400:
            self.figures.refused += 1
            code = _error_code(response)
            self.figures.refusals[code] = self.figures.refusals.get(code, 0) + 1
        else:
            self.figures.acknowledged += 1
        return response

    def _put_resource(self, arm: httpx.Client, t: Tracked, api: str, body: dict[str, Any]) -> None:
        tag = uuid.uuid4().hex[:12]
        body = dict(body, tags={"w": tag})
        r = self._send(arm, "PUT", f"{t.id}?api-version={api}", body)
        if r is None:
            t.states.append({"tag": tag, "principal": None})
        elif r.is_success:
            principal = _principal_of(t.kind, r.json())
            t.states = [{"tag": tag, "principal": principal}]
            t.principal = principal or t.principal

    def _vm(self, arm: httpx.Client, _vault: httpx.Client) -> None:
        t = Tracked("vm", f"{self.loop.rg_id}/providers/Microsoft.Compute/virtualMachines/{self._name('vm')}",
                    [ABSENT])
        self.resources[t.id] = t
        self._put_resource(arm, t, VM_API, vm_body(t.id.rsplit("/", 1)[1], self.loop.nic_id))

    def _uai(self, arm: httpx.Client, _vault: httpx.Client) -> None:
        t = Tracked("uai", f"{self.loop.rg_id}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
                    f"{self._name('id')}", [ABSENT])
        self.resources[t.id] = t
        self._put_resource(arm, t, UAI_API, {"location": "eastus"})

    def _update(self, arm: httpx.Client, _vault: httpx.Client) -> None:
        live = self._live("vm", "uai")
        if not live:
            raise _Skip
        t = self.rng.choice(live)
        if t.kind == "vm":
            self._put_resource(arm, t, VM_API, vm_body(t.id.rsplit("/", 1)[1], self.loop.nic_id))
        else:
            self._put_resource(arm, t, UAI_API, {"location": "eastus"})

    def _ra(self, arm: httpx.Client, _vault: httpx.Client) -> None:
        holders = [t for t in self._live("vm", "uai") if (t.certain() or {}).get("principal")]
        if not holders:
            raise _Skip
        principal = (self.rng.choice(holders).certain() or {})["principal"]
        r = self.loop
        t = Tracked("ra", f"{r.rg_id}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}", [ABSENT],
                    principal)
        self.resources[t.id] = t
        body = {"properties": {"principalId": principal, "principalType": "ServicePrincipal", "roleDefinitionId":
                               f"/subscriptions/{r.sim.subscription}/providers/Microsoft.Authorization/"
                               f"roleDefinitions/{self.rng.choice(ROLES)}"}}
        answer = self._send(arm, "PUT", f"{t.id}?api-version={RA_API}", body)
        if answer is None:
            t.states.append({"tag": None, "principal": principal})
        elif answer.is_success:
            t.states = [{"tag": None, "principal": principal}]

    def _secret(self, _arm: httpx.Client, vault: httpx.Client) -> None:
        if self.secrets and self.rng.random() < 0.5:
            s = self.secrets[self.rng.choice(list(self.secrets))]
        else:
            s = Secret(self._name("s"))
            self.secrets[s.name] = s
        value = uuid.uuid4().hex
        r = self._send(vault, "PUT", f"{self.loop.vault_uri}secrets/{s.name}?api-version={KV_API}", {"value": value})
        if r is None:
            s.current.append(value)
        elif r.is_success:
            s.versions[r.json()["id"].rsplit("/", 1)[1]] = value
            s.current = [value]

    def _delete(self, arm: httpx.Client, _vault: httpx.Client) -> None:
        live = self._live("vm", "uai")
        if not live:
            raise _Skip
        t = self.rng.choice(live)
        principal = (t.certain() or {}).get("principal")
        r = self._send(arm, "DELETE", f"{t.id}?api-version={VM_API if t.kind == 'vm' else UAI_API}")
        if principal and (r is None or r.is_success):  # deleted with its resource, legitimately (or may have been)
            self.deleted_principals.add(principal)
        if r is None:
            t.states.append(ABSENT)
        elif r.is_success:
            t.states = [ABSENT]


class _Skip(Exception):
    """Nothing to do this for yet (no live resource of the kind): pick another operation."""


def vm_body(name: str, nic_id: str) -> dict[str, Any]:
    return {"location": "eastus", "identity": {"type": "SystemAssigned"}, "properties": properties(nic_id, name)}


def _principal_of(kind: str, doc: dict[str, Any]) -> str | None:
    if kind == "vm":
        return (doc.get("identity") or {}).get("principalId")
    if kind == "uai":
        return (doc.get("properties") or {}).get("principalId")
    return None


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return str(response.status_code)


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


# --- the loop ------------------------------------------------------------------------------------------------------


class CrashLoop:
    def __init__(self, home: Path, database_url: str, *, cycles: int, writers: int, uptime: tuple[float, float],
                 seed: int, log: Any = print) -> None:
        self.sim = Sim(home=home, database_url=database_url, hermetic=True)
        self.cycles, self.uptime, self.log = cycles, uptime, log
        self.rng = random.Random(seed)
        self.writers = [Writer(i, self, seed * 1000 + i) for i in range(writers)]
        self.figures = Figures()
        self.elapsed = 0.0
        self.rg_id = f"/subscriptions/{self.sim.subscription}/resourceGroups/crashloop"
        self.nic_id = ""  # made at setup
        self.vault_uri = ""
        self.arm_token = self.vault_token = ""

    def run(self) -> Figures:
        f = self.figures
        started = time.monotonic()
        try:
            self._start()
            self._setup()
            for cycle in range(1, self.cycles + 1):
                self._cycle(cycle)
                self._start()
                self._check()
            self.sim.stop()
        finally:
            if self.sim.proc is not None and self.sim.proc.poll() is None:
                self.sim.proc.kill()
                self.sim.proc.wait()
        for w in self.writers:
            for name in ("writes", "acknowledged", "in_flight", "refused", "server_errors"):
                setattr(f, name, getattr(f, name) + getattr(w.figures, name))
            for code, n in w.figures.refusals.items():
                f.refusals[code] = f.refusals.get(code, 0) + n
            f.problems += [f"server error: {p}" for p in w.figures.problems][:10]
        self.elapsed = time.monotonic() - started
        return f

    def _start(self) -> None:
        self.sim.start()
        self.arm_token = self.sim.token()
        self.vault_token = self.sim.token(VAULT_SCOPE)
        self.graph_token = self.sim.token(GRAPH_SCOPE)

    def _setup(self) -> None:
        with self._arm() as c:
            r = c.put(f"{self.rg_id}?api-version={ARM_API}", json={"location": "eastus"})
            r.raise_for_status()
            self.nic_id = nic(c, self.rg_id)
            body = {"location": "eastus", "properties": {
                "tenantId": self.sim.tenant, "sku": {"family": "A", "name": "standard"},
                "accessPolicies": [{"tenantId": self.sim.tenant, "objectId": _claims(self.arm_token)["oid"],
                                    "permissions": {"secrets": ["all"]}}]}}
            r = c.put(f"{self.rg_id}/providers/Microsoft.KeyVault/vaults/crash{uuid.uuid4().hex[:8]}"
                      f"?api-version={KV_MGMT_API}", json=body)
            r.raise_for_status()
            self.vault_uri = r.json()["properties"]["vaultUri"]

    def _arm(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.sim.url, verify=self.sim.ca, timeout=60,
                            headers={"Authorization": f"Bearer {token or self.arm_token}"})

    def _cycle(self, cycle: int) -> None:
        stop = threading.Event()
        for w in self.writers:
            w.start(stop)
        time.sleep(self.rng.uniform(*self.uptime))
        proc = self.sim.proc
        assert proc is not None
        children = descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.sim.proc = None
        stop.set()
        for w in self.writers:
            w.join(90)
        left = survivors(children)
        if left:
            self.figures.survivors += len(left)
            self.figures.problem("survivor", f"cycle {cycle}: processes {left} outlived the killed server")
            for pid in left:  # do not let them pile up
                os.kill(pid, signal.SIGKILL)
        self.figures.cycles = cycle
        acknowledged = sum(w.figures.acknowledged for w in self.writers)
        self.log(f"cycle {cycle}: killed after {sum(w.figures.writes for w in self.writers)} writes "
                 f"({acknowledged} acknowledged so far), {len(children)} child processes, "
                 f"{len(left)} survived")

    # --- checks --------------------------------------------------------------------------------------------------

    def _check(self) -> None:
        f = self.figures
        with self._arm() as arm, self._arm(self.vault_token) as vault, self._arm(self.graph_token) as graph:
            for w in self.writers:
                for t in w.resources.values():
                    self._check_resource(arm, t)
                for s in w.secrets.values():
                    self._check_secret(vault, s)
            self._check_lifecycle(arm, graph)
        f.checked += 1

    def _check_resource(self, arm: httpx.Client, t: Tracked) -> None:
        api = {"vm": VM_API, "uai": UAI_API, "ra": RA_API}[t.kind]
        r = arm.get(f"{t.id}?api-version={api}")
        if r.status_code == 404:
            seen: dict[str, Any] | None = ABSENT
        elif r.status_code == 200:
            doc = r.json()
            principal = doc["properties"].get("principalId") if t.kind == "ra" else _principal_of(t.kind, doc)
            seen = {"tag": None if t.kind == "ra" else (doc.get("tags") or {}).get("w"), "principal": principal}
        else:
            self.figures.problem("violation", f"GET {t.id}: {r.status_code} {r.text[:200]}")
            return
        for state in t.states:
            if state is ABSENT or seen is ABSENT:
                if state is seen:
                    break
                continue
            if state["tag"] == seen["tag"] and state["principal"] in (None, seen["principal"]):
                break
        else:
            self.figures.problem("lost", f"{t.id}: found {seen}, expected one of {t.states}")
            return
        t.states = [seen]  # what a write in flight did (or did not do) is known now
        if seen is not ABSENT and seen["principal"]:
            t.principal = seen["principal"]

    def _check_secret(self, vault: httpx.Client, s: Secret) -> None:
        base = f"{self.vault_uri}secrets/{s.name}"
        for version, value in s.versions.items():
            r = vault.get(f"{base}/{version}?api-version={KV_API}")
            if r.status_code != 200 or r.json().get("value") != value:
                self.figures.problem("lost", f"secret {s.name}/{version}: {r.status_code} {r.text[:200]}")
        r = vault.get(f"{base}?api-version={KV_API}")
        if r.status_code not in (200, 404):
            self.figures.problem("violation", f"GET secret {s.name}: {r.status_code} {r.text[:200]}")
            return
        seen = r.json().get("value") if r.status_code == 200 else None
        if seen not in s.current:
            self.figures.problem("lost", f"secret {s.name}: current value {seen!r}, expected one of {s.current}")
            return
        s.current = [seen]

    def _check_lifecycle(self, arm: httpx.Client, graph: httpx.Client) -> None:
        f = self.figures
        principals = _all(graph, "/v1.0/servicePrincipals?$top=999")
        by_id = {sp["id"]: sp for sp in principals}
        for sp in principals:
            if sp.get("servicePrincipalType") != "ManagedIdentity":
                continue
            names = sp.get("alternativeNames") or []
            rid = names[1] if len(names) > 1 else ""
            kind = "vm" if f"/{VM_TYPE}/" in rid.lower() else "uai" if f"/{UAI_TYPE}/" in rid.lower() else ""
            if not kind:
                f.problem("violation", f"principal {sp['id']} names no VM or identity: {names}")
                continue
            r = arm.get(f"{rid}?api-version={VM_API if kind == 'vm' else UAI_API}")
            if r.status_code != 200:
                f.problem("violation", f"principal {sp['id']} outlived its resource {rid} ({r.status_code})")
            elif _principal_of(kind, r.json()) != sp["id"]:
                f.problem("violation", f"principal {sp['id']}: its resource {rid} names "
                          f"{_principal_of(kind, r.json())}")
        for res in _all(arm, f"{self.rg_id}/resources?api-version={ARM_API}"):
            listed_kind = {VM_TYPE: "vm", UAI_TYPE: "uai"}.get(res["type"].lower())
            if listed_kind is None:
                continue
            r = arm.get(f"{res['id']}?api-version={VM_API if listed_kind == 'vm' else UAI_API}")
            if r.status_code != 200:  # nothing writes while this runs
                f.problem("violation", f"{res['id']} is listed but GET answers {r.status_code}")
                continue
            principal = _principal_of(listed_kind, r.json())
            holder = by_id.get(principal or "")
            if holder is None:
                f.problem("violation", f"{res['id']}: its principal {principal} does not exist")
            elif (holder.get("alternativeNames") or ["", ""])[1].lower() != res["id"].lower():
                f.problem("violation", f"{res['id']}: its principal {principal} names "
                          f"{holder.get('alternativeNames')}")
        r = arm.get("/_sim/audit")
        r.raise_for_status()
        audit = r.json()
        deleted = set().union(*(w.deleted_principals for w in self.writers))
        orphans = audit.get("orphanedRoleAssignments") or []
        listed = {o["id"].lower() for o in orphans}
        for o in orphans:
            if o["principalId"] not in deleted:
                f.problem("violation", f"orphan {o['id']} names {o['principalId']}, never deleted legitimately")
        for w in self.writers:
            for t in w.resources.values():
                if t.kind == "ra" and t.certain() is not ABSENT and t.principal in deleted \
                        and t.principal not in by_id and t.id.lower() not in listed:
                    f.problem("violation", f"{t.id} names deleted {t.principal} but /_sim/audit does not list it")
        for ref in audit.get("danglingUserAssignedIdentities") or []:
            f.problem("violation", f"dangling reference {ref}")
        f.orphans = len(orphans)


def _all(client: httpx.Client, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url:
        r = client.get(next_url)
        r.raise_for_status()
        body = r.json()
        out += body.get("value") or []
        next_url = body.get("@odata.nextLink") or body.get("nextLink")
    return out


# --- databases -----------------------------------------------------------------------------------------------------


def fresh_postgres(url: str) -> tuple[str, str]:
    """(URL of a new database on the server of `url`, its name)."""
    import psycopg

    name = f"armsim_crash_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name, name


def drop_postgres(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def report(f: Figures, database: str, elapsed: float, out: Any = print) -> None:
    out(f"\ncrash loop on {database}: {elapsed:.0f} s")
    rows = [("cycles (SIGKILL + restart)", f.cycles), ("writes sent", f.writes),
            ("writes acknowledged", f.acknowledged),
            ("in flight at a kill (either outcome allowed)", f.in_flight), ("refused (4xx)", f"{f.refused} " + (
                "(" + ", ".join(f"{c} {n}" for c, n in sorted(f.refusals.items())) + ")" if f.refusals else "")),
            ("server errors (5xx)", f.server_errors), ("true orphans listed by /_sim/audit", f.orphans),
            ("lost acknowledged writes (must be 0)", f.lost), ("invariant violations (must be 0)", f.violations),
            ("child processes outliving a kill (must be 0)", f.survivors)]
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        out(f"  {label:<{width}}  {value}")
    for p in f.problems:
        out(f"  ! {p}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database-url", default="", help="a PostgreSQL server (a fresh database is made on it); "
                   "default: SQLite in a temporary home")
    p.add_argument("--keep", action="store_true", help="keep the home and the PostgreSQL database")
    p.add_argument("--cycles", type=int, default=10)
    p.add_argument("--writers", type=int, default=8)
    p.add_argument("--uptime", default="1-4", help="seconds of writing before each kill, a random value in LO-HI")
    p.add_argument("--seed", type=int, default=None)
    args = p.parse_args(argv)
    lo, _, hi = args.uptime.partition("-")
    uptime = (float(lo), float(hi or lo))
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    home = Path(tempfile.mkdtemp(prefix="arm-sim-crashloop."))
    url, dbname = args.database_url, ""
    if url.startswith("postgresql"):
        url, dbname = fresh_postgres(url)
    database = "PostgreSQL" if dbname else "SQLite"
    print(f"crash loop: {database}, {args.cycles} cycles, {args.writers} writers, "
          f"uptime {uptime[0]:g}-{uptime[1]:g} s, seed {seed}, home {home}", flush=True)
    loop = CrashLoop(home / "sim", url, cycles=args.cycles, writers=args.writers, uptime=uptime, seed=seed,
                     log=lambda line: print(line, flush=True))
    ok = False
    try:
        figures = loop.run()
        report(figures, database, loop.elapsed)
        ok = figures.lost == 0 and figures.violations == 0 and figures.survivors == 0
    finally:
        if dbname and not args.keep:
            drop_postgres(args.database_url, dbname)
        if ok and not args.keep:
            shutil.rmtree(home, ignore_errors=True)
        else:
            print(f"home kept for a look: {home} (server.log has the server's output)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
