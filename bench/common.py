"""Shared by the issue benchmarks (identity.py, rbac.py, keyvault.py, deploy.py); not a benchmark itself.

Built on bench/run.py, which owns the load generators (wrk, or an asyncio fallback), CPU pinning and the HTTPS
baseline. Added here: a workspace that stops whatever a benchmark started (also on errors), the bare endpoint over
plain HTTP (IMDS is plain HTTP), whole-process-tree pinning (the simulator's RSA key-pool worker is a child
process: left unpinned it would run on the load generator's core and hide its cost), interleaved rounds, small ARM
client helpers, and a report of absolute figures plus ratios with targets.

Conventions (as bench/run.py): traffic goes to 127.0.0.1/localhost only; figures are medians of interleaved rounds;
the exit code is 0 whether or not a target is met, 1 only when the benchmark itself could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from run import (
    BASELINE_APP,
    LOCAL_HOSTS,
    Endpoint,
    PyLoad,
    Sample,
    Wrk,
    free_port,
    pick_cores,
    pin,
    preflight,
    start_baseline,
    stop_process,
)

from arm_sim.testing.server import ARM_SCOPE, Sim, descendants, free_range

__all__ = ["ARM_SCOPE", "Check", "Endpoint", "NotMeasured", "Sample", "Series", "Workspace", "add_load_args", "arm",
           "claims", "ensure_ok", "interleave", "main", "preflight", "to_loopback", "wait_lro"]

ARM_API_GROUPS = "2025-04-01"
VAULT_SCOPE = "https://vault.azure.net/.default"

# The bare endpoint of bench/baseline_app.py served exactly as there, minus TLS (the identity listener is plain HTTP).
_PLAIN_BASELINE = (
    "import sys, uvicorn\n"
    "sys.path.insert(0, sys.argv[2])\n"
    "from baseline_app import app\n"
    "uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[1]), loop='uvloop', http='httptools',\n"
    "            log_level='warning', access_log=False, lifespan='off', timeout_keep_alive=30)\n"
)


class NotMeasured(Exception):
    """The simulator does not (yet) offer what the benchmark measures: reported, not a crash."""


# --- workspace: start, pin, stop -------------------------------------------------------------------------------


class Workspace:
    """One temporary directory holding every simulator and baseline a benchmark starts; `close()` stops them."""

    def __init__(self, name: str) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"arm-sim-bench-{name}-"))
        self.cores = pick_cores()
        self.sims: list[Sim] = []
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def sim(self, label: str, vault_ports: tuple[int, int] | None = None, **env: str) -> Sim:
        """A started simulator (SQLite in its own home); hermetic: the caller's ARM_SIM_* settings do not leak in."""
        for attempt in range(1, 4):
            sim = Sim(home=self.tmp / f"{label}-{attempt}", database_url="", hermetic=True, extra_env=env)
            if vault_ports:
                sim.vault_ports = vault_ports
            self.sims.append(sim)
            try:
                return sim.start()
            except RuntimeError as e:
                # free ports are picked before the server binds them: on a busy machine another process may
                # take one in between; pick new ones
                if "already in use" not in str(e) or attempt == 3:
                    raise
                sim.stop()
                if vault_ports:
                    vault_ports = free_range(vault_ports[1] - vault_ports[0] + 1)
        raise AssertionError("unreachable")

    def https_baseline(self, sim: Sim) -> str:
        """bench/baseline_app.py over HTTPS with the simulator's certificate (bench/run.py's baseline)."""
        log = self.tmp / "baseline-https.log"
        proc, url = start_baseline(sim.home, sim.ca, log)
        self.procs.append((proc, log))
        return url

    def http_baseline(self) -> str:
        """The same bare endpoint over plain HTTP, served the same way otherwise."""
        port, log = free_port(), self.tmp / "baseline-http.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen([sys.executable, "-c", _PLAIN_BASELINE, str(port), str(BASELINE_APP.parent)],
                                    stdout=out, stderr=subprocess.STDOUT)
        self.procs.append((proc, log))
        url = f"http://127.0.0.1:{port}/ping"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"plain-HTTP baseline exited: {log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError, OSError):
                if httpx.get(url, timeout=1).status_code == 200:
                    return url
            time.sleep(0.1)
        raise RuntimeError("plain-HTTP baseline did not start in 30 s")

    def pin(self) -> str:
        """Servers (with their child processes) on one core, this process (the client) on the other."""
        if not self.cores:
            return "not pinned (needs taskset and 2 cores)"
        server, client = self.cores
        pids = [s.proc.pid for s in self.sims if s.proc] + [p.pid for p, _ in self.procs]
        for pid in pids:
            for p in (pid, *descendants(pid)):
                pin(p, server)
        os.sched_setaffinity(0, {client})
        return f"servers (and their child processes) on cpu {server}, clients and load generator on cpu {client}"

    def loadgen(self, args: argparse.Namespace, ca: str) -> Wrk | PyLoad:
        cpu = self.cores[1] if self.cores else None
        if args.loadgen == "wrk" or (args.loadgen == "auto" and shutil.which("wrk")):
            if not shutil.which("wrk"):
                raise RuntimeError("wrk not found (apt-get install -y wrk), or use --loadgen python")
            return Wrk(self.tmp, args.connections, min(args.threads, args.connections), cpu)
        return PlainPyLoad(ca, args.connections, cpu)

    def close(self) -> None:
        for proc, _ in self.procs:
            stop_process(proc)
        for sim in self.sims:
            sim.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def logs(self) -> list[Path]:
        return [s.home / "server.log" for s in self.sims] + [log for _, log in self.procs]


class PlainPyLoad(PyLoad):
    """bench/run.py's asyncio load generator, taught plain http:// too (it speaks TLS only)."""

    async def _run(self, ep: Endpoint, duration: float) -> Sample:
        u = urlsplit(ep.url)
        if u.scheme == "https":
            return await super()._run(ep, duration)
        target = u.path + (f"?{u.query}" if u.query else "")
        head = f"{ep.method} {target} HTTP/1.1\r\nHost: {u.netloc}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in ep.headers.items())
        if ep.body or ep.method != "GET":
            head += f"Content-Length: {len(ep.body.encode())}\r\n"
        request = (head + "\r\n").encode() + ep.body.encode()
        counts = [0, 0]
        start = time.monotonic()
        await asyncio.gather(*(self._worker(u.hostname or "127.0.0.1", u.port or 80, None, request,  # type: ignore[arg-type]
                                            start + duration, counts) for _ in range(self.connections)))
        return Sample(counts[0] / (time.monotonic() - start), counts[0], counts[1])


def add_load_args(parser: argparse.ArgumentParser, rounds: int = 3, duration: float = 4.0) -> None:
    parser.add_argument("--rounds", type=int, default=rounds, help=f"interleaved rounds (default {rounds})")
    parser.add_argument("--duration", type=float, default=duration,
                        help=f"seconds per measurement per round (default {duration:g})")
    parser.add_argument("--connections", type=int, default=2, help="concurrent connections under load (default 2)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2, at most --connections)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per endpoint (default 1)")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")


def interleave(gen: Wrk | PyLoad, endpoints: Sequence[Endpoint], rounds: int, duration: float,
               warmup: float) -> dict[str, list[Sample]]:
    """bench/run.py's schedule: A, B, C, A, B, C, … with a warm-up of each first."""
    if warmup > 0:
        for ep in endpoints:
            gen.run(ep, warmup)
    samples: dict[str, list[Sample]] = {ep.name: [] for ep in endpoints}
    for r in range(1, rounds + 1):
        for ep in endpoints:
            s = gen.run(ep, duration)
            samples[ep.name].append(s)
            print(f"round {r}/{rounds}  {ep.name:<40} {s.rps:>9,.0f} req/s  ({s.requests} requests, "
                  f"{s.errors} errors)", flush=True)
    return samples


def to_loopback(url: str) -> str:
    """`localhost` → `127.0.0.1` (the simulator binds IPv4 only; wrk would try ::1 first). The certificate names
    both."""
    u = urlsplit(url)
    if u.hostname not in LOCAL_HOSTS:
        raise ValueError(f"refusing a non-local address: {url}")
    return urlunsplit(u._replace(netloc=f"127.0.0.1:{u.port}")) if u.hostname == "localhost" else url


# --- ARM client helpers ----------------------------------------------------------------------------------------


def arm(sim: Sim, token: str | None = None) -> httpx.Client:
    """A keep-alive ARM client on 127.0.0.1 (the deployer's token unless another is given)."""
    return httpx.Client(base_url=to_loopback(sim.url), verify=sim.ca, timeout=120,
                        headers={"Authorization": f"Bearer {token or sim.token()}"})


def ensure_ok(r: httpx.Response, what: str) -> httpx.Response:
    if not r.is_success:
        if r.status_code in (404, 405, 501) and "NotImplemented" in r.text:
            raise NotMeasured(f"{what}: the simulator answers {r.status_code} {r.text[:300]}")
        raise RuntimeError(f"{what}: {r.request.method} {r.request.url} answered {r.status_code}: {r.text[:800]}")
    return r


def wait_lro(c: httpx.Client, r: httpx.Response, what: str, timeout: float = 300) -> httpx.Response:
    """Follow ARM's long-running-operation protocol if the answer is asynchronous (201/202 with a status URL).
    Polls every 20 ms whatever Retry-After says: the benchmarks run with ARM_SIM_LRO=sync, this is a fallback."""
    ensure_ok(r, what)
    op, loc = r.headers.get("azure-asyncoperation"), r.headers.get("location")
    if r.status_code not in (201, 202) or not (op or loc):
        return r
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if op:
            status = ensure_ok(c.get(op), what).json().get("status")
            if status == "Succeeded":
                return r
            if status in ("Failed", "Canceled"):
                raise RuntimeError(f"{what}: the operation ended {status}")
        else:
            s = c.get(loc)
            if s.status_code != 202:
                return ensure_ok(s, what)
        time.sleep(0.02)
    raise RuntimeError(f"{what}: still running after {timeout:.0f} s")


def claims(token: str) -> dict[str, Any]:
    """A JWT's claims, unverified (we only read our own token's oid)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# --- report ----------------------------------------------------------------------------------------------------


@dataclass
class Series:
    """One measured quantity over the rounds (req/s, cycles/s, seconds …)."""

    name: str
    unit: str
    values: list[float]
    errors: int = 0

    @classmethod
    def of(cls, name: str, samples: list[Sample]) -> Series:
        return cls(name, "req/s", [s.rps for s in samples], sum(s.errors for s in samples))

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else 0.0


_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, "<": lambda a, b: a < b}


@dataclass
class Check:
    """`num` / `den` per round, and their median, against an optional target `ratio {op} target`."""

    name: str
    num: Series
    den: Series
    op: str = ""
    target: float = 0.0

    @property
    def ratio(self) -> float:
        """The median of the per-round ratios: each round's pair was measured back to back, so on a busy machine
        this is steadier than the ratio of the medians (the same when there is one round)."""
        rounds = self.per_round()
        if rounds:
            return statistics.median(rounds)
        return self.num.median / self.den.median if self.den.median else float("nan")

    def per_round(self) -> list[float]:
        return [a / b for a, b in zip(self.num.values, self.den.values, strict=False) if b]

    def result(self) -> tuple[str, str]:
        if not self.op:
            return "-", "info"
        return f"{self.op} {self.target:.2f}x", "PASS" if _OPS[self.op](self.ratio, self.target) else "MISS"


def fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def table(rows: list[tuple[str, ...]], left: set[int]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(c.ljust(w) if i in left else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def report(info: list[str], series: list[Series], checks: list[Check]) -> None:
    print()
    for line in info:
        print(line)
    print()
    rows = [("measured", "unit", "median", "per round", "errors")]
    rows += [(s.name, s.unit, fmt(s.median), " ".join(fmt(v) for v in s.values), str(s.errors)) for s in series]
    table(rows, {0, 1, 3})
    print()
    crows = [("comparison", "ratio", "per round", "target", "result")]
    for c in checks:
        target, result = c.result()
        crows.append((c.name, f"{c.ratio:.2f}x", " ".join(f"{r:.2f}" for r in c.per_round()), target, result))
    table(crows, {0, 2, 4})
    if any(s.errors for s in series):
        print("\nWARNING: some requests failed (non-2xx/3xx or socket errors); their figures are not comparable")


# --- entry point -----------------------------------------------------------------------------------------------


def main(name: str, parser: argparse.ArgumentParser, body: Callable[[argparse.Namespace, Workspace], None],
         argv: list[str] | None = None) -> int:
    """Parse, run `body` in a fresh workspace, stop everything; 0 unless the benchmark itself could not run."""
    args = parser.parse_args(argv)
    for opt in ("rounds", "duration", "connections"):
        if getattr(args, opt, 1) <= 0:
            parser.error(f"--{opt} must be positive")
    ws = Workspace(name)
    try:
        print(f"{name}: working in {ws.tmp} ...", flush=True)
        body(args, ws)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except NotMeasured as e:
        print(f"\nNOT MEASURED: {e}")  # a missing feature is a finding, not a broken benchmark
    except Exception as e:
        print(f"bench could not run: {type(e).__name__}: {e}", file=sys.stderr)
        for log in ws.logs():
            if log.exists() and log.stat().st_size:
                print(f"--- {log} (tail) ---\n{log.read_text(errors='replace')[-2000:]}", file=sys.stderr)
        return 1
    finally:
        ws.close()
    return 0
