"""A hand-written fuzz of every listener: ARM, the Entra token endpoint, Graph, the simulator API, IMDS, the App
Service identity endpoint and a vault's data plane, each sent 10 MB bodies, JSON nested 10,000 deep, invalid UTF-8,
wrong and missing content types, overlong names (300+ characters) and URLs (16 KB), `..` and `%2F`/`%2E%2E`
segments, duplicate query parameters and oversized headers. Every answer must be below 500 and, where the plane
answers JSON, in its own error shape; nothing may change (the group's resources, the vault's secrets).

`test_every_listener_refuses_bad_input` prints its figures (202 cases, 0 answered with a 5xx). Requests go through
http.client so that paths reach the server byte for byte (httpx would resolve `..` itself).
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest

from arm_sim.testing.vm import nic, properties
from tests.simserver import Sim
from tests.test_keyvault_secrets import KV_SCOPE, claims_of, start_kv_sim
from tests.webspec import WEB_API, plan

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ARM_API = "api-version=2021-04-01"
KV_API = "api-version=7.4"
BIG = 10 * 1024 * 1024
DEEP = b"[" * 10_000 + b"]" * 10_000
BAD_UTF8 = b'{"location": "\xff\xfe\xc3\x28"}'
OK_JSON = b'{"location": "eastus"}'


class Answer(NamedTuple):
    status: int
    body: bytes
    ctype: str


def connect(base: str, ca: str) -> http.client.HTTPConnection:
    u = urlsplit(base)
    assert u.hostname and u.port
    if u.scheme == "http":
        return http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    return http.client.HTTPSConnection(u.hostname, u.port, context=ssl.create_default_context(cafile=ca), timeout=60)


def send(base: str, ca: str, method: str, target: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> Answer:
    """One request with the target sent verbatim."""
    conn = connect(base, ca)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return Answer(r.status, r.read(), r.getheader("content-type") or "")
    finally:
        conn.close()


@dataclass
class Plane:
    name: str
    base: str
    token: str | None
    shape: str  # "azure": error.code/message; "oauth": error/error_description; "site": statusCode/message

    def headers(self, ctype: str | None = "application/json", **more: str) -> dict[str, str]:
        out = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**out, **({"Content-Type": ctype} if ctype else {}), **more}


@dataclass
class Tally:
    cases: int = 0
    failures: list[str] = field(default_factory=list)
    five: int = 0
    statuses: Counter[int] = field(default_factory=Counter)

    def check(self, plane: Plane, ca: str, method: str, target: str, body: bytes | None = None,
              ctype: str | None = "application/json", status: int | None = None,
              headers: dict[str, str] | None = None) -> None:
        self.cases += 1
        what = f"{plane.name} {method} {target[:120]} ({len(body or b'')} bytes, {ctype})"
        try:
            r = send(plane.base, ca, method, target, body, plane.headers(ctype, **(headers or {})))
        except (ConnectionError, http.client.HTTPException) as e:  # a refusal by closing is not a 5xx
            if status is not None:
                self.failures.append(f"{what}: connection ended ({e!r}), expected {status}")
            return
        self.statuses[r.status] += 1
        self.five += r.status >= 500
        if problem := _problem(plane, r, status):
            self.failures.append(f"{what}: {problem}: {r.status} {r.body[:300]!r}")


def _problem(plane: Plane, r: Answer, status: int | None) -> str | None:
    if r.status >= 500:
        return "a 5xx"
    if status is not None and r.status != status:
        return f"expected {status}"
    if r.status < 400 or "json" not in r.ctype:
        return None
    doc = json.loads(r.body)
    error = doc.get("error") if isinstance(doc, dict) else None
    if r.status == 400 and isinstance(error, dict) and error.get("code") == "RequestHeadersTooLong":
        return None  # the front door's answer, the same on every listener (as HTTP.sys's is in Azure)
    azure = isinstance(error, dict) and isinstance(error.get("code"), str) and isinstance(error.get("message"), str)
    ok = {"azure": azure,  # a path no route serves (`/a%2Fb/oauth2/…`): the main listener's 404, ARM's envelope
          "oauth": isinstance(error, str) and isinstance(doc.get("error_description"), str)
          or (plane.name == "entra" and r.status == 404 and azure),
          "site": isinstance(doc, dict) and doc.get("statusCode") == r.status and isinstance(doc.get("message"), str)
          or isinstance(error, str)}  # App Service's shape under /sites/, IMDS's for the listener's other paths
    return None if ok[plane.shape] else "not in the plane's error shape"


@dataclass
class World:
    sim: Sim
    rg: str
    vm_id: str
    vault_base: str
    planes: dict[str, Plane]
    vm_token: str  # the VM's IMDS token path
    site_path: str  # the site's identity endpoint path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    sim = start_kv_sim(tmp_path_factory)
    group = f"/subscriptions/{sim.subscription}/resourceGroups/rg-bad-{uuid.uuid4().hex[:6]}"
    with sim.http() as arm:
        assert arm.put(f"{group}?{ARM_API}", json={"location": "eastus"}).status_code in (200, 201)
        vm_id = f"{group}/providers/Microsoft.Compute/virtualMachines/vm1"
        site_id = f"{group}/providers/Microsoft.Web/sites/site-{uuid.uuid4().hex[:6]}"
        for rid, body in ((f"{vm_id}?api-version=2024-07-01", {"location": "eastus", "properties": properties(
                               nic(arm, group), "vm1")}),
                          (f"{site_id}?{WEB_API}", {"location": "westeurope", "kind": "app", "properties": {
                              "serverFarmId": plan(arm, group)}})):
            assert arm.put(rid, json={**body, "identity": {"type": "SystemAssigned"}}).status_code in (200, 201)
        policy = {"tenantId": sim.tenant, "objectId": claims_of(sim.token())["oid"],
                  "permissions": {"secrets": ["all"], "keys": ["all"]}}
        r = arm.put(f"{group}/providers/Microsoft.KeyVault/vaults/kv{uuid.uuid4().hex[:8]}?api-version=2023-07-01",
                    json={"location": "eastus", "properties": {"tenantId": sim.tenant, "accessPolicies": [policy],
                                                               "sku": {"family": "A", "name": "standard"}}})
        assert r.status_code in (200, 201), r.text
        vault_base = r.json()["properties"]["vaultUri"].rstrip("/")
        vm = arm.get("/_sim/imds-endpoint", params={"resourceId": vm_id}).json()["endpoint"].rsplit("/", 1)[1]
        site = urlsplit(arm.get("/_sim/imds-endpoint", params={"resourceId": site_id}).json()["endpoint"]).path
    planes = {"arm": Plane("arm", sim.url, sim.token(), "azure"), "sim": Plane("sim", sim.url, sim.token(), "azure"),
              "graph": Plane("graph", sim.url, sim.token(GRAPH_SCOPE), "azure"),
              "entra": Plane("entra", sim.url, None, "oauth"),
              "kv": Plane("kv", vault_base, sim.token(KV_SCOPE), "azure"),
              "imds": Plane("imds", sim.imds_url, None, "oauth"), "site": Plane("site", sim.imds_url, None, "site")}
    with sim.http(planes["kv"].token) as kv:
        assert kv.put(f"{vault_base}/secrets/kept?{KV_API}", json={"value": "v"}).status_code == 200
    yield World(sim, group, vm_id, vault_base, planes, f"/vms/{vm}/metadata/identity/oauth2/token", site)
    sim.stop()


def _state(w: World) -> tuple[list[str], list[str]]:
    with w.sim.http() as arm:
        resources = sorted(r["id"] for r in arm.get(f"{w.rg}/resources?{ARM_API}").json()["value"])
    with w.sim.http(w.planes["kv"].token) as kv:
        secrets = sorted(s["id"] for s in kv.get(f"{w.vault_base}/secrets?{KV_API}").json()["value"])
    return resources, secrets


def _body_cases(t: Tally, ca: str, plane: Plane, method: str, target: str, deep: int | None, big: int | None) -> None:
    """The body cases of one JSON-taking target: 10 MB, 10,000 deep, invalid UTF-8, wrong and missing types."""
    t.check(plane, ca, method, target, b"{" + b" " * BIG + b"}", status=big)
    t.check(plane, ca, method, target, DEEP, status=deep)
    t.check(plane, ca, method, target, b'{"a":' * 10_000 + b"1" + b"}" * 10_000, status=deep)
    t.check(plane, ca, method, target, BAD_UTF8, status=deep and 400)
    t.check(plane, ca, method, target, OK_JSON, ctype="text/plain", status=deep and 415)
    t.check(plane, ca, method, target, OK_JSON, ctype=None, status=deep and 415)
    t.check(plane, ca, method, target, OK_JSON, ctype="application/x-www-form-urlencoded", status=deep and 415)


def test_every_listener_refuses_bad_input(world: World) -> None:
    w, t, ca = world, Tally(), world.sim.ca
    before = _state(w)
    arm, sim_api, graph, entra, kv, imds, site = (w.planes[k] for k in ("arm", "sim", "graph", "entra", "kv", "imds",
                                                                         "site"))
    rg, sub, long, vm_token, site_path = w.rg, w.sim.subscription, "n" * 300, w.vm_token, w.site_path
    # bodies, on every plane that reads one (a new name: nothing may be created)
    _body_cases(t, ca, arm, "PUT", f"{rg}/providers/Microsoft.Storage/storageAccounts/stbad1?{ARM_API}", 400, 413)
    _body_cases(t, ca, arm, "PUT", f"{w.vm_id}?api-version=2024-07-01", 400, 413)
    _body_cases(t, ca, arm, "POST", f"/subscriptions/{sub}/resourcegroups/x?{ARM_API}", 400, 413)
    _body_cases(t, ca, sim_api, "POST", "/_sim/applications", 400, 413)
    _body_cases(t, ca, graph, "POST", "/v1.0/servicePrincipals/x/appRoleAssignments", 400, 413)
    _body_cases(t, ca, kv, "PUT", f"/secrets/newsecret?{KV_API}", 400, 413)
    _body_cases(t, ca, kv, "POST", f"/keys/k1/create?{KV_API}", 400, 413)
    token_path = f"/{w.sim.tenant}/oauth2/v2.0/token"
    _body_cases(t, ca, entra, "POST", token_path, None, 413)
    t.check(entra, ca, "POST", token_path, b"grant_type=client_credentials&client_id=\xff\xfe&scope=x",
            ctype="application/x-www-form-urlencoded", status=400)
    for plane, target in ((imds, f"{vm_token}?api-version=2018-02-01&resource=https://vault.azure.net"),
                          (site, f"{site_path}?api-version=2019-08-01&resource=https://vault.azure.net")):
        for method in ("GET", "POST"):
            _body_cases(t, ca, plane, method, target, None, None)
    # overlong names and URLs
    t.check(arm, ca, "PUT", f"/subscriptions/{sub}/resourcegroups/{long}?{ARM_API}", OK_JSON, status=400)
    t.check(arm, ca, "PUT", f"{rg}/providers/Microsoft.Storage/storageAccounts/{long}?{ARM_API}", OK_JSON)
    t.check(kv, ca, "PUT", f"/secrets/{long}?{KV_API}", b'{"value": "v"}', status=400)
    t.check(graph, ca, "GET", f"/v1.0/servicePrincipals/{long}")
    t.check(entra, ca, "POST", f"/{long}/oauth2/v2.0/token", b"grant_type=client_credentials",
            ctype="application/x-www-form-urlencoded")
    t.check(imds, ca, "GET", f"/vms/{long}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x",
            headers={"Metadata": "true"})
    t.check(site, ca, "GET", f"/sites/{long}/msi/token?api-version=2019-08-01&resource=x")
    pad = "x" * 16_384
    for plane, target in ((arm, f"{rg}/resources?{ARM_API}&pad={pad}"), (arm, f"{rg}/{pad}?{ARM_API}"),
                          (sim_api, f"/_sim/events?pad={pad}"), (graph, f"/v1.0/applications?pad={pad}"),
                          (kv, f"/secrets?{KV_API}&pad={pad}"), (kv, f"/secrets/{pad}?{KV_API}"),
                          (entra, f"/{w.sim.tenant}/v2.0/.well-known/openid-configuration?pad={pad}"),
                          (imds, f"{vm_token}?api-version=2018-02-01&resource={pad}"),
                          (site, f"{site_path}?api-version=2019-08-01&resource={pad}")):
        t.check(plane, ca, "GET", target)
    # dot segments and encoded slashes
    for seg in ("..", "%2E%2E", "%2e%2e%2f", "a%2Fb", "%2F"):
        t.check(arm, ca, "GET", f"{rg}/{seg}/resources?{ARM_API}")
        t.check(arm, ca, "PUT", f"{rg}/providers/Microsoft.Storage/storageAccounts/{seg}?{ARM_API}", OK_JSON)
        t.check(arm, ca, "DELETE", f"/subscriptions/{sub}/resourceGroups/{seg}/../{rg.rsplit('/', 1)[1]}?{ARM_API}")
        t.check(sim_api, ca, "GET", f"/_sim/{seg}/events")
        t.check(graph, ca, "GET", f"/v1.0/servicePrincipals/{seg}")
        t.check(kv, ca, "PUT", f"/secrets/{seg}?{KV_API}", b'{"value": "v"}')
        t.check(kv, ca, "DELETE", f"/secrets/kept/{seg}?{KV_API}")
        t.check(entra, ca, "POST", f"/{seg}/oauth2/v2.0/token", b"grant_type=client_credentials",
                ctype="application/x-www-form-urlencoded")
        t.check(imds, ca, "GET", f"/vms/{seg}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x")
        t.check(site, ca, "GET", f"/sites/{seg}/msi/token?api-version=2019-08-01&resource=x")
    # ARM never lets a decoded '/' or a double encoding move a request to another resource id
    for seg in ("a%2Fb", "%2F", "a%2F", "%2Fa", "a%5Cb", "a%252Fb", "%25"):
        t.check(arm, ca, "PUT", f"/subscriptions/{sub}/resourceGroups/{seg}?{ARM_API}", OK_JSON, status=400)
        t.check(arm, ca, "GET", f"{rg}/{seg}/resources?{ARM_API}", status=400)
    # duplicate query parameters: api-version is refused where it is read
    two = "api-version=2021-04-01&api-version=2022-09-01"
    t.check(arm, ca, "GET", f"{rg}?{two}", status=400)
    t.check(arm, ca, "PUT", f"{rg}/providers/Microsoft.Storage/storageAccounts/stbad2?{two}", OK_JSON, status=400)
    t.check(arm, ca, "GET", f"{rg}?api-version=2021-04-01&Api-Version=2021-04-01", status=400)
    t.check(kv, ca, "GET", "/secrets?api-version=7.4&api-version=7.5", status=400)
    t.check(kv, ca, "PUT", "/secrets/dup?api-version=7.4&api%2Dversion=7.4", b'{"value": "v"}', status=400)
    t.check(graph, ca, "GET", "/v1.0/applications?$top=1&$top=2")
    t.check(sim_api, ca, "GET", "/_sim/events?top=1&top=2")
    t.check(imds, ca, "GET", f"{vm_token}?api-version=2018-02-01&resource=x&resource=y", headers={"Metadata": "true"},
            status=400)
    t.check(site, ca, "GET", f"{site_path}?api-version=2019-08-01&api-version=2019-08-01&resource=x", status=400)
    # headers past sane sizes: 400 from the front door, on every listener (a 12 KB token's worth passes)
    for plane, target in ((arm, f"{rg}?{ARM_API}"), (graph, "/v1.0/applications"), (kv, f"/secrets?{KV_API}"),
                          (imds, vm_token), (site, site_path), (sim_api, "/_sim/health"),
                          (entra, f"/{w.sim.tenant}/v2.0/.well-known/openid-configuration")):
        t.check(plane, ca, "GET", target, headers={"X-Big": "b" * 40_000}, status=400)
        t.check(plane, ca, "GET", target, headers={"X-Huge": "h" * 1_048_576}, status=400)
        t.check(plane, ca, "GET", target, headers={f"X-H{i}": "v" * 150 for i in range(500)}, status=400)
        t.check(plane, ca, "GET", target, headers={"X-Claims": "c" * 12_000})
    print(f"\nbad input: {t.cases} cases run, {t.five} got a 5xx; by status: {dict(sorted(t.statuses.items()))}")
    assert t.five == 0 and not t.failures, "\n".join(t.failures)
    assert _state(w) == before


def _slow_big_put(plane: Plane, ca: str, target: str) -> None:
    """A 10 MB body, chunked, in 64 KB pieces a few milliseconds apart (about 2 s in all)."""
    conn = connect(plane.base, ca)
    try:
        conn.putrequest("PUT", target)
        for k, v in plane.headers("application/json", **{"Transfer-Encoding": "chunked"}).items():
            conn.putheader(k, v)
        conn.endheaders()
        piece = b" " * 65_536
        for _ in range(BIG // len(piece)):
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            time.sleep(0.012)
        conn.send(b"0\r\n\r\n")
        assert conn.getresponse().status == 413
    finally:
        conn.close()


@pytest.mark.parametrize(("name", "target", "probe"), [
    ("arm", "{rg}/providers/Microsoft.Storage/storageAccounts/stslow?" + ARM_API, "{rg}?" + ARM_API),
    ("kv", "/secrets/slow?" + KV_API, "/secrets?" + KV_API)])
def test_a_slow_big_body_never_stalls_the_listener(world: World, name: str, target: str, probe: str) -> None:
    plane, target, probe = world.planes[name], target.format(rg=world.rg), probe.format(rg=world.rg)
    sender = threading.Thread(target=_slow_big_put, args=(plane, world.sim.ca, target), daemon=True)
    sender.start()
    time.sleep(0.3)
    latencies: list[float] = []
    while sender.is_alive() and len(latencies) < 10:
        start = time.perf_counter()
        r = send(plane.base, world.sim.ca, "GET", probe, headers=plane.headers(None))
        latencies.append(time.perf_counter() - start)
        assert r.status == 200, r.body[:300]
        time.sleep(0.1)
    sender.join(30)
    assert len(latencies) >= 3 and max(latencies) < 1.0, latencies
