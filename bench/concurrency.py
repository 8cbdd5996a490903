"""Issue 11 benchmark: the mixed concurrency run of tests/test_concurrency.py, longer and configurable.

--clients threads (default 16), each with one keep-alive HTTPS connection to one server process (round-robin),
run for --duration seconds (default 30): PUTs creating generic resources, GETs, DELETEs of their own resources, and
increments of a counter tag on --shared resources (default 4) that every client shares: GET (etag and counter),
PATCH tags {counter: n+1} with If-Match, and on 412 read again and retry. Afterwards every shared counter is read
back; an increment answered 200 that the final counter does not hold is a lost update.

Servers: one `arm-sim serve` on SQLite in a temporary home by default; --servers N starts N processes on the same
database (on SQLite the same file). --database-url postgresql+psycopg://user@host:port/db points them at that
PostgreSQL server instead (a fresh database is created for the run and dropped afterwards; 2 processes by default).
The workload is tests/concurrency_load.py's, the same as the test's.

Targets: 0 answers >= 500, 0 lost updates, 0 "database is locked", 0 requests without an answer. Throughput, 412
retries and latency p50/p99 are reported only.

    .venv/bin/python bench/concurrency.py [--duration 30] [--clients 16] [--servers N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import Workspace, fmt, main, table

REPO = Path(__file__).resolve().parents[1]


def run(args: argparse.Namespace, ws: Workspace) -> None:
    sys.path.insert(0, str(REPO))
    from tests.concurrency_load import (
        LOCKED,
        MixConfig,
        create_database,
        drop_database,
        mixed_run,
        start_servers,
        stop_servers,
    )

    count = args.servers or (2 if args.database_url else 1)
    database = create_database(args.database_url) if args.database_url else ""
    where = f"PostgreSQL database {database.rsplit('/', 1)[1]} (fresh)" if database else "SQLite (one file)"
    servers = []
    try:
        print(f"starting {count} arm-sim process(es) on {where} (ARM_SIM_LRO=sync) ...", flush=True)
        servers = start_servers(ws.tmp / "sim", count, database, ARM_SIM_LRO="sync")
        ws.sims.extend(servers)
        pinning = ws.pin() if args.pin else "not pinned (--no-pin)"
        config = MixConfig(clients=args.clients, duration=args.duration, shared=args.shared, seed=args.seed)
        print(f"{args.clients} clients for {args.duration:g} s ...", flush=True)
        result = mixed_run(servers, config)
    finally:
        stop_servers(servers)
        if database:
            drop_database(args.database_url, database)

    t = result.tally

    def verdict(n: int) -> str:
        return "PASS" if n == 0 else "MISS"

    print()
    print(f"servers: {count} arm-sim process(es) on {where}; pinning: {pinning}")
    print(f"clients: {args.clients} threads, one keep-alive HTTPS connection each, round-robin over the servers; "
          f"{args.shared} shared counters")
    print("operations: " + ", ".join(f"{k} {v}" for k, v in sorted(t.ops.items()))
          + f"; statuses: {dict(sorted(t.statuses.items()))}")
    print()
    rows = [("measured", "value", "target", "result"),
            ("requests", f"{t.requests:,} ({t.requests / result.elapsed:,.0f} req/s over {result.elapsed:.1f} s)",
             "-", "info"),
            ("answers >= 500", str(t.server_error_count), "0", verdict(t.server_error_count)),
            ("lost updates", str(result.lost_updates), "0", verdict(result.lost_updates)),
            ("phantom updates", str(result.phantom_updates), "0", verdict(result.phantom_updates)),
            (f"'{LOCKED}' in answers", str(t.locked), "0", verdict(t.locked)),
            ("requests without an answer", str(len(t.transport_errors)), "0", verdict(len(t.transport_errors))),
            ("other unexpected answers", str(t.unexpected_count), "-", "info"),
            ("increments acknowledged", str(sum(t.increments.values())), "-", "info"),
            ("412 answers (then retried)", str(t.conflicts), "-", "info"),
            ("latency p50", f"{fmt(result.percentile(0.5) * 1000)} ms", "-", "info"),
            ("latency p99", f"{fmt(result.percentile(0.99) * 1000)} ms", "-", "info"),
            ("latency max", f"{fmt(max(t.latencies, default=0) * 1000)} ms", "-", "info")]
    table(rows, {0, 1, 3})
    print()
    print("per shared counter: " + ", ".join(f"{k} {t.increments[k]} acknowledged -> {v}"
                                            for k, v in sorted(result.final.items())))
    for label, samples in (("5xx", t.server_errors), ("no answer", t.transport_errors),
                           ("unexpected", t.unexpected)):
        for s in samples[:3]:
            print(f"{label}: {s}")


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load (default 30)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--shared", type=int, default=4, help="shared counter resources (default 4)")
    parser.add_argument("--servers", type=int, default=0,
                        help="server processes on the one database (default 1 on SQLite, 2 with --database-url)")
    parser.add_argument("--database-url", default="",
                        help="a PostgreSQL server (postgresql+psycopg://user@host:port/db): a fresh database is made "
                             "on it for the run and dropped afterwards; default SQLite in a temporary home")
    parser.add_argument("--seed", type=int, default=11, help="random seed of the clients' choices (default 11)")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="do not pin servers and clients to separate cores")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.shared < 1 or args.servers < 0:
        parser.error("--clients and --shared must be positive, --servers at least 0")
    return main("concurrency", parser, run, argv)


if __name__ == "__main__":
    sys.exit(cli())
