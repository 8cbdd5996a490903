"""Schemathesis over openapi/*.json against a fresh simulator (issue 14 point 1): every answer below 500, every 4xx
in its plane's error shape, and the simulator unchanged where it matters (`make fuzz`; CI runs it).

    .venv/bin/python bench/fuzz_openapi.py                    # SQLite in a temporary home
    .venv/bin/python bench/fuzz_openapi.py --max-examples 10  # quicker
    .venv/bin/python bench/fuzz_openapi.py --database-url postgresql+psycopg://...  # an empty database

Each plane runs with its own credential, so that fuzzed input gets past authentication and reaches the operation
(a 401/403 is then the fuzz input's doing, not the harness's): ARM and the simulator API with the bootstrap
principal's ARM token, Graph with its Graph token, IMDS with `Metadata: true` and a real VM key, the App Service
endpoint with a real site key and its X-IDENTITY-HEADER; the Entra endpoints need none. Tokens come from a
schemathesis auth hook (this file, loaded through SCHEMATHESIS_HOOKS) that fetches a fresh token when one is
refused. Path and query parameters the simulator knows (the subscription, the tenant, provider namespaces, resource
types, api-versions, Graph paths, the VM and site keys) are drawn from dictionaries part of the time and fuzzed
the rest. The simulator API's global switches (`/_sim/reset`, the clock, certificate rolling) run last, one worker,
a fresh token for every case: `/_sim/reset` refuses every token issued before it.

Bounded and reproducible: `--max-examples` per operation and phase (default 100), schemathesis' deterministic
generation (or `--seed N` for seeded random generation; the groups run two workers, so the order of requests, and
with it the state some of them see, can still vary a little).

Per spec it prints operations, cases, 5xx, 401/403 (and how many of those carried the harness's token: the rest
are schemathesis' own negative cases, with no or a garbled Authorization header) and 4xx answers not in their
plane's error shape. The exit code is 1 if any answer was a 5xx, any 4xx was shapeless, an operation answered only
401/403, schemathesis reported an error, the simulator logged a traceback, or the checks after the run failed
(before the control group: the fixture group's resources, the VM, its IMDS token, the site's token and Graph; after
it, and again after a restart: the subscription and its resource groups with a new token).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
OPENAPI = ROOT / "openapi"
HOOK_ENV = "ARM_SIM_FUZZ_HOOK"  # set (to a JSON document) in the schemathesis process only
ARM_SCOPE = "https://management.azure.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ARM_API = "api-version=2021-04-01"
VM_API = "api-version=2024-07-01"
FIXTURE_RG = "fuzz-fixture"  # never in a dictionary: the fuzz cannot name it, so it must survive unchanged
CONTROL = r"^/_sim/(reset|clock/(advance|freeze|unfreeze)|credentials/rolling)$"


# --- the schemathesis side: hooks ---------------------------------------------------------------------------------

def _register_hooks(conf: dict[str, Any]) -> None:
    """Runs inside `schemathesis run` (SCHEMATHESIS_HOOKS=this file).

    - auth (conf["auth"]): a bearer token of the bootstrap principal for the audience of each path (Graph under
      /v1.0/, ARM elsewhere), fetched again after a 401; with conf["fresh"], for every case (the control group,
      where /_sim/reset revokes every earlier token);
    - Graph paths: schemathesis never puts `/` in a path parameter, so the dictionary spells it `~` and this maps
      it back just before the call (`servicePrincipals~{id}~appRoleAssignments`);
    - identity: with the real VM or site key, the query a client sends (api-version, resource) is added where the
      case has none, so those cases reach the token and metadata logic rather than stopping at a missing parameter.
    """
    import schemathesis

    from arm_sim.testing.wire import request

    def fetch(scope: str) -> str:
        r = request("POST", f"{conf['url']}/{conf['tenant']}/oauth2/v2.0/token", conf["ca"], form={
            "grant_type": "client_credentials", "client_id": conf["client_id"],
            "client_secret": conf["client_secret"], "scope": scope})
        if r.status != 200 or not isinstance(r.body, dict):
            raise RuntimeError(f"token for {scope}: {r.status} {r.text[:300]}")
        return str(r.body["access_token"])

    def scope_of(case: Any, ctx: Any = None) -> str:
        return GRAPH_SCOPE if case.operation.path.startswith("/v1.0/") else ARM_SCOPE

    class Bearer:
        def get(self, case: Any, ctx: Any) -> str:
            return fetch(scope_of(case))

        def set(self, case: Any, data: str, ctx: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    if conf.get("auth") and conf.get("fresh"):
        schemathesis.auth(refresh_interval=None)(Bearer)
    elif conf.get("auth"):
        schemathesis.auth(refresh_interval=600, cache_by_key=scope_of)(Bearer)

    @schemathesis.hook
    def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
        # here, not in map_case: a case changed after generation makes hypothesis search far longer for new ones
        headers = case.headers or {}
        if conf.get("fresh") and re.fullmatch(r"Bearer ey[\w-]+\.[\w-]+\.[\w-]+", headers.get("Authorization", "")):
            # the coverage phase builds its cases (auth included) before sending any: one sent after /_sim/reset
            # would carry a token the reset revoked
            case.headers = {**headers, "Authorization": f"Bearer {fetch(scope_of(case))}"}
        params = case.path_parameters or {}
        for name in ("rest", "path"):  # Graph's OData path, IMDS's metadata path
            if isinstance(params.get(name), str) and "~" in params[name]:
                params = case.path_parameters = {**params, name: params[name].replace("~", "/")}
        site = params.get("key") == conf.get("site_key")
        if params.get("vm_key") == conf.get("vm_key") or site:
            query = dict(case.query or {})
            query.setdefault("api-version", "2019-08-01" if site else "2021-02-01")
            if "token" in case.operation.path:
                query.setdefault("resource", "https://management.azure.com/")
            case.query = query


if __name__ != "__main__" and os.environ.get(HOOK_ENV):
    _register_hooks(json.loads(os.environ[HOOK_ENV]))


# --- the driver ---------------------------------------------------------------------------------------------------

class Group:
    """One `schemathesis run`: a spec, the operations it selects, the listener and the credentials."""

    def __init__(self, name: str, spec: str, filters: list[str], shape: str, *, workers: int = 2,
                 fresh: bool = False, auth: bool = True) -> None:
        self.name, self.spec, self.filters, self.shape = name, spec, filters, shape
        self.workers, self.fresh, self.auth = workers, fresh, auth
        self.operations = 0
        self.cases = 0
        self.statuses: Counter[int] = Counter()
        self.denied_with_token = 0  # 401/403 answers to requests that carried a (well-formed) bearer token
        self.shapeless: list[str] = []
        self.rc = 0
        self.errors: list[str] = []
        self.seconds = 0.0


def groups() -> list[Group]:
    arm = r"^/(subscriptions|tenants|providers)(/|$)"
    entra = r"^/(\{tenant\}|common|metadata)/"
    return [
        Group("entra", "main", ["--include-path-regex", entra], "oauth", auth=False),
        Group("arm", "main", ["--include-path-regex", arm], "azure"),
        Group("graph", "main", ["--include-path-regex", r"^/v1\.0/"], "azure"),
        Group("sim", "main", ["--include-path-regex", r"^/_sim/", "--exclude-path-regex", CONTROL], "azure"),
        Group("identity", "identity", [], "identity", auth=False),
        Group("vaults", "vaults", [], "azure", auth=False),
        # last: these change the whole simulator (reset forgets everything, including the fixtures)
        Group("sim-control", "main", ["--include-path-regex", CONTROL], "azure", workers=1, fresh=True),
    ]


def _shape_problem(shape: str, status: int, ctype: str, text: str) -> str | None:
    """None when a 4xx answer is in its plane's error shape (the rules of tests/test_bad_input.py)."""
    if not 400 <= status < 500 or not text:
        return None
    if "json" not in ctype:
        return f"a {status} that is not JSON ({ctype or 'no content type'})"
    try:
        doc = json.loads(text)
    except ValueError:
        return f"a {status} whose JSON does not parse"
    error = doc.get("error") if isinstance(doc, dict) else None
    if status == 400 and isinstance(error, dict) and error.get("code") == "RequestHeadersTooLong":
        return None
    azure = isinstance(error, dict) and isinstance(error.get("code"), str) and isinstance(error.get("message"), str)
    oauth = isinstance(error, str) and isinstance(doc.get("error_description"), str)
    site = isinstance(doc, dict) and doc.get("statusCode") == status and isinstance(doc.get("message"), str)
    ok = {"azure": azure,
          "oauth": oauth or azure,  # OAuth's shape at the token endpoint, ARM's for paths no route serves
          # IMDS answers {"error": "…", …} (error_description on its token endpoint, newest-versions elsewhere),
          # App Service {"statusCode", "message"}; the listener's front door (a method no route takes) ARM's shape
          "identity": site or isinstance(error, str) or azure}[shape]
    return None if ok else f"a {status} not in the plane's error shape: {text[:200]}"


class Fuzz:
    def __init__(self, args: argparse.Namespace) -> None:
        from arm_sim.testing.server import Sim

        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="arm-sim-fuzz-"))
        self.sim = Sim(home=self.work / "home", database_url=args.database_url or "", hermetic=True,
                       extra_env={"ARM_SIM_LRO": "sync"})
        self.vm_key = self.site_key = self.site_header = self.sp_id = ""
        self.fixture_ids: list[str] = []
        self.failures: list[str] = []

    # fixtures ---------------------------------------------------------------------------------------------------
    def setup(self) -> None:
        from arm_sim.testing.vm import nic, properties

        rg = f"/subscriptions/{self.sim.subscription}/resourceGroups/{FIXTURE_RG}"
        self.vm_id = f"{rg}/providers/Microsoft.Compute/virtualMachines/vm1"
        self.site_id = f"{rg}/providers/Microsoft.Web/sites/site-fuzz"
        plan_id = f"{rg}/providers/Microsoft.Web/serverfarms/plan-fuzz"
        with self.sim.http() as arm:
            self._ok(arm.put(f"{rg}?{ARM_API}", json={"location": "eastus"}), "fixture group")
            for target, body in (
                    (f"/subscriptions/{self.sim.subscription}/resourceGroups/fuzz?{ARM_API}", {"location": "eastus"}),
                    (f"/subscriptions/{self.sim.subscription}/resourceGroups/fuzz/providers/"
                     f"Microsoft.ManagedIdentity/userAssignedIdentities/fuzz?api-version=2023-01-31",
                     {"location": "eastus"}),
                    (f"{plan_id}?api-version=2024-04-01", {"location": "westeurope",
                                                           "sku": {"name": "B1", "tier": "Basic"}}),
                    (f"{self.vm_id}?{VM_API}", {"location": "eastus", "identity": {"type": "SystemAssigned"},
                                                "properties": properties(nic(arm, rg), "vm1")}),
                    (f"{self.site_id}?api-version=2024-04-01", {
                        "location": "westeurope", "kind": "app", "identity": {"type": "SystemAssigned"},
                        "properties": {"serverFarmId": plan_id}})):
                self._ok(arm.put(target, json=body), f"PUT {target}")
            vm = self._ok(arm.get("/_sim/imds-endpoint", params={"resourceId": self.vm_id}), "VM endpoint").json()
            site = self._ok(arm.get("/_sim/imds-endpoint", params={"resourceId": self.site_id}), "site").json()
        self.vm_key = vm["endpoint"].rstrip("/").rsplit("/", 1)[1]
        self.site_key = urlsplit(site["endpoint"]).path.split("/")[2]
        self.site_header = site["header"]
        with self.sim.http(self.sim.token(GRAPH_SCOPE)) as graph:
            r = graph.get(f"/v1.0/servicePrincipals(appId='{self.sim.client_id}')")
            self.sp_id = self._ok(r, "bootstrap service principal").json()["id"]
        self.fixture_ids = self._fixture_ids()

    def _fixture_ids(self) -> list[str]:
        with self.sim.http() as arm:
            r = arm.get(f"/subscriptions/{self.sim.subscription}/resourceGroups/{FIXTURE_RG}/resources?{ARM_API}")
            return sorted(x["id"] for x in self._ok(r, "fixture resources").json()["value"])

    @staticmethod
    def _ok(r: Any, what: str) -> Any:
        if r.status_code not in (200, 201, 202):
            raise RuntimeError(f"{what}: {r.status_code} {r.text[:300]}")
        return r

    def config(self) -> Path:
        """schemathesis.toml: dictionaries of values the simulator knows, each drawn part of the time."""
        sp, app = self.sp_id, self.sim.client_id
        dictionaries = {
            "subscription": [self.sim.subscription],
            "tenant": [self.sim.tenant, "organizations", "common"],
            "group": ["fuzz", "missing-group"],
            "namespace": ["Microsoft.ManagedIdentity", "Microsoft.Compute", "Microsoft.Web", "Microsoft.KeyVault",
                          "Microsoft.Network", "Microsoft.Authorization", "Microsoft.Resources", "Microsoft.Storage"],
            "rtype": ["userAssignedIdentities", "virtualMachines", "sites", "vaults", "virtualNetworks",
                      "roleAssignments", "serverfarms"],
            "rname": ["fuzz", "missing"],
            "api": ["2021-04-01", "2023-01-31", "2024-07-01", "2023-07-01", "2024-04-01", "2022-04-01", "2025-04-01"],
            "location": ["eastus", "westeurope"],
            "graph": ["servicePrincipals", "applications", f"servicePrincipals(appId='{app}')",
                      f"applications(appId='{app}')", f"servicePrincipals~{sp}", f"servicePrincipals~{sp}~"
                      "appRoleAssignments", f"servicePrincipals~{sp}~appRoleAssignedTo", "me",
                      f"servicePrincipals~{sp}~appRoleAssignments~missing"],
            "app": [app],
            "vm": [self.vm_key],
            "site": [self.site_key],
            "imds_segment": ["compute", "network", "compute~name"],
            "imds_path": ["compute/name", "network", "/compute/tagsList"],
        }
        bindings = {"path.subscriptionId": ("subscription", 0.8), "path.tenant": ("tenant", 0.7),
                    "path.resourceGroupName": ("group", 0.6), "path.resourceProviderNamespace": ("namespace", 0.7),
                    "path.resourceType": ("rtype", 0.7), "path.resourceName": ("rname", 0.6),
                    "query.api-version": ("api", 0.8), "path.location": ("location", 0.7),
                    "path.rest": ("graph", 0.7), "path.app_id": ("app", 0.5), "path.vm_key": ("vm", 0.8),
                    "path.key": ("site", 0.8), "path.path": ("imds_segment", 0.5), "query.path": ("imds_path", 0.5)}
        lines = []
        for name, values in dictionaries.items():
            lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
        lines.append("[parameters]")
        for key, (name, p) in bindings.items():
            lines.append(f'"{key}" = {{ dictionary = "{name}", probability = {p} }}')
        path = self.work / "schemathesis.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    # one schemathesis run -------------------------------------------------------------------------------------------
    def run(self, g: Group, config: Path) -> None:
        a = self.args
        base = {"main": self.sim.url, "identity": self.sim.imds_url,
                "vaults": f"https://localhost:{self.sim.vault_ports[0]}"}[g.spec]
        reports = self.work / "reports" / g.name
        cmd = [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config), "run",
               str(OPENAPI / f"{g.spec}.json"), "--url", base, "--tls-verify", self.sim.ca_bundle,
               "--checks", a.checks, "--max-examples", str(a.max_examples), "--workers", str(g.workers),
               *(["--seed", str(a.seed)] if a.seed is not None else ["--generation-deterministic"]),
               "--request-timeout", "30", "--report", "har,ndjson", "--report-dir", str(reports),
               "--output-sanitize", "false", "--no-color", "--suppress-health-check", "all", *a.extra, *g.filters]
        if g.spec == "identity":
            cmd += ["--header", "Metadata: true", "--header", f"X-IDENTITY-HEADER: {self.site_header}"]
        env = {**os.environ, "SCHEMATHESIS_HOOKS": str(Path(__file__).resolve())}
        env[HOOK_ENV] = json.dumps({"url": self.sim.url, "ca": self.sim.ca, "tenant": self.sim.tenant,
                                    "client_id": self.sim.client_id, "client_secret": self.sim.client_secret,
                                    "auth": g.auth, "fresh": g.fresh, "vm_key": self.vm_key,
                                    "site_key": self.site_key})
        started = time.monotonic()
        # in the work directory: schemathesis keeps a cache (.schemathesis/) in the current one
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=a.timeout, cwd=self.work)
        g.seconds = time.monotonic() - started
        g.rc = proc.returncode
        (self.work / f"{g.name}.out").write_text(proc.stdout + proc.stderr)
        self._read_reports(g, reports)
        auth_only = re.search(r"Authentication failed: (\d+) operations? returned only 401/403", proc.stdout)
        if auth_only:  # the harness's credential did not reach them (what this script exists to prevent)
            g.errors.append(f"{auth_only.group(1)} operations answered only 401/403")
        if g.rc != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-40:])
            g.errors.append(f"schemathesis exited {g.rc}:\n{tail}")

    def _read_reports(self, g: Group, reports: Path) -> None:
        for f in reports.glob("ndjson-*"):
            for line in f.read_text().splitlines():
                event = json.loads(line)
                if "LoadingFinished" in event:
                    g.operations = event["LoadingFinished"]["statistic"]["operations"]["selected"]
                if "NonFatalError" in event:
                    g.errors.append(f"{event['NonFatalError']['label']}: {event['NonFatalError']['value']}")
        for f in reports.glob("har-*"):
            for entry in json.loads(f.read_text())["log"]["entries"]:
                req, resp = entry["request"], entry["response"]
                g.cases += 1
                g.statuses[resp["status"]] += 1
                auth = next((h["value"] for h in req["headers"] if h["name"].lower() == "authorization"), "")
                if resp["status"] in (401, 403) and re.fullmatch(r"Bearer ey[\w-]+\.[\w-]+\.[\w-]+", auth):
                    g.denied_with_token += 1
                ctype = next((h["value"] for h in resp["headers"] if h["name"].lower() == "content-type"), "")
                problem = _shape_problem(g.shape, resp["status"], ctype,
                                         resp["content"].get("text", "") if req["method"] != "HEAD" else "")
                if problem:
                    g.shapeless.append(f"{req['method']} {req['url'][:200]}: {problem}")

    # "changes nothing" --------------------------------------------------------------------------------------------
    def check_fixtures(self) -> None:
        """The fixtures, which no fuzz input could name, are as they were and still work."""
        import httpx

        ids = self._fixture_ids()
        self._expect(ids == self.fixture_ids, f"fixture group: {self.fixture_ids} before, {ids} after")
        with self.sim.http() as arm:
            r = arm.get(f"{self.vm_id}?{VM_API}")
            self._expect(r.status_code == 200 and r.json().get("identity", {}).get("type") == "SystemAssigned",
                         f"fixture VM: {r.status_code} {r.text[:200]}")
        r = httpx.get(f"{self.sim.imds_url}/vms/{self.vm_key}/metadata/identity/oauth2/token", headers={
            "Metadata": "true"}, params={"api-version": "2018-02-01", "resource": "https://management.azure.com/"})
        self._expect(r.status_code == 200 and "access_token" in r.json(), f"VM's IMDS token: {r.status_code} {r.text}")
        r = httpx.get(f"{self.sim.imds_url}/sites/{self.site_key}/msi/token", headers={
            "X-IDENTITY-HEADER": self.site_header}, params={"api-version": "2019-08-01",
                                                            "resource": "https://vault.azure.net"})
        self._expect(r.status_code == 200 and "access_token" in r.json(), f"site's token: {r.status_code} {r.text}")
        with self.sim.http(self.sim.token(GRAPH_SCOPE)) as graph:
            r = graph.get(f"/v1.0/servicePrincipals/{self.sp_id}")
            self._expect(r.status_code == 200, f"Graph service principal: {r.status_code} {r.text[:200]}")

    def check_alive(self, what: str) -> None:
        with self.sim.http() as arm:
            r = arm.get(f"/subscriptions/{self.sim.subscription}?{ARM_API}")
            self._expect(r.status_code == 200, f"{what}: GET subscription: {r.status_code} {r.text[:200]}")
            r = arm.get(f"/subscriptions/{self.sim.subscription}/resourcegroups?{ARM_API}")
            self._expect(r.status_code == 200, f"{what}: list resource groups: {r.status_code} {r.text[:200]}")

    def _expect(self, ok: bool, what: str) -> None:
        if not ok:
            self.failures.append(what)

    def tracebacks(self) -> list[str]:
        log = (self.sim.home / "server.log").read_text(errors="replace")
        return [m.group(0)[:300] for m in re.finditer(r"Traceback \(most recent call last\):[\s\S]{0,2000}", log)]


def _line(name: str, gs: list[Group]) -> str:
    statuses: Counter[int] = Counter()
    for g in gs:
        statuses.update(g.statuses)
    five = sum(n for s, n in statuses.items() if s >= 500)
    denied, with_token = statuses[401] + statuses[403], sum(g.denied_with_token for g in gs)
    return (f"{name:<13} operations {sum(g.operations for g in gs):>3}  cases {sum(g.cases for g in gs):>6}  "
            f"5xx {five}  401/403 {denied:>5} (with a token {with_token})  "
            f"shapeless 4xx {sum(len(g.shapeless) for g in gs)}  ({sum(g.seconds for g in gs):.0f} s)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--max-examples", type=int, default=100,
                   help="cases per operation and phase (default 100: about 6,500 cases, 1.5 min on 2 cores)")
    p.add_argument("--seed", type=int, default=None,
                   help="random generation from this seed (default: schemathesis' deterministic generation)")
    p.add_argument("--database-url", default="", help="run on this (empty) database instead of SQLite in the home")
    p.add_argument("--checks", default="not_a_server_error,response_schema_conformance",
                   help="schemathesis checks (default: not_a_server_error,response_schema_conformance)")
    p.add_argument("--only", default="", help="comma-separated groups to run (entra,arm,graph,sim,identity,vaults,"
                                              "sim-control); all by default")
    p.add_argument("--timeout", type=float, default=900, help="seconds allowed per schemathesis run")
    p.add_argument("--keep", action="store_true", help="keep the temporary home and the reports")
    p.add_argument("extra", nargs="*", help="more `schemathesis run` options (after --), e.g. -- --mode positive")
    args = p.parse_args(argv)

    started = time.monotonic()
    fuzz = Fuzz(args)
    chosen = [g for g in groups() if not args.only or g.name in args.only.split(",")]
    ok = False
    try:
        fuzz.sim.start()
        fuzz.setup()
        config = fuzz.config()
        for g in chosen:
            if g.name == "sim-control":  # the fixtures must have come through everything before /_sim/reset
                fuzz.check_fixtures()
            fuzz.run(g, config)
            print(_line(g.name, [g]), flush=True)
        if not any(g.name == "sim-control" for g in chosen):
            fuzz.check_fixtures()
        fuzz.check_alive("after the run")
        fuzz.sim.restart()
        fuzz.check_alive("after a restart")
        traces = fuzz.tracebacks()
        print()
        for spec in ("main", "identity", "vaults"):
            gs = [g for g in chosen if g.spec == spec]
            if gs:
                print(_line(f"{spec}.json", gs))
        problems = list(fuzz.failures) + [f"server.log: {t}" for t in traces]
        for g in chosen:
            problems += [f"[{g.name}] {e}" for e in g.errors]
            problems += [f"[{g.name}] {s}" for s in g.shapeless[:20]]
            five = sum(n for s, n in g.statuses.items() if s >= 500)
            if five:
                problems.append(f"[{g.name}] {five} answers with a 5xx (see {fuzz.work / (g.name + '.out')})")
        print(f"total: {sum(g.cases for g in chosen)} cases in {time.monotonic() - started:.0f} s, "
              f"{'no problems' if not problems else f'{len(problems)} problems'}")
        for line in problems:
            print(f"  - {line}")
        ok = not problems
    finally:
        fuzz.sim.stop()
        if args.keep or not ok:
            print(f"home and reports kept in {fuzz.work}")
        else:
            shutil.rmtree(fuzz.work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
