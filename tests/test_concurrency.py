"""Concurrency on one database (issue 11, DESIGN.md §6): real servers, real HTTPS, simultaneous requests.

Races between TWO `arm-sim serve` processes on ONE database (SQLite: the same home and database file; PostgreSQL:
the same URL), each request released at the same instant by a barrier:
  - the same PUT enabling `SystemAssigned` on a VM with the same If-Match: one 200, one 412 PreconditionFailed, and
    the VM ends with exactly one service principal (no orphan left in the directory);
  - the same tags PATCH with the same If-Match: one 200, one 412, never two 200s;
  - the same new VM name created by both without If-Match: no 5xx; one creates (201) and the other updates (200)
    or gets ARM's conflict shape (409); both servers keep answering afterwards; one principal.
And the mixed run: 16 clients for ~20 s (ARM_SIM_CONCURRENCY_SECONDS) creating, reading, deleting and incrementing
a counter tag on shared resources with If-Match retry loops; no 5xx, no lost update, no "database is locked".
On SQLite with one server process, on PostgreSQL with two. `bench/concurrency.py` is the same run at scale.

Every race runs all its rounds and then asserts on the tally, so a failure says how many rounds went wrong and how.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import vmspec
from tests.concurrency_load import (
    GENERIC,
    GENERIC_API,
    GRAPH_SCOPE,
    LOCKED,
    VM,
    VM_API,
    MixConfig,
    Shot,
    client,
    env_number,
    group,
    is_arm_error,
    json_or_none,
    mixed_run,
    principals_of,
    race,
    start_servers,
    stop_servers,
    vm_body,
)
from tests.simserver import Sim, fresh_database_url

ROUNDS = int(env_number("ARM_SIM_RACE_ROUNDS", 12))
PATCH_ROUNDS = 3 * ROUNDS  # a tags PATCH is quick, so its window for overlapping is narrow: more rounds
MIX_SECONDS = env_number("ARM_SIM_CONCURRENCY_SECONDS", 20)


class Pair:
    """Two servers on one database, a keep-alive ARM client of each (the same deployer token), Graph, a group."""

    def __init__(self, servers: list[Sim]) -> None:
        self.servers = servers
        self.a, self.b = servers
        token = self.a.token()
        self.ca, self.cb = client(self.a, token), client(self.b, token)
        self.graph = client(self.a, self.a.token(GRAPH_SCOPE))
        self.rg = group(self.ca, self.a, f"race-{uuid.uuid4().hex[:8]}")
        self.nic = vmspec.nic(self.ca, self.rg)

    def close(self) -> None:
        for c in (self.ca, self.cb, self.graph):
            c.close()

    def warm(self, url: str, api: str) -> None:
        """Both connections open and both servers see `url` before the race (no TLS handshake in the race)."""
        for c in (self.ca, self.cb):
            r = c.get(url, params={"api-version": api})
            assert r.status_code == 200, f"before the race: {r.status_code} {r.text[:300]}"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    servers = start_servers(tmp_path_factory.mktemp("pair"), 2, fresh_database_url(), ARM_SIM_LRO="sync")
    p: Pair | None = None
    try:
        p = Pair(servers)
        yield p
    finally:
        if p is not None:
            p.close()
        stop_servers(servers)


def _send(c: httpx.Client, method: str, url: str, api: str, body: Any, headers: dict[str, str]) -> httpx.Response:
    return c.request(method, url, params={"api-version": api}, json=body, headers=headers)


def _statuses(shots: list[Shot]) -> list[int]:
    return sorted(s.status for s in shots)


def _server_errors(rounds: list[list[Shot]]) -> list[str]:
    return [f"round {i}: {s.describe()}" for i, shots in enumerate(rounds) for s in shots
            if s.status >= 500 or s.status < 0 or (s.response is not None and LOCKED in s.response.text)]


def _precondition_failures_are_arm_errors(rounds: list[list[Shot]]) -> list[str]:
    return [f"round {i}: {s.describe()}" for i, shots in enumerate(rounds) for s in shots
            if s.status == 412 and not is_arm_error(json_or_none(s.response), "PreconditionFailed")]  # type: ignore[arg-type]


def test_two_servers_enable_system_identity_with_one_etag(pair: Pair) -> None:
    """The same identity-enabling PUT with the same If-Match on two servers at once: exactly one wins."""
    rounds: list[list[Shot]] = []
    principals: list[list[str]] = []
    shown: list[str | None] = []
    for r in range(ROUNDS):
        name = f"vm{r}"
        vm = f"{pair.rg}/providers/{VM}/{name}"
        made = pair.ca.put(vm, params={"api-version": VM_API}, json=vm_body(name, pair.nic))
        assert made.status_code in (200, 201), made.text
        etag = made.headers["etag"]
        pair.warm(vm, VM_API)
        enable = vm_body(name, pair.nic, "SystemAssigned")
        rounds.append(race([partial(_send, c, "PUT", vm, VM_API, enable, {"If-Match": etag})
                            for c in (pair.ca, pair.cb)]))
        principals.append(principals_of(pair.graph, vm))
        shown.append((pair.ca.get(vm, params={"api-version": VM_API}).json().get("identity") or {}).get("principalId"))

    outcomes = Counter(tuple(_statuses(shots)) for shots in rounds)
    counts = [len(p) for p in principals]
    report = (f"{ROUNDS} rounds; status pairs: {dict(outcomes)}; principals per VM: {counts}; "
              f"orphaned principals: {sum(max(0, n - 1) for n in counts)}")
    assert not _server_errors(rounds), f"{report}\n5xx or no answer: {_server_errors(rounds)[:4]}"
    assert outcomes == {(200, 412): ROUNDS}, f"expected one 200 and one 412 in every round: {report}"
    assert not _precondition_failures_are_arm_errors(rounds), _precondition_failures_are_arm_errors(rounds)[:4]
    wrong = [(i, p, s) for i, (p, s) in enumerate(zip(principals, shown, strict=True)) if p != [s]]
    assert not wrong, f"each VM must have exactly the one principal it shows: {report}; (round, directory, VM): " \
                      f"{wrong[:4]}"


def test_two_servers_patch_tags_with_one_etag(pair: Pair) -> None:
    """The same tags PATCH with the same If-Match on two servers at once: one 200, one 412, never both 200."""
    url = f"{pair.rg}/providers/{GENERIC}/tagged"
    made = pair.ca.put(url, params={"api-version": GENERIC_API}, json={"location": "eastus", "tags": {"round": "-"}})
    assert made.status_code in (200, 201), made.text
    rounds: list[list[Shot]] = []
    lost: list[str] = []
    for r in range(PATCH_ROUNDS):
        got = pair.ca.get(url, params={"api-version": GENERIC_API})
        etag = got.headers["etag"]
        pair.cb.get(url, params={"api-version": GENERIC_API})  # (warm the other connection)
        shots = race([partial(_send, c, "PATCH", url, GENERIC_API, {"tags": {"round": str(r), "writer": w}},
                              {"If-Match": etag}) for c, w in ((pair.ca, "a"), (pair.cb, "b"))])
        rounds.append(shots)
        final = pair.ca.get(url, params={"api-version": GENERIC_API}).json()["tags"]
        winners = [s.response.json()["tags"] for s in shots if s.status == 200 and s.response is not None]
        if final not in winners:
            lost.append(f"round {r}: stored {final}, acknowledged {winners}")
    outcomes = Counter(tuple(_statuses(shots)) for shots in rounds)
    report = f"{PATCH_ROUNDS} rounds; status pairs: {dict(outcomes)}"
    assert not _server_errors(rounds), f"{report}\n5xx or no answer: {_server_errors(rounds)[:4]}"
    both = outcomes.get((200, 200), 0)
    assert both == 0, f"both PATCHes answered 200 with one etag in {both} of {PATCH_ROUNDS} rounds: {report}"
    assert outcomes == {(200, 412): PATCH_ROUNDS}, f"expected one 200 and one 412 in every round: {report}"
    assert not _precondition_failures_are_arm_errors(rounds), _precondition_failures_are_arm_errors(rounds)[:4]
    assert not lost, f"the stored tags are not the acknowledged PATCH's: {lost[:4]}"


def test_two_servers_create_the_same_new_name(pair: Pair) -> None:
    """Both servers create the same new VM (SystemAssigned) at once, without If-Match: no 5xx; one creates, the
    other updates (200) or gets ARM's conflict shape (409); both servers keep serving; the VM has one principal."""
    rounds: list[list[Shot]] = []
    principals: list[list[str]] = []
    shown: list[str | None] = []
    bad_shapes: list[str] = []
    for r in range(ROUNDS):
        name = f"new{r}"
        vm = f"{pair.rg}/providers/{VM}/{name}"
        pair.warm(pair.rg, "2025-04-01")
        body = vm_body(name, pair.nic, "SystemAssigned")
        shots = race([partial(_send, c, "PUT", vm, VM_API, body, {}) for c in (pair.ca, pair.cb)])
        rounds.append(shots)
        bad_shapes += [f"round {r}: {s.describe()}" for s in shots
                       if s.status == 409 and not is_arm_error(json_or_none(s.response))]  # type: ignore[arg-type]
        principals.append(principals_of(pair.graph, vm))
        got = pair.ca.get(vm, params={"api-version": VM_API})
        shown.append((got.json().get("identity") or {}).get("principalId") if got.status_code == 200 else None)

    # each server, on the connections that took part, still reads, writes and deletes
    after: list[str] = []
    probe = f"{pair.rg}/providers/{GENERIC}/after-races"
    for label, c in (("a", pair.ca), ("b", pair.cb)):
        for _ in range(3):
            r = c.get(f"{pair.rg}/providers/{VM}/new0", params={"api-version": VM_API})
            if r.status_code != 200:
                after.append(f"{label} GET -> {r.status_code} {r.text[:200]}")
        r = c.put(f"{probe}-{label}", params={"api-version": GENERIC_API}, json={"location": "eastus"})
        if r.status_code not in (200, 201):
            after.append(f"{label} PUT -> {r.status_code} {r.text[:200]}")
        r = c.delete(f"{probe}-{label}", params={"api-version": GENERIC_API})
        if r.status_code not in (200, 204):
            after.append(f"{label} DELETE -> {r.status_code} {r.text[:200]}")

    outcomes = Counter(tuple(_statuses(shots)) for shots in rounds)
    counts = [len(p) for p in principals]
    report = f"{ROUNDS} rounds; status pairs: {dict(outcomes)}; principals per VM: {counts}"
    assert not _server_errors(rounds), f"{report}\n5xx or no answer: {_server_errors(rounds)[:4]}"
    allowed = {(200, 201), (201, 409)}
    assert set(outcomes) <= allowed, f"expected 201 + 200 (create, then update) or 201 + 409 (conflict): {report}"
    assert not bad_shapes, f"409 without ARM's error envelope: {bad_shapes[:4]}"
    assert not after, f"the servers misbehave after the races: {after}"
    wrong = [(i, p, s) for i, (p, s) in enumerate(zip(principals, shown, strict=True)) if p != [s]]
    assert not wrong, f"each VM must have exactly the one principal it shows: {report}; (round, directory, VM): " \
                      f"{wrong[:4]}"


@pytest.fixture
def mix_servers(tmp_path: Path) -> Iterator[list[Sim]]:
    """SQLite: one server process. PostgreSQL: two server processes on one database."""
    url = fresh_database_url()
    servers = start_servers(tmp_path / "mix", 2 if url else 1, url, ARM_SIM_LRO="sync")
    yield servers
    stop_servers(servers)


def test_mixed_clients_lose_no_update(mix_servers: list[Sim]) -> None:
    """16 clients for ~20 s: creates, GETs, If-Match increments of a counter tag on shared resources, deletes."""
    result = mixed_run(mix_servers, MixConfig(clients=16, duration=MIX_SECONDS))
    t = result.tally
    report = result.summary()
    print(report)
    assert sum(t.increments.values()) > 0 and t.ops["create"] > 0 and t.ops["delete"] > 0, report
    assert t.server_error_count == 0, f"answers >= 500:\n{report}"
    assert t.locked == 0, f"'{LOCKED}' in answers:\n{report}"
    assert not t.transport_errors, f"requests without an answer:\n{report}"
    assert result.lost_updates == 0 and result.phantom_updates == 0, f"counters disagree with the acknowledged " \
                                                                     f"increments:\n{report}"
    assert t.unexpected_count == 0, f"unexpected answers:\n{report}"


def test_the_race_helper_fires_together(pair: Pair) -> None:
    """The harness itself: both requests of a race leave within a few milliseconds of each other."""
    shots = race([partial(c.get, "/_sim/health") for c in (pair.ca, pair.cb)])
    assert all(s.status == 200 for s in shots), [s.describe() for s in shots]
    assert abs(shots[0].sent - shots[1].sent) < 0.1, shots

