"""Shared by tests/test_concurrency.py, tests/test_loop_latency.py and the benchmarks bench/concurrency.py and
bench/loop_latency.py: several `arm-sim serve` processes on one database, the 16-client mixed run with If-Match
retry loops, simultaneous requests, and latency probes while a large template deploys (DESIGN.md §6, issue 11).

Everything speaks real HTTPS to real servers on 127.0.0.1 ports; only the standard library, httpx and
`arm_sim.testing.server` are used, so the benchmarks can import this module too.
"""

from __future__ import annotations

import contextlib
import os
import random
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from arm_sim.testing.server import PortTaken, Sim, free_port, free_range
from tests import vmspec

GROUPS_API = "2025-04-01"
DEPLOY_API = "2025-04-01"
GENERIC = "Microsoft.Relay/namespaces"  # a real type arm-sim has no provider for: stored generically, cheap to write
GENERIC_API = "2024-01-01"
VM = "Microsoft.Compute/virtualMachines"
VM_API = "2024-07-01"
KV_MGMT_API = "2023-07-01"
KV_DATA_API = "7.4"
IMDS_API = "2018-02-01"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
VAULT_SCOPE = "https://vault.azure.net/.default"
LOCKED = "database is locked"
SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
LOOP_SIZE = 400  # resources per copy loop in copy_template (ARM allows at most 800 in one loop)


def env_number(name: str, default: float) -> float:
    """A tunable from the environment (e.g. ARM_SIM_CONCURRENCY_SECONDS=60 for a longer run)."""
    raw = os.environ.get(name)
    return float(raw) if raw else default


# --- servers ---------------------------------------------------------------------------------------------------


def start_servers(home: Path, count: int, database_url: str = "", **env: str) -> list[Sim]:
    """`count` simulator processes on ONE database: the same home (so on SQLite the same database file, and one CA
    for all), the same bootstrap ids, each on its own ports. The first one creates the home and migrates."""
    servers: list[Sim] = []
    try:
        first = Sim(home=home, database_url=database_url, hermetic=True, extra_env=dict(env)).start()
        servers.append(first)
        for _ in range(count - 1):
            servers.append(_start_more(first))
    except BaseException:
        stop_servers(servers)
        raise
    return servers


def _start_more(first: Sim) -> Sim:
    for attempt in range(4):
        sim = Sim(home=first.home, database_url=first.database_url, hermetic=True, tenant=first.tenant,
                  subscription=first.subscription, client_id=first.client_id, client_secret=first.client_secret,
                  extra_env=dict(first.extra_env), port=free_port(), imds_port=free_port(),
                  vault_ports=free_range(first.vault_ports[1] - first.vault_ports[0] + 1))
        try:
            return sim.start()
        except PortTaken:  # another process took a port between our probe and the server's bind
            if attempt == 3:
                raise
    raise AssertionError("unreachable")


def create_database(server_url: str) -> str:
    """A brand-new PostgreSQL database on the server of `server_url` (postgresql+psycopg://user@host:port/db)."""
    import psycopg

    name = f"armsim_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server_url.rsplit("/", 1)[0] + "/" + name


def drop_database(server_url: str, url: str) -> None:
    """Drop a database `create_database` made (its servers stopped first)."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(server_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def stop_servers(servers: Sequence[Sim]) -> None:
    for sim in servers:
        sim.stop()


def client(sim: Sim, token: str, timeout: float = 60) -> httpx.Client:
    """A keep-alive HTTPS client of one server (127.0.0.1: the servers listen on IPv4 only)."""
    return httpx.Client(base_url=f"https://127.0.0.1:{sim.port}", verify=sim.ca, timeout=timeout,
                        headers={"Authorization": f"Bearer {token}"})


def group(c: httpx.Client, sim: Sim, name: str) -> str:
    rg = f"/subscriptions/{sim.subscription}/resourceGroups/{name}"
    r = c.put(rg, params={"api-version": GROUPS_API}, json={"location": "eastus"})
    assert r.status_code in (200, 201), f"resource group {name}: {r.status_code} {r.text[:500]}"
    return rg


def vm_body(name: str, nic_id: str, identity: str | None = None) -> dict[str, Any]:
    """A VM Compute accepts (tests/vmspec.py), as JSON; `nic_id` from `vmspec.nic`."""
    body: dict[str, Any] = {"location": "eastus", "properties": vmspec.properties(nic_id, name)}
    if identity:
        body["identity"] = {"type": identity}
    return body


def directory_id(resource_id: str) -> str:
    """Entra's spelling of a resource id (lower-case `resourcegroups`), as in a principal's alternativeNames."""
    return "/".join(p.lower() if p.lower() == "resourcegroups" else p for p in resource_id.split("/"))


def principals_of(graph: httpx.Client, resource_id: str) -> list[str]:
    """Object ids of every service principal whose alternativeNames name `resource_id` (its system identity)."""
    r = graph.get("/v1.0/servicePrincipals",
                  params={"$filter": f"alternativeNames/any(x:x eq '{directory_id(resource_id)}')"})
    assert r.status_code == 200, f"Graph principals of {resource_id}: {r.status_code} {r.text[:500]}"
    return sorted(sp["id"] for sp in r.json()["value"])


def is_arm_error(body: Any, code: str | None = None) -> bool:
    """ARM's error envelope: {"error": {"code": str, "message": str, ...}} (with `code` if given)."""
    err = body.get("error") if isinstance(body, dict) else None
    return (isinstance(err, dict) and isinstance(err.get("code"), str) and bool(err["code"])
            and isinstance(err.get("message"), str) and (code is None or err["code"] == code))


def json_or_none(r: httpx.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return None


# --- simultaneous requests -------------------------------------------------------------------------------------


@dataclass
class Shot:
    """One request of a race: the answer (or the exception) and when it was sent and answered (perf_counter)."""

    response: httpx.Response | None
    error: BaseException | None
    sent: float
    answered: float

    @property
    def status(self) -> int:
        return self.response.status_code if self.response is not None else -1

    def describe(self) -> str:
        if self.response is None:
            return f"{type(self.error).__name__}: {self.error}"
        return f"{self.response.status_code} {self.response.text[:300]}"


def race(calls: Sequence[Callable[[], httpx.Response]], timeout: float = 120) -> list[Shot]:
    """Run the calls at the same instant, one thread each, released together by a barrier; results in order."""
    barrier = threading.Barrier(len(calls))
    shots: list[Shot | None] = [None] * len(calls)

    def run(i: int, call: Callable[[], httpx.Response]) -> None:
        barrier.wait(timeout)
        sent = time.perf_counter()
        try:
            shots[i] = Shot(call(), None, sent, time.perf_counter())
        except Exception as e:  # a transport failure is a finding, reported by the caller
            shots[i] = Shot(None, e, sent, time.perf_counter())

    threads = [threading.Thread(target=run, args=(i, call), daemon=True) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    out = [s for s in shots if s is not None]
    assert len(out) == len(calls), f"a racing request did not finish in {timeout:.0f} s"
    return out


# --- the mixed run ---------------------------------------------------------------------------------------------


@dataclass
class MixConfig:
    clients: int = 16
    duration: float = 20.0  # seconds during which clients start new operations
    shared: int = 4  # resources whose counter tag every client increments
    max_attempts: int = 200  # If-Match retries of one increment before giving up (not an error)
    seed: int = 11
    weights: tuple[int, int, int, int] = (2, 4, 3, 1)  # create, get, increment, delete


@dataclass
class Tally:
    """What one client saw (merged over clients at the end)."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)  # samples of answers >= 500
    server_error_count: int = 0
    locked: int = 0  # answers whose body says "database is locked"
    transport_errors: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # samples of answers the workload did not expect (< 500)
    unexpected_count: int = 0
    increments: Counter[str] = field(default_factory=Counter)  # acknowledged (200) increments per shared resource
    uncertain: Counter[str] = field(default_factory=Counter)  # increments whose outcome is unknown (5xx, no answer)
    conflicts: int = 0  # 412 answers to increments (then retried)
    given_up: int = 0
    ops: Counter[str] = field(default_factory=Counter)

    def merge(self, other: Tally) -> None:
        self.requests += other.requests
        self.statuses.update(other.statuses)
        self.latencies += other.latencies
        self.server_errors += other.server_errors[: max(0, 10 - len(self.server_errors))]
        self.server_error_count += other.server_error_count
        self.locked += other.locked
        self.transport_errors += other.transport_errors
        self.unexpected += other.unexpected[: max(0, 10 - len(self.unexpected))]
        self.unexpected_count += other.unexpected_count
        self.increments.update(other.increments)
        self.uncertain.update(other.uncertain)
        self.conflicts += other.conflicts
        self.given_up += other.given_up
        self.ops.update(other.ops)


@dataclass
class MixResult:
    config: MixConfig
    servers: int
    elapsed: float
    tally: Tally
    final: dict[str, int]  # the counter each shared resource ends with

    @property
    def lost_updates(self) -> int:
        """Acknowledged increments missing from the final counters."""
        return sum(max(0, self.tally.increments[k] - v) for k, v in self.final.items())

    @property
    def phantom_updates(self) -> int:
        """Counter steps beyond every acknowledged or possibly-applied increment."""
        return sum(max(0, v - self.tally.increments[k] - self.tally.uncertain[k]) for k, v in self.final.items())

    def percentile(self, q: float) -> float:
        lat = sorted(self.tally.latencies)
        if not lat:
            return float("nan")
        return lat[min(len(lat) - 1, int(q * len(lat)))]

    def summary(self) -> str:
        t = self.tally
        per = ", ".join(f"{k}: {t.increments[k]} acknowledged -> counter {v}" + (
            f" ({t.uncertain[k]} uncertain)" if t.uncertain[k] else "") for k, v in sorted(self.final.items()))
        lines = [
            f"{self.config.clients} clients, {self.servers} server process(es), {self.elapsed:.1f} s: "
            f"{t.requests} requests ({', '.join(f'{k} {v}' for k, v in sorted(t.ops.items()))})",
            f"statuses: {dict(sorted(t.statuses.items()))}",
            f"5xx: {t.server_error_count}; '{LOCKED}': {t.locked}; transport errors: {len(t.transport_errors)}; "
            f"unexpected answers: {t.unexpected_count}",
            f"increments: {sum(t.increments.values())} acknowledged, {t.conflicts} answered 412 and retried, "
            f"{t.given_up} given up; lost updates: {self.lost_updates}; phantom updates: {self.phantom_updates}",
            f"per shared resource: {per}",
            f"latency p50 {self.percentile(0.5) * 1000:.1f} ms, p99 {self.percentile(0.99) * 1000:.1f} ms, "
            f"max {max(t.latencies, default=0) * 1000:.0f} ms",
        ]
        if t.server_errors:
            lines.append("5xx samples: " + " | ".join(t.server_errors[:5]))
        if t.transport_errors:
            lines.append("transport error samples: " + " | ".join(t.transport_errors[:5]))
        if t.unexpected:
            lines.append("unexpected samples: " + " | ".join(t.unexpected[:5]))
        return "\n".join(lines)


class _Worker:
    """One client of the mixed run: its own server, keep-alive connection, random stream and resources."""

    def __init__(self, index: int, sim: Sim, token: str, rg: str, shared: list[str], config: MixConfig,
                 deadline: float) -> None:
        self.index, self.rg, self.shared, self.config, self.deadline = index, rg, shared, config, deadline
        self.http = client(sim, token)
        self.rng = random.Random(config.seed * 1000 + index)
        self.tally = Tally()
        self.own: list[str] = []
        self.made = 0

    def call(self, method: str, url: str, expected: tuple[int, ...], **kwargs: Any) -> httpx.Response | None:
        t = self.tally
        start = time.perf_counter()
        try:
            r = self.http.request(method, url, **kwargs)
        except httpx.HTTPError as e:
            t.transport_errors.append(f"{method} {url}: {type(e).__name__}: {e}")
            return None
        t.latencies.append(time.perf_counter() - start)
        t.requests += 1
        t.statuses[r.status_code] += 1
        text = r.text
        if LOCKED in text:
            t.locked += 1
        if r.status_code >= 500:
            t.server_error_count += 1
            if len(t.server_errors) < 10:
                t.server_errors.append(f"{method} {url.rsplit('/', 1)[-1]} -> {r.status_code} {text[:200]}")
        elif r.status_code not in expected:
            t.unexpected_count += 1
            if len(t.unexpected) < 10:
                t.unexpected.append(f"{method} {url.rsplit('/', 1)[-1]} -> {r.status_code} {text[:200]}")
        return r

    def url(self, name: str) -> str:
        return f"{self.rg}/providers/{GENERIC}/{name}"

    def run(self) -> None:
        ops = ("create", "get", "increment", "delete")
        with self.http:
            while time.monotonic() < self.deadline:
                op = self.rng.choices(ops, weights=self.config.weights)[0]
                if op == "delete" and not self.own:
                    op = "create"
                self.tally.ops[op] += 1
                getattr(self, op)()

    def create(self) -> None:
        name = f"c{self.index}-{self.made}"
        self.made += 1
        r = self.call("PUT", self.url(name), (200, 201), params={"api-version": GENERIC_API},
                      json={"location": "eastus", "tags": {"owner": str(self.index)}, "properties": {"n": self.made}})
        if r is not None and r.status_code in (200, 201):
            self.own.append(name)

    def get(self) -> None:
        name = self.rng.choice(self.shared + self.own[-5:])
        self.call("GET", self.url(name), (200,), params={"api-version": GENERIC_API})

    def delete(self) -> None:
        name = self.own.pop(self.rng.randrange(len(self.own)))
        self.call("DELETE", self.url(name), (200, 202, 204), params={"api-version": GENERIC_API})

    def increment(self) -> None:
        """Read the counter tag and its etag, PATCH counter+1 with If-Match; on 412 read again and retry."""
        name = self.rng.choice(self.shared)
        for _ in range(self.config.max_attempts):
            got = self.call("GET", self.url(name), (200,), params={"api-version": GENERIC_API})
            if got is None or got.status_code != 200:
                return
            etag, counter = got.headers.get("etag", ""), int(got.json()["tags"]["counter"])
            r = self.call("PATCH", self.url(name), (200, 412), params={"api-version": GENERIC_API},
                          json={"tags": {"counter": str(counter + 1)}}, headers={"If-Match": etag})
            if r is None or r.status_code >= 500:
                self.tally.uncertain[name] += 1  # may or may not have been applied
                return
            if r.status_code == 200:
                self.tally.increments[name] += 1
                return
            if r.status_code != 412:
                return
            self.tally.conflicts += 1
            if time.monotonic() >= self.deadline + 10:  # bounded: stop retrying well after the run's end
                break
        self.tally.given_up += 1


def mixed_run(servers: Sequence[Sim], config: MixConfig) -> MixResult:
    """Clients spread round-robin over `servers` (all on one database): creates, GETs, counter increments with
    If-Match retry loops on `config.shared` shared resources, and deletes of their own resources, for
    `config.duration` seconds. Then reads every shared counter back."""
    first = servers[0]
    token = first.token()
    run_id = uuid.uuid4().hex[:8]
    shared = [f"shared-{k}" for k in range(config.shared)]
    with client(first, token) as c:
        rg = group(c, first, f"mix-{run_id}")
        for name in shared:
            r = c.put(f"{rg}/providers/{GENERIC}/{name}", params={"api-version": GENERIC_API},
                      json={"location": "eastus", "tags": {"counter": "0"}, "properties": {}})
            assert r.status_code in (200, 201), f"shared resource {name}: {r.status_code} {r.text[:500]}"
    start = time.monotonic()
    deadline = start + config.duration
    workers = [_Worker(i, servers[i % len(servers)], token, rg, shared, config, deadline)
               for i in range(config.clients)]
    threads = [threading.Thread(target=w.run, name=f"mix-{i}", daemon=True) for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(config.duration + 300)
    elapsed = time.monotonic() - start
    assert not any(t.is_alive() for t in threads), "a client of the mixed run did not finish"
    tally = Tally()
    for w in workers:
        tally.merge(w.tally)
    final: dict[str, int] = {}
    with client(first, token) as c:
        for name in shared:
            r = c.get(f"{rg}/providers/{GENERIC}/{name}", params={"api-version": GENERIC_API})
            assert r.status_code == 200, f"reading {name} back: {r.status_code} {r.text[:500]}"
            final[name] = int(r.json()["tags"]["counter"])
    return MixResult(config, len(servers), elapsed, tally, final)


# --- latency while a large template deploys ----------------------------------------------------------------------


def copy_template(count: int, resource_type: str = "Microsoft.ServiceBus/namespaces") -> dict[str, Any]:
    """`count` cheap generic resources in copy loops of LOOP_SIZE each, named as `widget_name` says."""
    loops, left, k = [], count, 0
    while left > 0:
        n = min(left, LOOP_SIZE)
        loops.append({"type": resource_type, "apiVersion": GENERIC_API, "name": f"[concat('w{k}-', copyIndex())]",
                      "location": "eastus", "tags": {"loop": str(k)}, "properties": {"index": "[copyIndex()]"},
                      "copy": {"name": f"widgets{k}", "count": n}})
        left, k = left - n, k + 1
    return {"$schema": SCHEMA, "contentVersion": "1.0.0.0", "resources": loops}


def widget_name(index: int) -> str:
    """The name copy_template gives its resource number `index` (0-based)."""
    return f"w{index // LOOP_SIZE}-{index % LOOP_SIZE}"


@dataclass
class Probe:
    """A named request measured over and over: `call()` returns the response; 200 is expected."""

    name: str
    call: Callable[[], httpx.Response]
    samples: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def once(self) -> None:
        start = time.perf_counter()
        try:
            r = self.call()
        except httpx.HTTPError as e:
            self.samples.append(time.perf_counter() - start)
            self.failures.append(f"{type(e).__name__}: {e}")
            return
        self.samples.append(time.perf_counter() - start)
        if r.status_code != 200:
            self.failures.append(f"{r.status_code} {r.text[:200]}")

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def worst(self) -> float:
        return max(self.samples, default=float("nan"))

    def quantile(self, q: float) -> float:
        s = sorted(self.samples)
        return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")

    def describe(self) -> str:
        return (f"{self.name}: {len(self.samples)} samples, median {self.median * 1000:.1f} ms, "
                f"p90 {self.quantile(0.9) * 1000:.1f} ms, max {self.worst * 1000:.0f} ms"
                + (f", {len(self.failures)} failed ({self.failures[0]})" if self.failures else ""))


@dataclass
class LatencyTarget:
    """A VM with a system identity (its IMDS endpoint) and a vault with one secret, ready to be probed."""

    sim: Sim
    rg: str
    imds_token_url: str
    secret_url: str
    vault_token: str


def latency_target(sim: Sim, c: httpx.Client, token: str) -> LatencyTarget:
    """Set up, through the server as a client would, what the probes ask for."""
    import jwt

    rg = group(c, sim, f"lat-{uuid.uuid4().hex[:8]}")
    vm_id = f"{rg}/providers/{VM}/probe-vm"
    r = c.put(vm_id, params={"api-version": VM_API}, json=vm_body("probe-vm", vmspec.nic(c, rg), "SystemAssigned"))
    assert r.status_code in (200, 201), f"VM: {r.status_code} {r.text[:500]}"
    r = c.get("/_sim/imds-endpoint", params={"resourceId": vm_id})
    assert r.status_code == 200, f"IMDS endpoint: {r.status_code} {r.text[:500]}"
    imds = r.json()["endpoint"].replace("//localhost:", "//127.0.0.1:")
    oid = jwt.decode(token, options={"verify_signature": False})["oid"]
    vault = f"{rg}/providers/Microsoft.KeyVault/vaults/lat{uuid.uuid4().hex[:12]}"
    r = c.put(vault, params={"api-version": KV_MGMT_API}, json={"location": "eastus", "properties": {
        "tenantId": sim.tenant, "sku": {"family": "A", "name": "standard"},
        "accessPolicies": [{"tenantId": sim.tenant, "objectId": oid, "permissions": {"secrets": ["get", "set"]}}]}})
    assert r.status_code in (200, 201), f"vault: {r.status_code} {r.text[:500]}"
    uri = c.get(vault, params={"api-version": KV_MGMT_API}).json()["properties"]["vaultUri"]
    secret = f"{uri.replace('//localhost:', '//127.0.0.1:')}secrets/probe?api-version={KV_DATA_API}"
    vault_token = sim.token(VAULT_SCOPE)
    with httpx.Client(verify=sim.ca, timeout=60, headers={"Authorization": f"Bearer {vault_token}"}) as kv:
        r = kv.put(secret, json={"value": "probe-" + uuid.uuid4().hex})
        assert r.status_code == 200, f"secret set: {r.status_code} {r.text[:500]}"
    token_url = f"{imds}/metadata/identity/oauth2/token?api-version={IMDS_API}&resource=https://vault.azure.net"
    return LatencyTarget(sim, rg, token_url, secret, vault_token)


@contextlib.contextmanager
def probes(target: LatencyTarget) -> Iterator[list[Probe]]:
    """The three probes, each with its own keep-alive connection: /_sim/health, an IMDS token, a secret GET."""
    sim = target.sim
    with httpx.Client(base_url=f"https://127.0.0.1:{sim.port}", verify=sim.ca, timeout=60) as health, \
            httpx.Client(timeout=60, headers={"Metadata": "true"}) as imds, \
            httpx.Client(verify=sim.ca, timeout=60, headers={"Authorization": f"Bearer {target.vault_token}"}) as kv:
        yield [Probe("/_sim/health", lambda: health.get("/_sim/health")),
               Probe("IMDS token", lambda: imds.get(target.imds_token_url)),
               Probe("Key Vault secret GET", lambda: kv.get(target.secret_url))]


def sample(ps: Sequence[Probe], until: Callable[[], bool], pause: float = 0.05, limit: float = 600) -> None:
    """Each probe in its own thread, once every `pause` seconds (after its answer), until `until()` is true."""
    stop_at = time.monotonic() + limit

    def loop(p: Probe) -> None:
        while not until() and time.monotonic() < stop_at:
            p.once()
            time.sleep(pause)

    threads = [threading.Thread(target=loop, args=(p,), daemon=True) for p in ps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(limit + 60)


@dataclass
class Deployment:
    seconds: float = float("nan")
    state: str = ""
    error: str = ""


def deploy(c: httpx.Client, rg: str, name: str, template: dict[str, Any], timeout: float = 600) -> Deployment:
    """PUT the deployment and wait for a terminal state (following the LRO protocol if answered asynchronously)."""
    out = Deployment()
    start = time.monotonic()
    path = f"{rg}/providers/Microsoft.Resources/deployments/{name}"
    r = c.put(path, params={"api-version": DEPLOY_API}, json={"properties": {"mode": "Incremental",
                                                                             "template": template}}, timeout=timeout)
    if r.status_code not in (200, 201):
        out.seconds, out.state, out.error = time.monotonic() - start, f"HTTP {r.status_code}", r.text[:500]
        return out
    state = r.json().get("properties", {}).get("provisioningState", "")
    while state not in ("Succeeded", "Failed", "Canceled") and time.monotonic() - start < timeout:
        time.sleep(0.1)
        got = c.get(path, params={"api-version": DEPLOY_API})
        state = got.json().get("properties", {}).get("provisioningState", "") if got.status_code == 200 else state
    out.seconds = time.monotonic() - start
    got = c.get(path, params={"api-version": DEPLOY_API}).json().get("properties", {})
    out.state, out.error = got.get("provisioningState", state), str(got.get("error") or "")[:500]
    return out
