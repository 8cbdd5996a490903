"""The simulator API behind the console's newer views (issue 19): what deleting a resource would do (`/_sim/whatif/
delete`, the real delete rolled back), the event log as server-sent events (`/_sim/events/stream`, with one-time
tickets for EventSource), the requests refused lately (`/_sim/denials`), pending directory replication on the clock,
and `/_sim/explain?identity=` for refused federated exchanges (issue 20).

Clients: the Azure SDK for Python (compute, Key Vault management) for the resources, httpx for the simulator API
and the stream, and raw token requests for the identities' own calls."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.simserver import Sim, fresh_database_url
from tests.test_federation import EXCHANGE, GITHUB, MSI_API, assertion, exchange, federate
from tests.test_imds import identities
from tests.test_keyvault_secrets import Env, kv_env, unique

_env = pytest.fixture(scope="module", name="env")(kv_env)  # the module's simulator

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def identity_token(env: Env, resource_id: str, resource: str) -> str:
    ep = env.endpoint(resource_id)
    r = httpx.get(f"{ep['endpoint']}/metadata/identity/oauth2/token", headers={"Metadata": "true"},
                  params={"api-version": "2018-02-01", "resource": resource})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def graph(env: Env, scope: str | None = None) -> dict[str, Any]:
    with env.sim.http() as arm:
        r = arm.get("/_sim/graph", params={"scope": scope} if scope else None)
    assert r.status_code == 200, r.text
    return dict(r.json())


def last_seq(env: Env) -> int:
    with env.sim.http() as arm:
        rows = arm.get("/_sim/events", params={"top": "5000"}).json()["value"]
    return int(rows[-1]["seq"]) if rows else 0


def written_since(env: Env, seq: int) -> list[str]:
    """The kinds of the events after `seq`, but for the tokens issued to ask (each `sim.http()` gets one)."""
    with env.sim.http() as arm:
        rows = arm.get("/_sim/events", params={"after": str(seq), "top": "5000"}).json()["value"]
    return [e["kind"] for e in rows if not e["kind"].startswith("token.")]


# --- what if I delete it? ------------------------------------------------------------------------------------

def test_whatif_delete_names_the_principal_and_the_orphans_and_changes_nothing(env: Env) -> None:
    uai = env.sim.http().put(
        f"/subscriptions/{env.sim.subscription}/resourceGroups/{env.rg}/providers/Microsoft.ManagedIdentity/"
        f"userAssignedIdentities/{unique('id-')}", params={"api-version": MSI_API}, json={"location": "eastus"}).json()
    name = unique("web")
    vm = env.vm(name, identities("SystemAssigned, UserAssigned", uai["id"]))
    principal = vm.identity.principal_id
    vault = env.vault([env.policy(env.deployer_oid, ("all",)), env.policy(principal, ("get", "list"))])
    group = f"/subscriptions/{env.sim.subscription}/resourceGroups/{env.rg}"
    env.assign(group, READER, principal)
    seq = last_seq(env)

    with env.sim.http() as arm:
        r = arm.get("/_sim/whatif/delete", params={"resourceId": vm.id})
    assert r.status_code == 200, r.text
    w = r.json()
    assert w["wouldSucceed"] is True and w["changed"] is False
    assert [d.lower() for d in w["resourcesDeleted"]][-1] == vm.id.lower()
    gone = w["principalsDeleted"]
    assert [p["objectId"] for p in gone] == [principal]
    assert gone[0]["principal"]["displayName"] == name and gone[0]["reason"] == "resource deleted"
    orphaned = {(o["kind"], o.get("roleName") or o.get("vaultName")) for o in w["grantsOrphaned"]}
    assert orphaned == {("roleAssignment", "Reader"), ("accessPolicy", vault.name)}
    assert all(o["principalId"] == principal for o in w["grantsOrphaned"])
    # the user-assigned identity is detached from the VM, and kept (with its own principal)
    detached = w["userAssignedDetached"]
    assert [(d["identityId"].lower(), d["kept"]) for d in detached] == [(uai["id"].lower(), True)]
    assert detached[0]["principalId"] == uai["properties"]["principalId"]
    assert "servicePrincipal.deleted" in [e["kind"] for e in w["events"]]

    # nothing happened: the VM and its principal are there, no orphan yet, no event written
    assert env.compute.virtual_machines.get(env.rg, name).identity.principal_id == principal
    after = graph(env, group)
    assert any(p["objectId"] == principal and p["exists"] for r in after["resources"] if r["name"] == name
               for p in r["principals"])
    assert not [o for o in after["orphans"] if o["principalId"] == principal]
    assert written_since(env, seq) == []

    # what it predicted is what the delete does
    env.compute.virtual_machines.begin_delete(env.rg, name).result()
    real = {(o["kind"], o.get("roleName") or o.get("vaultName")) for o in graph(env)["orphans"]
            if o["principalId"] == principal}
    assert real == orphaned

    # deleting the identity itself: its principal goes, its federated credential (a child) with it, and resources
    # that use it are left naming it
    user = env.vm(unique("app"), identities("UserAssigned", uai["id"]))
    with env.sim.http() as arm:
        fic = federate(arm, uai, GITHUB, "repo:contoso/app:ref:refs/heads/main")
        w = arm.get("/_sim/whatif/delete", params={"resourceId": uai["id"]}).json()
        assert arm.get(fic, params={"api-version": MSI_API}).status_code == 200  # (still there)
    assert [p["objectId"] for p in w["principalsDeleted"]] == [uai["properties"]["principalId"]]
    assert [d.lower() for d in w["resourcesDeleted"]] == [fic.lower(), uai["id"].lower()]  # children first
    assert [d["resourceId"].lower() for d in w["resourcesLeftDangling"]] == [user.id.lower()]


def test_whatif_delete_refusals(env: Env) -> None:
    group = f"/subscriptions/{env.sim.subscription}/resourceGroups/{env.rg}"
    missing = f"{group}/providers/Microsoft.Compute/virtualMachines/{unique('none')}"
    with env.sim.http() as arm:
        r = arm.get("/_sim/whatif/delete", params={"resourceId": missing})
        assert r.status_code == 404 and r.json()["error"]["code"] == "ResourceNotFound", r.text
        for where, code in ((f"/subscriptions/{uuid.uuid4()}/resourceGroups/{env.rg}", "SubscriptionNotFound"),
                            (f"/subscriptions/{env.sim.subscription}/resourceGroups/{unique('gone')}",
                             "ResourceGroupNotFound")):
            r = arm.get("/_sim/whatif/delete",
                        params={"resourceId": f"{where}/providers/Microsoft.Compute/virtualMachines/vm1"})
            assert r.status_code == 404 and r.json()["error"]["code"] == code, r.text
        r = arm.get("/_sim/whatif/delete", params={"resourceId": "web1"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidResourceId", r.text
        # a CanNotDelete lock: the delete would be refused, and the answer says so
        uai = arm.put(f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{unique('id-')}",
                      params={"api-version": MSI_API}, json={"location": "eastus"}).json()
        lock = arm.put(f"{uai['id']}/providers/Microsoft.Authorization/locks/keep",
                       params={"api-version": "2020-05-01"}, json={"properties": {"level": "CanNotDelete"}})
        assert lock.status_code in (200, 201), lock.text
        w = arm.get("/_sim/whatif/delete", params={"resourceId": uai["id"]}).json()
        assert w["wouldSucceed"] is False and w["refusedWith"]["code"] == "ScopeLocked"
        assert w["principalsDeleted"] == []
    with httpx.Client(base_url=env.sim.url, verify=env.sim.ca) as anon:
        r = anon.get("/_sim/whatif/delete", params={"resourceId": missing})
        assert r.status_code == 401


# --- the requests refused lately -------------------------------------------------------------------------------

def test_denials_name_the_question_explain_answers(env: Env) -> None:
    name = unique("den")
    vm = env.vm(name, identities("SystemAssigned"))
    principal = vm.identity.principal_id
    vault = env.vault()  # the deployer only
    group = f"/subscriptions/{env.sim.subscription}/resourceGroups/{env.rg}"
    arm_token = identity_token(env, vm.id, "https://management.azure.com/")
    with env.sim.http(arm_token) as as_vm:
        assert as_vm.get(group, params={"api-version": "2025-04-01"}).status_code == 403
    kv_token = identity_token(env, vm.id, "https://vault.azure.net")
    with httpx.Client(base_url=vault.properties.vault_uri, verify=env.sim.ca) as kv:
        r = kv.get("/secrets/nope", params={"api-version": "7.5"}, headers={"Authorization": f"Bearer {kv_token}"})
        assert r.status_code == 403, r.text

    forged = jwt.encode({"oid": principal, "aud": "https://management.azure.com/"},  # anyone can write these claims
                        "a key that is not arm-sim's own, long enough for HS256", algorithm="HS256")
    with env.sim.http(forged) as someone:
        assert someone.get(group, params={"api-version": "2025-04-01"}).status_code == 401

    with env.sim.http() as arm:
        r = arm.get("/_sim/denials")
    assert r.status_code == 200, r.text
    assert arm_token not in r.text and kv_token not in r.text and env.sim.client_secret not in r.text
    mine = [d for d in r.json()["value"] if d.get("principal") == principal]
    assert len(mine) == 3, mine
    claimed, kv_denial, arm_denial = mine  # newest first
    assert claimed["status"] == 401 and claimed["claimsUnverified"] is True  # said so, not taken for the VM's
    assert "claimsUnverified" not in kv_denial and "claimsUnverified" not in arm_denial
    assert arm_denial["status"] == 403 and arm_denial["method"] == "GET" and arm_denial["caller"]["displayName"] == name
    assert arm_denial["explain"] == {"principalId": principal, "scope": group,
                                     "action": "Microsoft.Resources/subscriptions/resourceGroups/read"}
    assert kv_denial["explain"] == {"principalId": principal, "action": "secrets/get", "scope": vault.id}
    with env.sim.http() as arm:  # and explain answers it
        d = arm.get("/_sim/explain", params=kv_denial["explain"]).json()
    assert d["allowed"] is False and d["keyVault"]["mode"] == "accessPolicy"


# --- federation in explain ------------------------------------------------------------------------------------

def test_explain_a_refused_federated_exchange(env: Env) -> None:
    group = f"/subscriptions/{env.sim.subscription}/resourceGroups/{env.rg}"
    with env.sim.http() as arm:
        uai = arm.put(f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{unique('wi-')}",
                      params={"api-version": MSI_API}, json={"location": "eastus"}).json()
        main = f"repo:contoso/{unique('app-')}:ref:refs/heads/main"
        fic = federate(arm, uai, GITHUB, main)
        client_id = uai["properties"]["clientId"]
        assert exchange(env.sim, client_id, assertion(arm, GITHUB, main)).status_code == 200
        feature = main.replace("refs/heads/main", "refs/heads/feature")
        assert exchange(env.sim, client_id, assertion(arm, GITHUB, feature)).status_code == 401
        for identity in (uai["id"], client_id, uai["name"]):
            r = arm.get("/_sim/explain", params={"identity": identity})
            assert r.status_code == 200, r.text
            e = r.json()
            assert e["identity"]["clientId"] == client_id
            refused, exchanged = e["exchanges"][:2]  # newest first
            assert refused["kind"] == "federation.refused" and refused["reason"] == "AADSTS700213"
            assert refused["presented"]["subject"] == feature and refused["differingField"] == "subject"
            assert refused["closestCredential"].lower() == fic.lower() and refused["credentialHas"] == main
            assert exchanged["kind"] == "federation.exchanged"
            assert [c["subject"] for c in e["federatedCredentials"]] == [main]
            assert e["federatedCredentials"][0]["audiences"] == [EXCHANGE]
        r = arm.get("/_sim/explain", params={"clientId": str(uuid.uuid4())})
        assert r.status_code == 404 and r.json()["error"]["code"] == "IdentityNotFound"


# --- the event stream ----------------------------------------------------------------------------------------

class Frames:
    """Reads an event stream on a thread; frames (id, data) as they arrive."""

    def __init__(self, response: httpx.Response) -> None:
        self.response, self.frames, self.comments, self.ended = response, [], [], threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        seq, data, kind = None, None, "message"
        try:
            for line in self.response.iter_lines():
                if line.startswith(":"):
                    self.comments.append(line)
                elif line.startswith("id: "):
                    seq = int(line[4:])
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                elif line == "" and data is not None:
                    self.frames.append((seq, kind, data))
                    seq, data, kind = None, None, "message"
        except httpx.HTTPError:
            pass
        finally:
            self.ended.set()

    def wait_for(self, test: Any, timeout: float = 15) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for f in self.frames:
                if test(f):
                    return f
            time.sleep(0.05)
        raise AssertionError(f"no such frame in {self.frames[-5:]}")


def advance(env: Env, by: str) -> None:
    with env.sim.http() as arm:
        assert arm.post("/_sim/clock/advance", json={"duration": by}).status_code == 200


def test_the_event_stream_delivers_new_events_and_resumes(env: Env) -> None:
    start = last_seq(env)
    with env.sim.http() as arm, arm.stream("GET", "/_sim/events/stream",
                                           params={"kind": "clock.*", "after": str(start)}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        frames = Frames(r)
        advance(env, "1s")
        seq, kind, event = frames.wait_for(lambda f: f[2].get("kind") == "clock.advanced")
        assert kind == "message" and event["seq"] == seq > start and event["details"]["by"] == "1s"
        assert all(f[2]["kind"].startswith("clock.") for f in frames.frames)  # the filter holds
    # resuming after the last id seen: the next one, not the one before
    advance(env, "2s")
    with env.sim.http() as arm, arm.stream("GET", "/_sim/events/stream", params={"kind": "clock.*"},
                                           headers={"Last-Event-ID": str(seq)}) as r:
        _, _, nxt = Frames(r).wait_for(lambda f: True)
        assert nxt["seq"] > seq and nxt["details"]["by"] == "2s"


def test_the_event_stream_takes_a_one_time_ticket_never_a_token_in_the_url(env: Env) -> None:
    with env.sim.http() as arm:
        t = arm.post("/_sim/events/tickets")
    assert t.status_code == 200, t.text
    ticket = t.json()["ticket"]
    assert t.json()["expiresInSeconds"] == 60
    with httpx.Client(base_url=env.sim.url, verify=env.sim.ca, timeout=30) as anon:
        with anon.stream("GET", "/_sim/events/stream", params={"ticket": ticket, "after": str(last_seq(env))}) as r:
            assert r.status_code == 200
            frames = Frames(r)
            advance(env, "3s")
            frames.wait_for(lambda f: f[2].get("kind") == "clock.advanced")
        again = anon.get("/_sim/events/stream", params={"ticket": ticket})
        assert again.status_code == 401 and again.json()["error"]["code"] == "InvalidStreamTicket"
        assert anon.get("/_sim/events/stream").status_code == 401
        assert anon.post("/_sim/events/tickets").status_code == 401


def test_the_event_log_refuses_numbers_it_cannot_use_before_any_stream_begins(env: Env) -> None:
    """A seq past any integer the database stores, a time that is no number: 400 up front, never a stream cut off
    half-way (the read failed inside it) nor a 500 from /_sim/events."""
    junk = [("after", "1" + "0" * 30), ("after", "9" * 5000), ("after", "-1"), ("since", "nan"), ("until", "inf"),
            ("since", "noon")]
    with env.sim.http() as arm:
        for name, value in junk:
            for path in ("/_sim/events/stream", "/_sim/events"):
                r = arm.get(path, params={name: value})
                assert r.status_code == 400, (path, name, value[:20], r.text)
                assert r.json()["error"]["code"] == "InvalidQueryParameter"
        for top in ("many", "0", "5001"):
            assert arm.get("/_sim/events", params={"top": top}).status_code == 400
        r = arm.get("/_sim/events/stream", headers={"Last-Event-ID": "1e30"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidQueryParameter"


@pytest.fixture
def own_sim(tmp_path: Path) -> Iterator[Sim]:
    server = Sim(home=tmp_path / "sim", database_url=fresh_database_url(),
                 extra_env={"ARM_SIM_DIRECTORY_DELAY": "600", "ARM_SIM_SHUTDOWN_GRACE": "30",
                            "ARM_SIM_LOG_LEVEL": "info"}).start()
    yield server
    server.stop()


def test_replication_on_the_clock_whatif_unlogged_and_a_stream_ends_with_the_server(own_sim: Sim) -> None:
    sim = own_sim
    with sim.http() as arm:
        app = arm.post("/_sim/applications", json={"displayName": "replicating"}).json()
        clock = arm.get("/_sim/clock").json()
        pending = clock["replication"]["pending"]
        assert clock["replication"]["delaySeconds"] == 600
        mine = next(p for p in pending if p["objectId"] == app["servicePrincipalObjectId"])
        assert mine["displayName"] == "replicating" and 0 < mine["secondsLeft"] <= 600
        moved = arm.post("/_sim/clock/advance", json={"duration": "11m"}).json()
        assert app["servicePrincipalObjectId"] in [p["objectId"] for p in moved["replicationFinished"]]
        assert moved["replication"]["pending"] == []

    # the request log prints lifecycle effects that happen, not those of a what-if's rolled-back delete
    with sim.http() as arm:
        group = f"/subscriptions/{sim.subscription}/resourceGroups/rg-{uuid.uuid4().hex[:8]}"
        assert arm.put(group, params={"api-version": "2025-04-01"}, json={"location": "eastus"}).status_code == 201
        uai = arm.put(f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/logged",
                      params={"api-version": MSI_API}, json={"location": "eastus"}).json()
        oid = uai["properties"]["principalId"]
        w = arm.get("/_sim/whatif/delete", params={"resourceId": uai["id"]}).json()
        assert [p["objectId"] for p in w["principalsDeleted"]] == [oid]
        log = (sim.home / "server.log").read_text()
        assert f"lifecycle servicePrincipal.created {oid}" in log
        assert f"lifecycle servicePrincipal.deleted {oid}" not in log
        assert arm.delete(uai["id"], params={"api-version": MSI_API}).status_code == 200
        assert f"lifecycle servicePrincipal.deleted {oid}" in (sim.home / "server.log").read_text()

    # a ticket in the URL is masked in the request log like any credential
    with sim.http() as arm:
        ticket = arm.post("/_sim/events/tickets").json()["ticket"]
    with httpx.Client(base_url=sim.url, verify=sim.ca, timeout=30) as anon, anon.stream(
            "GET", "/_sim/events/stream", params={"ticket": ticket, "kind": "none"}) as r:
        assert r.status_code == 200
    deadline = time.monotonic() + 10
    while "/_sim/events/stream?ticket=***" not in (sim.home / "server.log").read_text():
        assert time.monotonic() < deadline, "the stream's request line was not logged"
        time.sleep(0.2)
    assert ticket not in (sim.home / "server.log").read_text()

    # SIGTERM with a stream open: the stream ends at once, and the server does not wait out its 30 s grace
    client = sim.http()
    with client.stream("GET", "/_sim/events/stream") as r:
        frames = Frames(r)
        deadline = time.monotonic() + 20
        while not frames.comments and time.monotonic() < deadline:  # a quiet stream still says it is alive
            time.sleep(0.2)
        assert frames.comments == [": keep-alive"]
        assert sim.proc is not None
        began = time.monotonic()
        sim.proc.terminate()
        assert frames.ended.wait(10)
        sim.proc.wait(20)
        took = time.monotonic() - began
    client.close()
    assert took < 10, took
    assert frames.frames[-1][1] == "end"
