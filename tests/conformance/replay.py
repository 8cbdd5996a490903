"""Replay the trimmed recordings under recordings/ against a live arm-sim and compare status codes and JSON shapes.

    python -m tests.conformance.replay [--only NAME] [--out tests/conformance/MISMATCHES.md] [--update-baseline]

A recording (trim.py writes one; spec examples have the same form) is {source, ids, setup?, interactions} (`ids`:
the recorded subscription, tenant, signed-in user and tenant domain, each mapped to arm-sim's own): each
interaction is {method, uri, body, responses: {status: body}} or {method, uri, skip: reason}, or a `setup` step
(sent, not compared: it stands for recorded interactions the copy leaves out). For each recording:
the simulator is reset; resource groups that the recording uses but never creates (the test framework's preparers
made them) are created; then every interaction is sent, in order, to its own host (management.azure.com,
graph.microsoft.com, {vault}.vault.azure.net) through arm-sim's proxy, with the bootstrap principal's token for
that host. Recorded ids are mapped to live ones: the subscription, the tenant and the signed-in user at the start,
then every GUID an answer gave (learnt by walking the recorded answer alongside the live one). A live 201/202 with
Azure-AsyncOperation/Location is followed to its end (the recording's own polls are skipped as "lro-poll").

The comparison (`diff`): the status code must be one the recording answered; bodies must have the same shape —
the same keys, recursively (keys that are ARM ids count as one), and the same value types (null, bool, number,
str, list, dict); values are ignored (ids, names, times, etags, GUIDs differ by nature), except an error's `code`.
Lists compare the merged shape of their elements; a list the recording had items in and arm-sim answers empty is a
mismatch. `tags` are compared as a dict only. For the REST specs' examples (not Azure's answers, but illustrations
that show some of a resource's properties), a key arm-sim adds that the spec's schema declares is not a mismatch.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
RECORDINGS = HERE / "recordings"
BASELINE = HERE / "baseline.json"
REASONS = HERE / "reasons.json"  # why each remaining mismatch stays (recording#index -> reason)
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
RG = re.compile(r"/subscriptions/[^/]+/resourcegroups/([^/?]+)", re.I)
OPAQUE_KEYS = {"tags"}
PAGING_KEYS = {"nextLink", "@odata.nextLink"}  # present only when another page follows
SCOPES = {"arm": "https://management.azure.com/.default", "graph": "https://graph.microsoft.com/.default",
          "vault": "https://vault.azure.net/.default"}


# --- shapes ---------------------------------------------------------------------------------------------------------
def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    return {str: "str", list: "list", dict: "dict"}.get(type(v), type(v).__name__)


def _key(k: str) -> str:
    return "{resourceId}" if k.lower().startswith("/subscriptions/") else k


def shape(v: Any) -> Any:
    """A value's shape: dicts keep their keys, lists the merged shape of their elements, leaves their kind."""
    if isinstance(v, dict):
        out: dict[str, Any] = {}
        for k, x in v.items():
            k = _key(k)
            s = "dict" if k in OPAQUE_KEYS and isinstance(x, dict) else shape(x)
            out[k] = merge(out[k], s) if k in out else s
        return out
    if isinstance(v, list):
        merged: Any = None
        for x in v:
            merged = shape(x) if merged is None else merge(merged, shape(x))
        return ["list", merged]
    return _kind(v)


def merge(a: Any, b: Any) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: merge(a[k], b[k]) if k in a and k in b else a.get(k, b.get(k)) for k in {**a, **b}}
    if isinstance(a, list) and isinstance(b, list):
        return ["list", b[1] if a[1] is None else a[1] if b[1] is None else merge(a[1], b[1])]
    return a if a != "null" else b


def _skind(s: Any) -> str:
    return "dict" if isinstance(s, dict) else "list" if isinstance(s, list) else str(s)


def shape_diff(rec: Any, live: Any, path: str = "$") -> list[str]:
    """Differences between two shapes, as short lines (`missing $.a.b`, `extra $.c`, `type $.d: str != number`)."""
    if isinstance(rec, dict) and isinstance(live, dict):
        out = [f"missing {path}.{k}" for k in sorted(rec.keys() - live.keys() - PAGING_KEYS)]
        out += [f"extra {path}.{k}" for k in sorted(live.keys() - rec.keys() - PAGING_KEYS)]
        for k in sorted(rec.keys() & live.keys()):
            out += shape_diff(rec[k], live[k], f"{path}.{k}")
        return out
    if isinstance(rec, list) and isinstance(live, list):
        if rec[1] is None:
            return []
        if live[1] is None:  # an empty list where the recording had objects (lists of strings vary by value)
            return [f"empty {path}[] (recorded items)"] if isinstance(rec[1], dict) else []
        return shape_diff(rec[1], live[1], f"{path}[]")
    if _skind(rec) != _skind(live) and "null" not in (_skind(rec), _skind(live)):
        return [f"type {path}: {_skind(rec)} != {_skind(live)}"]
    return []


def _arm_type(uri: str) -> tuple[str, str] | None:
    """The resource type (lower-case, `namespace/type[/child]`) and api version an ARM request names."""
    parts = urlsplit(uri)
    version = re.search(r"api-version=([^&]+)", parts.query)
    at = parts.path.lower().rfind("/providers/")
    if parts.hostname != "management.azure.com" or version is None or at < 0:
        return None
    segments = parts.path[at + len("/providers/"):].split("/")
    return "/".join([segments[0], *segments[1::2]]).lower(), version.group(1)


def declared_extras(uri: str, reasons: list[str]) -> list[str]:
    """`reasons` without the `extra` keys that the type's REST spec declares. Used for the specs' examples only:
    an example shows some of a resource's properties, while Azure's answers (the az recordings, where every extra
    key counts) carry what the provider fills."""
    from arm_sim.providers import shapes  # the simulator's copy of the specs' schemas

    named = _arm_type(uri)
    schema = shapes.body(*named) if named else None
    if schema is None:
        return reasons
    kept = []
    for reason in reasons:
        steps = reason[len("extra $."):].split(".") if reason.startswith("extra $.") else None
        if steps and steps[0] == "value[]":
            steps = steps[1:]
        if not (steps and shapes.declares_path(schema, steps)):
            kept.append(reason)
    return kept


def diff(status_expected: dict[str, Any], status: int, body: Any) -> list[str]:
    """Why a live answer differs from the recorded one(s); [] when it matches."""
    if str(status) not in status_expected:
        want = "/".join(status_expected)
        out = [f"status {want} != {status}"]
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict):
            out.append(f"live error {err.get('code')}: {str(err.get('message'))[:160]}")
        return out
    rec = status_expected[str(status)]
    if isinstance(rec, dict) and set(rec) == {"_text"}:  # not JSON: only the status is compared
        return []
    if rec is None:
        return [] if body is None else ["body: recorded empty, live JSON"]
    if body is None:
        return ["body: recorded JSON, live empty"]
    out = shape_diff(shape(rec), shape(body))
    rerr, lerr = (x.get("error") if isinstance(x, dict) else None for x in (rec, body))
    if isinstance(rerr, dict) and isinstance(lerr, dict) and rerr.get("code") != lerr.get("code"):
        out.append(f"error code {rerr.get('code')} != {lerr.get('code')}")
    return out


# --- the live side --------------------------------------------------------------------------------------------------
@dataclass
class Live:
    sim: Any  # arm_sim.testing.server.Sim
    client: Any = None  # httpx.Client through the proxy
    tokens: dict[str, str] = field(default_factory=dict)
    deployer_oid: str = ""
    domain: str = ""  # the tenant's verified domain (a user's name must be in it)

    def open(self) -> Live:
        import httpx

        self.client = httpx.Client(proxy=self.sim.proxy_url, verify=self.sim.ca, timeout=60)
        return self

    def reset(self) -> None:
        r = self.client.post("https://management.azure.com/_sim/reset",
                             headers={"Authorization": f"Bearer {self.sim.token()}"})
        if r.status_code != 200:
            raise RuntimeError(f"reset failed: {r.status_code} {r.text[:300]}")
        self.tokens = {k: self.sim.token(v) for k, v in SCOPES.items()}
        r = self.send("GET", f"https://graph.microsoft.com/v1.0/servicePrincipals?$filter=appId eq "
                             f"'{self.sim.client_id}'", None)
        self.deployer_oid = r.json()["value"][0]["id"]
        r = self.send("GET", "https://graph.microsoft.com/v1.0/domains", None)
        self.domain = r.json()["value"][0]["id"]

    def send(self, method: str, uri: str, body: Any, auth: bool = True) -> Any:
        host = urlsplit(uri).hostname or ""
        plane = "graph" if host.startswith("graph.") else "vault" if ".vault." in host else "arm"
        headers = {"Authorization": f"Bearer {self.tokens[plane]}"} if auth else {}
        data = None if body is None else json.dumps(body)
        if data is not None:
            headers["Content-Type"] = "application/json"
        return self.client.request(method, uri, content=data, headers=headers)

    def follow(self, resp: Any) -> None:
        """Follow arm-sim's own long-running operation to its end."""
        url = resp.headers.get("azure-asyncoperation") or (resp.headers.get("location")
                                                           if resp.status_code == 202 else None)
        deadline = time.monotonic() + 60
        while url and time.monotonic() < deadline:
            r = self.send("GET", url, None)
            state = r.json().get("status") if r.headers.get("content-type", "").startswith("application/json") \
                and isinstance(r.json(), dict) else None
            if r.status_code != 202 and (state is None or state.lower() in ("succeeded", "failed", "canceled")):
                return
            time.sleep(0.2)


# --- one recording --------------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    index: int
    method: str
    uri: str
    verdict: str  # match | mismatch | skip
    reasons: list[str] = field(default_factory=list)


def _body(r: Any) -> Any:
    if not r.content:
        return None
    try:
        return r.json()
    except ValueError:
        return {"_text": r.text[:200]}


# Azure's canary regions are open only to Microsoft's own test subscriptions, which recorded some of these scenarios;
# a customer's subscription (arm-sim's) is refused there, so they replay in the public region they stand beside.
CANARY = {"eastus2euap": "eastus2", "centraluseuap": "centralus", "east us 2 euap": "East US 2",
          "central us euap": "Central US"}


def _swap(value: Any, ids: dict[str, str]) -> Any:
    if value is None or not ids:
        return value
    text = json.dumps(value) if not isinstance(value, str) else value
    pattern = re.compile("|".join(re.escape(k) for k in sorted(ids, key=len, reverse=True)), re.I)
    text = pattern.sub(lambda m: ids[m.group(0).lower()], text)
    return text if isinstance(value, str) else json.loads(text)


def learn(rec: Any, live: Any, ids: dict[str, str]) -> None:
    """Map every GUID of a recorded answer to the live answer's value at the same place."""
    if isinstance(rec, dict) and isinstance(live, dict):
        for k in rec.keys() & live.keys():
            learn(rec[k], live[k], ids)
    elif isinstance(rec, list) and isinstance(live, list):
        if len(rec) == 1 and len(live) == 1:
            learn(rec[0], live[0], ids)
    elif (isinstance(rec, str) and isinstance(live, str) and rec.lower() != live.lower()
          and GUID.fullmatch(rec) and GUID.fullmatch(live)):
        ids.setdefault(rec.lower(), live)


def prepare(doc: dict[str, Any], live: Live, ids: dict[str, str]) -> None:
    """What the test framework's preparers made before recording: resource groups, then explicit `setup` calls."""
    created = {m.group(1).lower() for it in doc["interactions"] if it["method"] == "PUT"
               for m in [re.search(r"/resourcegroups/([^/?]+)\?", it["uri"], re.I)] if m}
    groups: dict[str, str] = {}
    for it in [*doc.get("setup", []), *doc["interactions"]]:
        for name in RG.findall(it["uri"]):
            if name.lower() not in created:
                groups.setdefault(name.lower(), name)
    sub = live.sim.subscription
    for name in groups.values():
        live.send("PUT", f"https://management.azure.com/subscriptions/{sub}/resourcegroups/{name}"
                         "?api-version=2022-09-01", {"location": doc.get("location", "westus")})
    for step in doc.get("setup", []):
        r = live.send(step["method"], _swap(step["uri"], ids), _swap(step.get("body"), ids))
        if r.status_code >= 400:
            raise RuntimeError(f"setup {step['method']} {step['uri']}: {r.status_code} {r.text[:300]}")
        live.follow(r)
        for recorded, path in step.get("bind", {}).items():  # an example's id = a value this answer gave
            value: Any = r.json()
            for part in path.split("."):
                value = value[part]
            ids.setdefault(recorded.lower(), value)


def replay(doc: dict[str, Any], live: Live) -> list[Outcome]:
    live.reset()
    recorded = doc.get("ids", {})
    ids: dict[str, str] = {}
    for key, value in (("subscription", live.sim.subscription), ("tenant", live.sim.tenant),
                       ("user", live.deployer_oid), ("domain", live.domain)):
        if recorded.get(key):
            ids[recorded[key].lower()] = value
    ids.update({k.lower(): v for k, v in doc.get("map", {}).items()})  # example ids that stand for fixed ones
    ids.update(CANARY)
    out: list[Outcome] = []
    example = "/examples/" in doc.get("source", {}).get("path", "")
    try:
        prepare(doc, live, ids)
    except Exception as e:  # noqa: BLE001 - a broken setup makes every request of the recording a mismatch
        return [Outcome(i, it["method"], it["uri"], "mismatch", [f"setup failed: {e}"])
                for i, it in enumerate(doc["interactions"]) if "skip" not in it]
    for i, it in enumerate(doc["interactions"]):
        if "skip" in it:
            out.append(Outcome(i, it["method"], it["uri"], "skip", [it["skip"]]))
            continue
        uri = _swap(it["uri"], ids)
        if it.get("setup"):  # stands for recorded interactions left out of the copy: sent, not compared
            r = live.send(it["method"], uri, _swap(it.get("body"), ids))
            live.follow(r)
            continue
        try:
            r = live.send(it["method"], uri, _swap(it.get("body"), ids), auth=not it.get("noauth"))
        except Exception as e:  # noqa: BLE001 - a transport failure is a mismatch of this request
            out.append(Outcome(i, it["method"], it["uri"], "mismatch", [f"transport: {type(e).__name__}: {e}"]))
            continue
        body = _body(r)
        reasons = diff(it["responses"], r.status_code, body)
        if example:
            reasons = declared_extras(it["uri"], reasons)
        if str(r.status_code) in it["responses"]:
            learn(it["responses"][str(r.status_code)], body, ids)
        if r.status_code in (201, 202):
            live.follow(r)
        out.append(Outcome(i, it["method"], it["uri"], "mismatch" if reasons else "match", reasons))
    return out


# --- the suite ------------------------------------------------------------------------------------------------------
def load(only: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for p in sorted(RECORDINGS.glob("*/*.json")):
        name = f"{p.parent.name}/{p.stem}"
        if only is None or only in name:
            docs.append((name, json.loads(p.read_text(encoding="utf-8"))))
    return docs


@dataclass
class Report:
    results: dict[str, list[Outcome]]
    seconds: float

    def count(self, kind: str | None = None, verdict: str | None = None) -> int:
        return sum(1 for name, outs in self.results.items() if kind is None or name.startswith(kind + "/")
                   for o in outs if verdict is None or o.verdict == verdict)

    def summary(self) -> str:
        lines = []
        for kind in ("az", "specs", None):
            n = sum(1 for name in self.results if kind is None or name.startswith(kind + "/"))
            req, match, mis = self.count(kind), self.count(kind, "match"), self.count(kind, "mismatch")
            compared = match + mis
            pct = 100.0 * match / compared if compared else 0.0
            lines.append(f"{kind or 'total'}: recordings={n} requests={req} compared={compared} matched={match} "
                         f"({pct:.1f}%) skipped={req - compared}")
        lenient = self.count(None, "match") + self.extras_only()
        compared = self.count(None, "match") + self.count(None, "mismatch")
        lines.append(f"total allowing extra keys (arm-sim returns keys the recording lacks, nothing else differs): "
                     f"matched={lenient} ({100.0 * lenient / compared if compared else 0.0:.1f}%)")
        lines.append(f"runtime {self.seconds:.1f} s")
        return "\n".join(lines)

    def extras_only(self) -> int:
        """Mismatches whose only differences are keys arm-sim adds (spec examples are often sparse)."""
        return sum(1 for outs in self.results.values() for o in outs
                   if o.verdict == "mismatch" and all(r.startswith("extra ") for r in o.reasons))

    def skips(self) -> Counter[str]:
        return Counter(o.reasons[0] for outs in self.results.values() for o in outs if o.verdict == "skip")

    def categories(self) -> Counter[str]:
        """Each mismatch's reasons, with list markers and status pairs kept, counted over the suite."""
        c: Counter[str] = Counter()
        for outs in self.results.values():
            for o in outs:
                if o.verdict == "mismatch":
                    for reason in {r.split(":")[0] if r.startswith(("live error", "transport", "setup")) else r
                                   for r in o.reasons}:
                        c[reason] += 1
        return c

    def kinds(self) -> Counter[str]:
        """One category per mismatched request: the status pair and live error code, else what the shape lacks
        (missing keys, by name) or only adds (extra keys, by name)."""
        c: Counter[str] = Counter()
        for outs in self.results.values():
            for o in outs:
                if o.verdict != "mismatch":
                    continue
                first = o.reasons[0]
                if first.startswith(("status", "setup", "transport")):
                    code = next((r.split(":")[0].removeprefix("live error ") for r in o.reasons
                                 if r.startswith("live error")), "")
                    c[f"{first.split(':')[0]} {code}".strip()] += 1
                    continue
                missing = sorted({r.rsplit(".", 1)[-1] for r in o.reasons if not r.startswith("extra ")})
                extra = sorted({r.rsplit(".", 1)[-1] for r in o.reasons if r.startswith("extra ")})
                c["lacks " + ", ".join(missing[:6]) + (" …" if len(missing) > 6 else "") if missing
                  else "adds " + ", ".join(extra)] += 1
        return c

    def markdown(self) -> str:
        reasons: dict[str, str] = json.loads(REASONS.read_text(encoding="utf-8")) if REASONS.exists() else {}
        md = ["# Conformance mismatches", "",
              "Generated by `make conformance` (tests/conformance/replay.py): every compared request whose status code"
              " or JSON shape differs from the public recording, with the reason. Regenerate, do not edit.", "",
              "```", self.summary(), "```", "", "Skipped requests by reason: " +
              ", ".join(f"{k} {v}" for k, v in self.skips().most_common()), "",
              "## Mismatched requests by category", "", "| requests | category |", "|---:|---|"]
        md += [f"| {n} | {k} |" for k, n in self.kinds().most_common()]
        md += ["", "## Differences, most frequent first", "", "| count | difference |", "|---:|---|"]
        md += [f"| {n} | `{r}` |" for r, n in self.categories().most_common(40)]
        for name, outs in self.results.items():
            bad = [o for o in outs if o.verdict == "mismatch"]
            if not bad:
                continue
            md += ["", f"## {name} ({len(bad)} of {sum(o.verdict != 'skip' for o in outs)} compared)", ""]
            for o in bad:
                path = urlsplit(o.uri)
                md.append(f"- #{o.index} `{o.method} {path.netloc}{path.path}`: " + "; ".join(o.reasons))
                why = reasons.get(f"{name}#{o.index}")
                md.append(f"  - **why it stays:** {why}" if why else "  - **why it stays:** not yet explained")
        return "\n".join(md) + "\n"


def run(only: str | None = None, home: Path | None = None) -> Report:
    from arm_sim.testing.server import Sim

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="arm-sim-conformance-") as tmp:
        sim = Sim(home=home or Path(tmp) / "sim", hermetic=True, extra_env={"ARM_SIM_LRO": "async"}).start()
        try:
            live = Live(sim).open()
            results = {name: replay(doc, live) for name, doc in load(only)}
            live.client.close()
        finally:
            sim.stop()
    return Report(results, time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Replay public Azure recordings against arm-sim")
    p.add_argument("--only", help="recordings whose name contains this")
    p.add_argument("--out", type=Path, help="write the mismatch list (MISMATCHES.md) here")
    p.add_argument("--update-baseline", action="store_true", help="store the matched count as the new floor")
    a = p.parse_args(argv)
    report = run(a.only)
    print(report.summary())
    if a.out:
        a.out.write_text(report.markdown(), encoding="utf-8")
        print(f"mismatches written to {a.out}")
    matched = report.count(None, "match")
    if a.update_baseline and a.only is None:
        BASELINE.write_text(json.dumps({"matched": matched, "compared": report.count() - sum(report.skips().values()),
                                        "recordings": len(report.results)}, indent=1) + "\n")
    floor = json.loads(BASELINE.read_text())["matched"] if BASELINE.exists() else 0
    if a.only is None and matched < floor:
        print(f"REGRESSION: {matched} matched < baseline {floor}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
