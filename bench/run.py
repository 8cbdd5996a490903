"""Throughput of arm-sim against a bare FastAPI endpoint served the same way, measured in one run.

Starts a real `arm-sim serve` (tests/simserver.py) and bench/baseline_app.py (uvicorn, uvloop + httptools,
HTTPS with the simulator's certificate, one process), pins both servers to one core and the load generator
to the other, and runs interleaved rounds:

    bare GET, ARM GET, generic PUT, token POST, bare GET, ARM GET, ...

Targets (issue 18): ARM GET of a resource >= 0.9x the bare GET, the PUT of a generic resource >= 0.25x.

It prints the median req/s of each endpoint and its ratio to the bare endpoint. Absolute figures move
10-20% between runs on this machine; the ratios are what to compare. It reports, it does not gate: the exit
code is 0 whether or not a target is met (non-zero only when the benchmark itself could not run).

    .venv/bin/python bench/run.py [--rounds 3] [--duration 5] [--connections 2] [--loadgen auto|wrk|python]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

REPO = Path(__file__).resolve().parents[1]
BASELINE_APP = REPO / "bench" / "baseline_app.py"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Endpoint:
    name: str
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    target: float | None = None  # minimum ratio vs the baseline; None = reported only

    def __post_init__(self) -> None:
        host = urlsplit(self.url).hostname
        if host not in LOCAL_HOSTS:  # this benchmark only ever loads this machine's loopback
            raise ValueError(f"refusing to load a non-local address: {self.url}")


@dataclass
class Sample:
    rps: float
    requests: int
    errors: int


# --- processes and cores -------------------------------------------------------------------------------


def pick_cores() -> tuple[int, int] | None:
    """(server core, load-generator core), or None when pinning is not possible here."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or shutil.which("taskset") is None:
        return None
    return cpus[0], cpus[1]


def pin(pid: int, cpu: int) -> None:
    """Pin every thread of a running process (threads it starts later inherit the mask)."""
    subprocess.run(["taskset", "-a", "-p", "-c", str(cpu), str(pid)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_baseline(home: Path, ca: str, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = open(log_path, "ab")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen([sys.executable, str(BASELINE_APP), "--port", str(port),
                             "--certfile", str(home / "server.pem"), "--keyfile", str(home / "server-key.pem")],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"https://127.0.0.1:{port}/ping"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"baseline exited: {log_path.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError, OSError):
            if httpx.get(url, verify=ca, timeout=1).status_code == 200:
                return proc, url
        time.sleep(0.1)
    stop_process(proc)
    raise RuntimeError("baseline did not start in 30 s")


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- arm-sim setup -------------------------------------------------------------------------------------


def prepare_sim(sim: Any) -> tuple[Endpoint, Endpoint]:
    """Create the resource group and resource; return the ARM GET and token endpoints."""
    token = sim.token()
    sub = sim.subscription
    base = f"https://127.0.0.1:{sim.port}"
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, verify=sim.ca, headers=auth, timeout=30) as c:
        r = c.put(f"/subscriptions/{sub}/resourcegroups/benchrg", params={"api-version": "2025-04-01"},
                  json={"location": "eastus"})
        r.raise_for_status()
        path = f"/subscriptions/{sub}/resourceGroups/benchrg/providers/Microsoft.Storage/storageAccounts/benchst"
        r = c.put(path, params={"api-version": "2023-01-01"}, json={"location": "eastus", "properties": {"a": 1}})
        r.raise_for_status()
        deadline = time.monotonic() + 30
        while True:  # the PUT may be asynchronous: wait until the resource reads back
            r = c.get(path, params={"api-version": "2023-01-01"})
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        r.raise_for_status()
    arm_get = Endpoint("ARM GET resource", f"{base}{path}?api-version=2023-01-01", headers=auth, target=0.9)
    form = urlencode({"grant_type": "client_credentials", "client_id": sim.client_id,
                      "client_secret": sim.client_secret, "scope": "https://management.azure.com/.default"})
    token_ep = Endpoint("token (client credentials)", f"{base}/{sim.tenant}/oauth2/v2.0/token", method="POST",
                        headers={"Content-Type": "application/x-www-form-urlencoded"}, body=form)
    return arm_get, token_ep


GENERIC_TYPE = "Microsoft.Relay/namespaces"  # stored generically (no provider module), as in bench/deploy.py


def prepare_put(sim: Any) -> Endpoint:
    """The PUT of a generic resource (issue 18: ARM PUT >= 0.25x the bare GET): the same body PUT again and again, so
    every request is a full write (preflight, validate, ETag check, write, hooks, event, COMMIT) answering 200."""
    base = f"https://127.0.0.1:{sim.port}"
    auth = {"Authorization": f"Bearer {sim.token()}", "Content-Type": "application/json"}
    path = f"/subscriptions/{sim.subscription}/resourceGroups/benchrg/providers/{GENERIC_TYPE}/benchput"
    body = json.dumps({"location": "eastus", "tags": {"bench": "put"}, "properties": {"a": 1}})
    with httpx.Client(base_url=base, verify=sim.ca, headers=auth, timeout=30) as c:
        c.put(path, params={"api-version": "2021-11-01"}, content=body).raise_for_status()
    return Endpoint("ARM PUT generic resource", f"{base}{path}?api-version=2021-11-01", method="PUT", headers=auth,
                    body=body, target=0.25)


def preflight(ep: Endpoint, ca: str) -> None:
    r = httpx.request(ep.method, ep.url, headers=ep.headers, content=ep.body or None, verify=ca, timeout=30)
    if r.status_code != 200:
        raise RuntimeError(f"{ep.name}: {ep.method} {ep.url} answered {r.status_code}: {r.text[:500]}")


# --- load generators -----------------------------------------------------------------------------------


def _lua_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class Wrk:
    name = "wrk"

    def __init__(self, workdir: Path, connections: int, threads: int, cpu: int | None) -> None:
        self.workdir, self.connections, self.threads, self.cpu = workdir, connections, threads, cpu

    def script(self, ep: Endpoint) -> Path:
        lines = [f"wrk.method = {_lua_str(ep.method)}"]
        lines += [f"wrk.headers[{_lua_str(k)}] = {_lua_str(v)}" for k, v in ep.headers.items()]
        if ep.body:
            lines.append(f"wrk.body = {_lua_str(ep.body)}")
        path = self.workdir / (re.sub(r"\W+", "_", ep.name) + ".lua")
        path.write_text("\n".join(lines) + "\n")
        return path

    def run(self, ep: Endpoint, duration: float) -> Sample:
        cmd = ["wrk", "-t", str(self.threads), "-c", str(self.connections), "-d", f"{max(1, round(duration))}s",
               "--timeout", "10s", "-s", str(self.script(ep)), ep.url]
        if self.cpu is not None:
            cmd = ["taskset", "-c", str(self.cpu), *cmd]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
        m = re.search(r"Requests/sec:\s*([\d.]+)", out.stdout)
        if out.returncode != 0 or not m:
            raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout[-2000:]}{out.stderr[-2000:]}")
        total = re.search(r"(\d+) requests in", out.stdout)
        errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s*(\d+)", out.stdout))
        sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out.stdout)
        if sock:
            errors += sum(int(g) for g in sock.groups())
        return Sample(float(m.group(1)), int(total.group(1)) if total else 0, errors)


class PyLoad:
    """Fallback when wrk is missing: keep-alive HTTP/1.1 over TLS on asyncio, one process (pinned like wrk)."""

    name = "python (asyncio)"

    def __init__(self, ca: str, connections: int, cpu: int | None) -> None:
        self.ca, self.connections = ca, connections
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    def run(self, ep: Endpoint, duration: float) -> Sample:
        try:
            import uvloop
        except ImportError:
            return asyncio.run(self._run(ep, duration))
        return uvloop.run(self._run(ep, duration))

    async def _run(self, ep: Endpoint, duration: float) -> Sample:
        u = urlsplit(ep.url)
        target = u.path + (f"?{u.query}" if u.query else "")
        head = f"{ep.method} {target} HTTP/1.1\r\nHost: {u.netloc}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in ep.headers.items())
        if ep.body or ep.method != "GET":
            head += f"Content-Length: {len(ep.body.encode())}\r\n"
        request = (head + "\r\n").encode() + ep.body.encode()
        ctx = ssl.create_default_context(cafile=self.ca)
        counts = [0, 0]  # done, errors
        start = time.monotonic()
        deadline = start + duration
        await asyncio.gather(*(self._worker(u.hostname or "127.0.0.1", u.port or 443, ctx, request, deadline, counts)
                               for _ in range(self.connections)))
        elapsed = time.monotonic() - start
        return Sample(counts[0] / elapsed, counts[0], counts[1])

    @staticmethod
    async def _worker(host: str, port: int, ctx: ssl.SSLContext, request: bytes, deadline: float,
                      counts: list[int]) -> None:
        writer: asyncio.StreamWriter | None = None
        reader: asyncio.StreamReader | None = None
        while time.monotonic() < deadline:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
                assert reader is not None
                writer.write(request)
                status, close = await _read_response(reader)
                counts[0] += 1
                if not 200 <= status < 400:
                    counts[1] += 1
            except (OSError, asyncio.IncompleteReadError, ValueError):
                counts[1] += 1
                close = True
            if close and writer is not None:
                writer.close()
                writer = None
        if writer is not None:
            writer.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    lines = head.split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() == "close"


# --- report --------------------------------------------------------------------------------------------


def report(endpoints: list[Endpoint], samples: dict[str, list[Sample]], info: list[str]) -> None:
    base = endpoints[0]
    base_rps = statistics.median(s.rps for s in samples[base.name])
    print()
    for line in info:
        print(line)
    print()
    rows = [("endpoint", "req/s (median)", "per round", "errors", "ratio vs bare", "target", "result")]
    for ep in endpoints:
        got = samples[ep.name]
        rps = statistics.median(s.rps for s in got)
        ratio = rps / base_rps if base_rps else 0.0
        if ep is base:
            target, result = "-", "baseline"
        elif ep.target is None:
            target, result = "-", "info"
        else:
            target, result = f">= {ep.target:.2f}x", "PASS" if ratio >= ep.target else "BELOW"
        rows.append((ep.name, f"{rps:,.0f}", " ".join(f"{s.rps:,.0f}" for s in got), str(sum(s.errors for s in got)),
                     f"{ratio:.2f}x", target, result))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        cells = (c.ljust(w) if i in (0, 2, 6) else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    per_round = []
    for ep in endpoints[1:]:
        ratios = [s.rps / b.rps for s, b in zip(samples[ep.name], samples[base.name], strict=True) if b.rps]
        per_round.append(f"{ep.name} {' '.join(f'{r:.2f}' for r in ratios)}")
    print()
    print("per-round ratios: " + "; ".join(per_round))
    if any(s.errors for got in samples.values() for s in got):
        print("WARNING: some requests failed (non-2xx/3xx or socket errors); their figures are not comparable")


# --- main ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per endpoint per round (default 5)")
    parser.add_argument("--connections", type=int, default=2, help="concurrent connections (default 2)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2, at most --connections)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per endpoint (default 1)")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.duration <= 0 or args.connections < 1:
        parser.error("--rounds, --duration and --connections must be positive")

    sys.path.insert(0, str(REPO))
    from tests.simserver import Sim

    use_wrk = args.loadgen == "wrk" or (args.loadgen == "auto" and shutil.which("wrk"))
    if use_wrk and not shutil.which("wrk"):
        parser.error("wrk not found (apt-get install -y wrk), or use --loadgen python")
    cores = pick_cores()
    tmp = Path(tempfile.mkdtemp(prefix="arm-sim-bench-"))
    sim = Sim(home=tmp / "sim", database_url="")
    baseline: subprocess.Popen[bytes] | None = None
    try:
        print(f"starting arm-sim and the baseline in {tmp} ...", flush=True)
        sim.start()
        baseline, baseline_url = start_baseline(sim.home, sim.ca, tmp / "baseline.log")
        if cores:
            assert sim.proc is not None
            pin(sim.proc.pid, cores[0])
            pin(baseline.pid, cores[0])
        arm_get, token_ep = prepare_sim(sim)
        endpoints = [Endpoint("bare FastAPI GET", baseline_url), arm_get, prepare_put(sim), token_ep]
        for ep in endpoints:
            preflight(ep, sim.ca)

        client_cpu = cores[1] if cores else None
        gen: Wrk | PyLoad
        if use_wrk:
            gen = Wrk(tmp, args.connections, min(args.threads, args.connections), client_cpu)
        else:
            gen = PyLoad(sim.ca, args.connections, client_cpu)
        if args.warmup > 0:
            print(f"warm-up {args.warmup:g} s per endpoint ...", flush=True)
            for ep in endpoints:
                gen.run(ep, args.warmup)
        samples: dict[str, list[Sample]] = {ep.name: [] for ep in endpoints}
        for r in range(1, args.rounds + 1):
            for ep in endpoints:
                s = gen.run(ep, args.duration)
                samples[ep.name].append(s)
                print(f"round {r}/{args.rounds}  {ep.name:<28} {s.rps:>9,.0f} req/s  ({s.requests} requests, "
                      f"{s.errors} errors)", flush=True)
        pinning = (f"servers on cpu {cores[0]}, load generator on cpu {cores[1]}" if cores
                   else "not pinned (needs taskset and 2 cores)")
        report(endpoints, samples, [
            f"load generator: {gen.name}, {args.connections} connections"
            + (f", {gen.threads} threads" if isinstance(gen, Wrk) else ""),
            f"rounds: {args.rounds} x {args.duration:g} s per endpoint, interleaved; medians below",
            f"pinning: {pinning}",
            "servers: arm-sim and bare FastAPI, both uvicorn + uvloop + httptools, HTTPS, one process",
        ])
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        print(f"bench could not run: {e}", file=sys.stderr)
        for log in (sim.home / "server.log", tmp / "baseline.log"):
            if log.exists() and log.stat().st_size:
                print(f"--- {log.name} (tail) ---\n{log.read_text(errors='replace')[-2000:]}", file=sys.stderr)
        return 1
    finally:
        stop_process(baseline)
        sim.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0  # a missed target is reported above, not turned into a failure


if __name__ == "__main__":
    sys.exit(main())
