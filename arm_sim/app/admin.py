"""Offline administration used by the CLI: env exports, clock changes, reset, OpenAPI documents."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from sqlalchemy import text

from arm_sim.app import create_apps, prepare
from arm_sim.core.settings import Settings
from arm_sim.db.engine import make_engine
from arm_sim.db.models import Base
from arm_sim.domain import clock, events, tenancy


def env_values(settings: Settings) -> dict[str, str]:
    runtime = prepare(settings)
    with runtime.unit() as ctx:
        boot = tenancy.current_bootstrap(ctx)
        assert boot is not None
        ca = str((settings.home / "ca.pem").resolve())
        bundle = str((settings.home / "ca-bundle.pem").resolve())
        return {
            "ARM_SIM_URL": settings.public_url,
            "ARM_SIM_CA": ca,
            "ARM_SIM_TENANT": boot.tenant_id,
            "ARM_SIM_CLIENT_ID": boot.client_id,
            "ARM_SIM_CLIENT_SECRET": boot.client_secret,
            "ARM_SIM_SUBSCRIPTION": boot.subscription_id,
            "ARM_SIM_IMDS_URL": settings.imds_url,
            "AZURE_TENANT_ID": boot.tenant_id,
            "AZURE_CLIENT_ID": boot.client_id,
            "AZURE_CLIENT_SECRET": boot.client_secret,
            "AZURE_SUBSCRIPTION_ID": boot.subscription_id,
            "AZURE_AUTHORITY_HOST": settings.public_url,
            "REQUESTS_CA_BUNDLE": bundle,
        }


def format_env(values: dict[str, str], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(values, indent=2)
    if fmt == "dotenv":
        return "\n".join(f"{k}={v}" for k, v in values.items())
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in values.items())


def clock_command(settings: Settings, action: str, duration: str | None) -> dict[str, Any]:
    runtime = prepare(settings)
    with runtime.unit() as ctx:
        if action == "advance":
            clock.advance(ctx.session, clock.parse_duration(duration or ""))
            ctx.now = clock.now(ctx.session)
            events.record(ctx, "clock.advanced", "/_sim/clock", by=duration)
        elif action == "freeze":
            clock.freeze(ctx.session)
        elif action == "unfreeze":
            clock.unfreeze(ctx.session)
        return clock.state(ctx.session)


def reset(settings: Settings) -> None:
    """Forget every resource, principal and event; keep the TLS files. Bootstrap ids pinned by settings stay."""
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
