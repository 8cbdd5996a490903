"""Issue 18, point 2: the identity cycle against moto's IAM cycle, same run, same machine.

- arm-sim: a user-assigned identity created and deleted through the Azure SDK for Python
  (`ManagedServiceIdentityClient.user_assigned_identities.create_or_update` + `.delete`, ARM_SIM_LRO=sync): 2 calls.
- moto: moto's own server (`python -m moto.server`, the `moto_server` command) serving AWS IAM, driven through boto3:
  create_role, create_instance_profile, add_role_to_instance_profile, remove_role_from_instance_profile,
  delete_instance_profile, delete_role: 6 calls.

One cycle is one of those sequences; each side is measured in cycles per second with 1 and with 4 client threads (one
SDK client per thread, keep-alive, no retries), in interleaved rounds: arm-sim 1 thread, moto 1 thread, arm-sim 4
threads, moto 4 threads, with the order of the pair swapped every other round. Targets (issue 18): arm-sim >= 2x moto
with one thread, >= 5x with four.

moto and boto3 are bench-only: `make bench-peers` installs them (pinned in the Makefile) into a venv of their own
(`.venv/peers`), so they never meet the simulator's dependencies. The moto server and the boto3 client run on that
venv's Python (`--moto-python`); the simulator and the Azure SDK client on this one. Each side's client is a long-lived
worker process driven over a pipe, so client start-up and imports are never timed.

Servers (the simulator with its child processes, and moto) are pinned to one core, both client workers to the other,
as in the other benches. moto is served over plain HTTP as it ships (the Azure SDK will not send a bearer token
without TLS, so arm-sim is HTTPS); `--moto-tls` serves moto over HTTPS with the simulator's certificate instead, which
costs moto a TLS handshake per call (its werkzeug server answers `Connection: close` every time). The
report also gives each server's CPU time per cycle (its whole process tree) and how busy the client core was: a client
core near 100% means the figure is bounded by the client, not the server.

    make bench-peers                                  # = .venv/bin/python bench/peers.py --moto-python .venv/peers/...
    make bench-peers PEERS_ARGS="--rounds 1 --duration 1"   # smoke run (well under a minute)

Exit code 0 whether or not a target is met; 1 only when the benchmark could not run (e.g. moto is not installed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from importlib.metadata import version
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DEFAULT_MOTO_PYTHON = REPO / ".venv" / "peers" / "bin" / "python"
THREADS = (1, 4)
TARGETS = {1: 2.0, 4: 5.0}  # arm-sim cycles/s >= target x moto cycles/s
MSI_CALLS, IAM_CALLS = 2, 6
GROUP = "peers"

ASSUME_ROLE = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


# --- worker: one side's client, in its own process (run by this venv for arm-sim, by the peers venv for moto) ----


def _azure_clients(cfg: dict[str, Any], n: int) -> list[Any]:
    from azure.identity import ClientSecretCredential
    from azure.mgmt.msi import ManagedServiceIdentityClient

    cred = ClientSecretCredential(cfg["tenant"], cfg["client_id"], cfg["client_secret"], authority=cfg["url"],
                                  disable_instance_discovery=True, connection_verify=cfg["ca"])
    return [ManagedServiceIdentityClient(cred, cfg["subscription"], base_url=cfg["url"],
                                         credential_scopes=[cfg["scope"]], connection_verify=cfg["ca"],
                                         retry_total=0) for _ in range(n)]


def _azure_cycle(client: Any, cfg: dict[str, Any], name: str) -> None:
    ops = client.user_assigned_identities
    got = ops.create_or_update(cfg["group"], name, {"location": "eastus"})
    if not got.principal_id:
        raise RuntimeError(f"identity {name} created without a principal id")
    ops.delete(cfg["group"], name)


def _moto_clients(cfg: dict[str, Any], n: int) -> list[Any]:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "total_max_attempts": 1}, max_pool_connections=2)
    return [boto3.session.Session().client(
        "iam", endpoint_url=cfg["url"], region_name="us-east-1", aws_access_key_id="testing",
        aws_secret_access_key="testing", verify=cfg.get("ca") or False, config=config) for _ in range(n)]


def _moto_cycle(iam: Any, cfg: dict[str, Any], name: str) -> None:
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=ASSUME_ROLE)
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=name)
    iam.delete_instance_profile(InstanceProfileName=name)
    iam.delete_role(RoleName=name)


def _run_threads(clients: list[Any], cycle: Any, cfg: dict[str, Any], threads: int, seconds: float) -> dict[str, Any]:
    """`threads` threads, each on its own client, doing cycles until the deadline: totals over all threads."""
    counts = [[0, 0] for _ in range(threads)]  # done, errors per thread
    first_error: list[str] = []
    gate = threading.Barrier(threads + 1)
    deadline = [0.0]
    tag = uuid.uuid4().hex[:8]

    def loop(i: int) -> None:
        gate.wait()
        n = 0
        while time.monotonic() < deadline[0]:
            n += 1
            try:
                cycle(clients[i], cfg, f"peer-{tag}-{i}-{n}")
                counts[i][0] += 1
            except Exception as e:  # counted and reported, the run goes on
                counts[i][1] += 1
                if not first_error:
                    first_error.append(f"{type(e).__name__}: {str(e)[:300]}")
                if counts[i][1] > 20 and counts[i][1] > counts[i][0]:
                    return  # failing throughout: stop hammering

    workers = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    cpu0, start = time.process_time(), time.monotonic()
    deadline[0] = start + seconds
    gate.wait()
    for w in workers:
        w.join()
    elapsed, cpu = time.monotonic() - start, time.process_time() - cpu0
    done, errors = sum(c[0] for c in counts), sum(c[1] for c in counts)
    return {"cycles": done, "errors": errors, "elapsed": elapsed, "rate": done / elapsed, "client_cpu": cpu,
            "first_error": first_error[0] if first_error else ""}


def worker(side: str, cfg: dict[str, Any]) -> int:
    """Reads `<threads> <seconds>` lines from stdin, answers one JSON line each on stdout; ends at EOF."""
    make, cycle = (_azure_clients, _azure_cycle) if side == "azure" else (_moto_clients, _moto_cycle)
    clients = make(cfg, max(THREADS))
    dists = ("azure-mgmt-msi", "azure-identity", "azure-core") if side == "azure" else ("moto", "boto3", "botocore")
    versions = {dist: version(dist) for dist in dists}
    print(json.dumps({"ready": True, "versions": versions}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        threads, seconds = line.split()
        print(json.dumps(_run_threads(clients, cycle, cfg, int(threads), float(seconds))), flush=True)
    return 0


# --- driver ------------------------------------------------------------------------------------------------------


class Worker:
    """A worker process and the pipe to it."""

    def __init__(self, python: str, side: str, cfg: dict[str, Any], log: Path, ws: Any) -> None:
        self.side, self.log = side, log
        with open(log, "ab") as err:
            self.proc = subprocess.Popen([python, str(Path(__file__).resolve()), "--worker", side,
                                          "--worker-config", json.dumps(cfg)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
                                         bufsize=1)
        ws.procs.append((self.proc, log))  # stopped by the workspace, also on errors
        self.versions: dict[str, str] = self._answer()["versions"]

    def _answer(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.side} client worker exited: {self.log.read_text(errors='replace')[-3000:]}")
        return json.loads(line)

    def run(self, threads: int, seconds: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{threads} {seconds}\n")
        self.proc.stdin.flush()
        return self._answer()


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its descendants, from /proc (0 where it cannot be read)."""
    from arm_sim.testing.server import descendants

    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in (pid, *descendants(pid)):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def start_moto(ws: Any, python: str, tls_from: Any | None) -> tuple[str, int]:
    """moto's server (the `moto_server` command) on a free port of 127.0.0.1; returns its URL and pid."""
    import httpx
    from common import stop_process
    from run import free_port

    port, log = free_port(), ws.tmp / "moto.log"
    cmd = [python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    if tls_from is not None:
        cmd += ["-c", str(tls_from.home / "server.pem"), "-k", str(tls_from.home / "server-key.pem")]
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    ws.procs.append((proc, log))
    url = f"{'https' if tls_from is not None else 'http'}://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            httpx.get(f"{url}/moto-api/", verify=tls_from.ca if tls_from is not None else False, timeout=1)
            return url, proc.pid
        except (httpx.HTTPError, OSError):
            time.sleep(0.2)
    stop_process(proc)
    raise RuntimeError("moto_server did not answer in 60 s")


def run(args: argparse.Namespace, ws: Any) -> None:
    from common import Series, arm, ensure_ok, fmt, table, to_loopback

    from arm_sim.testing.server import ARM_SCOPE

    moto_python = str(args.moto_python)
    if not Path(moto_python).exists():
        raise RuntimeError(f"{moto_python} not found: `make bench-peers` creates that venv with moto and boto3, "
                           "or name another Python that has them with --moto-python")
    print("starting arm-sim (ARM_SIM_LRO=sync) and moto_server ...", flush=True)
    sim = ws.sim("sim", ARM_SIM_LRO="sync")
    url = to_loopback(sim.url)
    with arm(sim) as c:
        ensure_ok(c.put(f"/subscriptions/{sim.subscription}/resourcegroups/{GROUP}",
                        params={"api-version": "2025-04-01"}, json={"location": "eastus"}), "resource group")
    moto_url, moto_pid = start_moto(ws, moto_python, sim if args.moto_tls else None)
    pinning = ws.pin()  # the workers started below inherit the client core from this process
    assert sim.proc is not None
    servers = {"azure": sim.proc.pid, "moto": moto_pid}
    azure = Worker(sys.executable, "azure", {
        "url": url, "ca": sim.ca, "tenant": sim.tenant, "client_id": sim.client_id,
        "client_secret": sim.client_secret, "subscription": sim.subscription, "scope": ARM_SCOPE, "group": GROUP},
        ws.tmp / "worker-azure.log", ws)
    moto = Worker(moto_python, "moto", {"url": moto_url, "ca": sim.ca if args.moto_tls else ""},
                  ws.tmp / "worker-moto.log", ws)
    sides = {"azure": azure, "moto": moto}
    label = {"azure": "arm-sim identity create+delete", "moto": "moto IAM role+profile cycle"}

    if args.warmup > 0:
        print(f"warm-up {args.warmup:g} s per side and thread count ...", flush=True)
        for threads in THREADS:
            for side, w in sides.items():
                got = w.run(threads, args.warmup)
                if got["cycles"] == 0:
                    raise RuntimeError(f"{label[side]}: no cycle succeeded in the warm-up: {got['first_error']}")
    rates: dict[tuple[str, int], Series] = {(s, t): Series(f"{label[s]}, {t} thread{'s' * (t > 1)}", "cycles/s", [])
                                            for t in THREADS for s in sides}
    server_ms: dict[tuple[str, int], list[float]] = {k: [] for k in rates}
    client_busy: dict[tuple[str, int], list[float]] = {k: [] for k in rates}
    errors_seen: dict[tuple[str, int], str] = {}
    print(f"{args.rounds} rounds x {args.duration:g} s per side and thread count, interleaved ...", flush=True)
    for r in range(1, args.rounds + 1):
        for threads in THREADS:
            order = ("azure", "moto") if r % 2 else ("moto", "azure")
            for side in order:
                cpu0 = tree_cpu(servers[side])
                got = sides[side].run(threads, args.duration)
                cpu = tree_cpu(servers[side]) - cpu0
                key = (side, threads)
                rates[key].values.append(got["rate"])
                rates[key].errors += got["errors"]
                if got["cycles"]:
                    server_ms[key].append(1000 * cpu / got["cycles"])
                client_busy[key].append(100 * got["client_cpu"] / got["elapsed"])
                if got["first_error"]:
                    errors_seen.setdefault(key, got["first_error"])
                print(f"round {r}/{args.rounds}  {rates[key].name:<44} {got['rate']:>8.1f} cycles/s  "
                      f"({got['cycles']} cycles, {got['errors']} errors)", flush=True)

    med = statistics.median
    print()
    for line in [
        f"arm-sim: {args.duration:g} s x {args.rounds} rounds per figure, interleaved; medians; "
        f"Azure SDK {', '.join(f'{k} {v}' for k, v in azure.versions.items())}, HTTPS, ARM_SIM_LRO=sync",
        f"moto: python -m moto.server (moto_server), {'HTTPS' if args.moto_tls else 'plain HTTP'}; "
        f"{', '.join(f'{k} {v}' for k, v in moto.versions.items())}",
        f"a cycle: arm-sim {MSI_CALLS} calls (PUT + DELETE), moto {IAM_CALLS} calls; one SDK client per thread, "
        "keep-alive, no retries",
        f"pinning: {pinning}",
    ]:
        print(line)
    print()
    rows = [("measured", "cycles/s", "per round", "calls/s", "errors", "server CPU ms/cycle", "client core busy")]
    for key, s in rates.items():
        calls = MSI_CALLS if key[0] == "azure" else IAM_CALLS
        rows.append((s.name, fmt(s.median), " ".join(fmt(v) for v in s.values), fmt(s.median * calls), str(s.errors),
                     f"{med(server_ms[key]):.1f}" if server_ms[key] else "-",
                     f"{med(client_busy[key]):.0f}%"))
    table(rows, {0, 2})
    print()
    crows = [("comparison (arm-sim / moto, cycles/s)", "ratio", "per round", "target", "result")]
    for threads in THREADS:
        a, m = rates[("azure", threads)], rates[("moto", threads)]
        per = [x / y for x, y in zip(a.values, m.values, strict=True) if y]
        ratio = med(per) if per else float("nan")
        target = TARGETS[threads]
        crows.append((f"identity cycle vs moto IAM cycle, {threads} client thread{'s' * (threads > 1)}",
                      f"{ratio:.2f}x", " ".join(f"{x:.2f}" for x in per), f">= {target:.2f}x",
                      "PASS" if ratio >= target else "BELOW"))
    for threads in THREADS:  # CPU time per cycle moves less than rates when something else loads the machine
        a_ms, m_ms = server_ms[("azure", threads)], server_ms[("moto", threads)]
        per = [m / a for a, m in zip(a_ms, m_ms, strict=False) if a]
        if per:
            crows.append((f"server CPU per cycle, moto / arm-sim, {threads} client thread{'s' * (threads > 1)}",
                          f"{med(per):.2f}x", " ".join(f"{x:.2f}" for x in per), "-", "info"))
    table(crows, {0, 2, 4})
    if errors_seen:
        print("\nWARNING: some cycles failed; their figures are not comparable. First error of each:")
        for (side, threads), msg in errors_seen.items():
            print(f"  {label[side]}, {threads} thread(s): {msg}")


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--duration", type=float, default=5.0,
                        help="seconds per side and thread count per round (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="seconds of warm-up per side and thread count (default 1; 0: none)")
    parser.add_argument("--moto-python", type=Path, default=DEFAULT_MOTO_PYTHON,
                        help="a Python with moto[server] and boto3 (default .venv/peers/bin/python, made by "
                             "`make bench-peers`)")
    parser.add_argument("--moto-tls", action="store_true",
                        help="moto over HTTPS with the simulator's certificate (default: plain HTTP, as it ships)")
    parser.add_argument("--worker", choices=("azure", "moto"), help=argparse.SUPPRESS)
    parser.add_argument("--worker-config", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, json.loads(args.worker_config))
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    from common import main  # the driver only: the moto venv has neither httpx nor arm_sim

    return main("peers", parser, run, argv)


if __name__ == "__main__":
    sys.exit(cli())
