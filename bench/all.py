"""Issue 18: every ratio of the performance table, from one command, with its band over rounds and PASS/BELOW.

Runs the issue's benchmarks one after the other (each starts its own simulator(s) in a temporary home, pins the
servers to one core and its client to the other, and stops what it started), reads each one's per-round ratios
from its report, and prints one table:

    bench/run.py              ARM GET of a resource / bare GET (HTTPS); ARM PUT of a generic resource / bare GET
    bench/keyvault.py         Key Vault secret GET / bare (HTTPS)
    bench/identity.py         IMDS token from the cache / bare (plain HTTP)          (--only imds)
    bench/peers.py            identity create+delete / moto's IAM cycle, 1 and 4 client threads
    bench/identity.py         VM create+delete slowdown at --large vs 100 existing   (--only cycles)
    bench/deploy.py           template / sequential REST PUTs (time), at each of --deploy sizes

    .venv/bin/python bench/all.py                                    # defaults: about 5 minutes
    .venv/bin/python bench/all.py --rounds 1 --duration 1 --large 1000 --deploy 200   # smoke run (CI)
    make bench-all [ALL_ARGS="..."]                                  # installs moto for bench/peers.py first

`ratio` is the median of the per-round ratios and `band` their range (min-max). The issue's 100,000-resource row
needs `--large 100000` (its populating alone takes minutes). Exit code 0 whether or not a goal is met; 1 when a
benchmark could not run or some of its requests failed (its figures are not comparable). Without moto (see
`make bench-peers`) the two moto rows read NOT MEASURED.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_MOTO_PYTHON = HERE.parent / ".venv" / "peers" / "bin" / "python"


@dataclass
class Row:
    path: str
    op: str  # ">=" (a rate ratio, higher is better) or "<=" (a time or slowdown, lower is better)
    goal: float
    per_round: list[float] = field(default_factory=list)
    note: str = ""

    def cells(self) -> tuple[str, str, str, str, str, str]:
        goal = f"{self.op} {self.goal:g}x"
        if not self.per_round:
            return self.path, goal, "-", "-", "0", self.note or "NOT MEASURED"
        ratio = statistics.median(self.per_round)
        band = f"{min(self.per_round):.2f}-{max(self.per_round):.2f}x"
        met = ratio >= self.goal if self.op == ">=" else ratio <= self.goal
        return (self.path, goal, f"{ratio:.2f}x", band, str(len(self.per_round)),
                self.note or ("PASS" if met else "BELOW"))


@dataclass
class Step:
    title: str
    argv: list[str]
    rows: list[tuple[Row, str]]  # (row, the label of its ratio in the script's report)
    output: str = ""
    failed: str = ""


def _ratios(output: str, label: str) -> list[float]:
    """The per-round ratios a script printed for `label`: from a comparison table (bench/common.report,
    bench/peers.py: `label  0.49x  0.54 0.44  >= 0.40x  PASS`) or run.py's `per-round ratios: label 0.55 0.56; …`."""
    for line in output.splitlines():
        if line.startswith("per-round ratios:"):
            for part in line[len("per-round ratios:"):].split(";"):
                name, _, numbers = part.strip().rpartition(" ")
                while name and re.fullmatch(r"[\d.]+", name.rpartition(" ")[2]):  # several rounds: peel them all
                    name, _, more = name.rpartition(" ")
                    numbers = f"{more} {numbers}"
                if name == label:
                    return [float(x) for x in numbers.split()]
        if line.startswith(label):  # the label's cell may go on past `label` (identity.py's "(rate @100 / …)")
            cells = re.split(r"\s{2,}", line.strip())
            at = next((i for i, c in enumerate(cells) if i and re.fullmatch(r"[\d.]+x", c)), None)
            rounds = cells[at + 1].split() if at is not None and at + 1 < len(cells) else []
            if rounds and all(re.fullmatch(r"[\d.]+", x) for x in rounds):  # (run.py's table: a target there)
                return [float(x) for x in rounds]
    return []


def _run(step: Step, env: dict[str, str]) -> None:
    print(f"\n===== {step.title}: {' '.join(step.argv[1:])}", flush=True)
    started = time.monotonic()
    proc = subprocess.Popen(step.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        print("    " + line, end="", flush=True)
        lines.append(line)
    rc = proc.wait()
    step.output = "".join(lines)
    print(f"      ({time.monotonic() - started:.0f} s, exit {rc})", flush=True)
    if rc != 0:
        step.failed = f"ERROR (exit {rc})"
    elif "WARNING: some" in step.output:
        step.failed = "ERROR (requests failed)"
    for row, label in step.rows:
        if "NOT MEASURED" in step.output and not step.failed:
            row.note = "NOT MEASURED"
            continue
        row.per_round = _ratios(step.output, label)
        if step.failed:
            row.note = step.failed
        elif not row.per_round:
            row.note = "ERROR (no ratio in the output)"
            step.failed = row.note


def steps(args: argparse.Namespace) -> tuple[list[Step], list[Row]]:
    """The benchmarks to run, and every row of the table in the issue's order."""
    py, load = sys.executable, ["--rounds", str(args.rounds), "--duration", f"{args.duration:g}"]
    if args.loadgen:
        load += ["--loadgen", args.loadgen]
    arm_get = Row("ARM GET of a resource / bare FastAPI GET (HTTPS)", ">=", 0.9)
    arm_put = Row("ARM PUT of a generic resource / bare GET", ">=", 0.25)
    secret = Row("Key Vault secret GET / bare (HTTPS)", ">=", 0.8)
    imds = Row("IMDS token from the cache / bare (plain HTTP)", ">=", 0.9)
    moto1 = Row("user-assigned identity create+delete / moto IAM cycle, 1 client thread", ">=", 2.0)
    moto4 = Row("the same, 4 client threads", ">=", 5.0)
    slow = Row(f"VM (SystemAssigned) create+delete slowdown, {args.large:,} vs 100 existing", "<=", 1.3)
    deploys: list[Row] = []
    out = [
        Step("ARM GET and PUT", [py, str(HERE / "run.py"), *load],
             [(arm_get, "ARM GET resource"), (arm_put, "ARM PUT generic resource")]),
        Step("Key Vault secret GET", [py, str(HERE / "keyvault.py"), *load], [(secret, "secret GET / bare")]),
        Step("IMDS token from the cache", [py, str(HERE / "identity.py"), "--only", "imds", *load],
             [(imds, "IMDS token, cached / bare")]),
    ]
    moto_python = Path(args.moto_python)
    if moto_python.exists():
        out.append(Step("identity cycle vs moto", [py, str(HERE / "peers.py"), "--moto-python", str(moto_python),
                                                   "--rounds", str(args.rounds), "--duration", f"{args.duration:g}"],
                        [(moto1, "identity cycle vs moto IAM cycle, 1 client thread"),
                         (moto4, "identity cycle vs moto IAM cycle, 4 client threads")]))
    else:
        moto1.note = moto4.note = "NOT MEASURED (no moto: make bench-peers)"
    out.append(Step("VM create+delete at scale",
                    [py, str(HERE / "identity.py"), "--only", "cycles", "--large", str(args.large), *load],
                    [(slow, f"slowdown at {args.large:,}")]))
    for size in args.deploy:
        row = Row(f"{size:,}-resource template / {size:,} sequential REST PUTs (time)", "<=", 0.5)
        rounds = args.rounds if size <= 200 else max(1, min(args.rounds, 2))
        out.append(Step(f"template of {size:,} resources", [py, str(HERE / "deploy.py"), "--rounds", str(rounds),
                                                           "--resources", str(size)],
                        [(row, "deployment time / REST PUTs time")]))
        deploys.append(row)
    return out, [arm_get, secret, imds, arm_put, moto1, moto4, slow, *deploys]


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i in (0, 5) else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of each benchmark (default 3)")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per measurement (default 2)")
    parser.add_argument("--large", type=int, default=10_000,
                        help="existing resources for the scale row (default 10000; the issue's goal is at 100000)")
    parser.add_argument("--deploy", type=lambda s: [int(x) for x in s.split(",")], default=[200, 1000],
                        help="template sizes, comma-separated (default 200,1000)")
    parser.add_argument("--moto-python", default=str(DEFAULT_MOTO_PYTHON),
                        help="a Python with moto[server] and boto3 (default .venv/peers/bin/python)")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), help="passed to the load-driven benches")
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARM_SIM_")}
    started = time.monotonic()
    all_steps, all_rows = steps(args)
    for step in all_steps:
        _run(step, env)
    printed = [("path (arm-sim / reference)", "goal", "ratio", "band", "rounds", "result")]
    printed += [row.cells() for row in all_rows]
    elapsed = time.monotonic() - started
    print(f"\nissue 18 performance table: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cpus "
          f"(nproc {len(os.sched_getaffinity(0))}), {platform.machine()}, Python {platform.python_version()}, "
          f"{args.rounds} rounds x {args.duration:g} s, {elapsed:.0f} s in all")
    print(table(printed))
    failed = [s for s in all_steps if s.failed]
    for s in failed:
        print(f"\n{s.title}: {s.failed}; its output ends:\n{s.output[-1500:]}")
    return 1 if failed else 0  # BELOW is reported, not a failure


if __name__ == "__main__":
    sys.exit(main())
