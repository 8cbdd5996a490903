"""Offline administration used by the CLI: clock changes without a server, reset, OpenAPI documents.

(`env`, `exec`, `deploy` and, with a server running, `clock` talk to the server instead: cli/client.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import text

from arm_sim.app import create_apps, prepare
from arm_sim.app.home_lock import HomeInUse, home_lock

__all__ = ["HomeInUse", "clock_command", "reset", "write_openapi"]
from arm_sim.core.settings import Settings
from arm_sim.db.engine import make_engine
from arm_sim.db.models import Base
from arm_sim.domain import clock, events, managed_identities, vaults


def clock_command(settings: Settings, action: str, duration: str | None) -> dict[str, Any]:
    runtime = prepare(settings)
    with runtime.unit() as ctx:
        if action == "advance":
            clock.advance(ctx.session, clock.parse_duration(duration or ""))
            ctx.now = clock.now(ctx.session)
            events.record(ctx, "clock.advanced", "/_sim/clock", by=duration)
            managed_identities.sweep(ctx)  # certificates roll or expire as the clock passes their ages
            vaults.purge_expired(ctx)  # soft-deleted vaults past retention are purged
        elif action == "freeze":
            clock.freeze(ctx.session)
        elif action == "unfreeze":
            clock.unfreeze(ctx.session)
        return clock.state(ctx.session)


def reset(settings: Settings) -> None:
    """Forget every resource, principal and event; keep the TLS files. Bootstrap ids pinned by settings stay.
    Refused while a server holds the home's lock (unlinking SQLite files under its open connections would lose
    every write it acknowledges afterwards): reset a running server through it (`POST /_sim/reset`)."""
    with home_lock(settings.home, wait=False):
        _reset(settings)


def _reset(settings: Settings) -> None:
    url = settings.db_url
    if url.startswith("sqlite"):
        db = Path(url.split("///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
    else:
        engine = make_engine(url)
        Base.metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()
    prepare(settings)


def write_openapi(settings: Settings, out: Path) -> list[Path]:
    apps = create_apps(settings)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, app in (("main", apps.main), ("identity", apps.identity), ("vaults", apps.vaults)):
        path = out / f"{name}.json"
        path.write_text(json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
