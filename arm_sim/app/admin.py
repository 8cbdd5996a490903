"""Offline administration used by the CLI: env exports, clock changes, reset, OpenAPI documents."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from sqlalchemy import text

from arm_sim.app import create_apps, prepare
from arm_sim.core import ids
from arm_sim.core.settings import Settings
from arm_sim.db.engine import make_engine
from arm_sim.db.models import Base
from arm_sim.domain import clock, events, identity_endpoints, identity_tokens, managed_identities, tenancy, vaults
from arm_sim.domain.context import Ctx

VM_TYPE = "microsoft.compute/virtualmachines"
SITE_TYPE = "microsoft.web/sites"
# What a process inside a VM or site must not inherit: other credentials would win over the managed identity
# (DefaultAzureCredential tries the environment first, and reads AZURE_CLIENT_ID as the identity's client id).
NOT_INSIDE = ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_CLIENT_CERTIFICATE_PATH",
              "AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE",
              "AZURE_POD_IDENTITY_AUTHORITY_HOST", "IDENTITY_ENDPOINT", "IDENTITY_HEADER",
              "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET", "ARM_SIM_CLIENT_ID",
              "ARM_SIM_CLIENT_SECRET")


class CommandError(Exception):
    """A command that cannot do what was asked; the CLI prints the message."""


def _identity_env(ctx: Ctx, settings: Settings, subscription: str, vm: str | None, site: str | None,
                  resource_group: str | None) -> dict[str, str]:
    """AZURE_POD_IDENTITY_AUTHORITY_HOST for a VM, IDENTITY_ENDPOINT + IDENTITY_HEADER for a site."""
    kind, name, type_key = ("VM", vm, VM_TYPE) if vm else ("site", site, SITE_TYPE)
    assert name is not None
    found = identity_tokens.find_resource(ctx, subscription, type_key, name, resource_group)
    where = f" in resource group '{resource_group}'" if resource_group else ""
    if not found:
        raise CommandError(f"No {kind} named '{name}'{where} in subscription {subscription}.")
    if len(found) > 1:
        groups = ", ".join(sorted(ids.parse(r.id).resource_group or "" for r in found))
        raise CommandError(f"{len(found)} {kind}s are named '{name}' (resource groups {groups}): add -g RG.")
    row = identity_endpoints.for_resource(ctx, found[0].id)
    if row is None:
        raise CommandError(f"The {kind} '{found[0].id}' has no identity endpoint registered.")
    if row.kind == "site":
        return {"IDENTITY_ENDPOINT": f"{settings.imds_url}/sites/{row.key}/msi/token",
                "IDENTITY_HEADER": row.secret or ""}
    return {"AZURE_POD_IDENTITY_AUTHORITY_HOST": f"{settings.imds_url}/vms/{row.key}"}


def env_values(settings: Settings, vm: str | None = None, site: str | None = None,
               resource_group: str | None = None) -> dict[str, str]:
    runtime = prepare(settings)
    with runtime.unit() as ctx:
        boot = tenancy.current_bootstrap(ctx)
        assert boot is not None
        ca = str((settings.home / "ca.pem").resolve())
        bundle = str((settings.home / "ca-bundle.pem").resolve())
        inside = _identity_env(ctx, settings, boot.subscription_id, vm, site, resource_group) if vm or site else {}
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
        } | inside


def exec_env(settings: Settings, vm: str | None, site: str | None, resource_group: str | None,
             base: dict[str, str]) -> dict[str, str]:
    """The environment of a command run "inside" a VM or site: its identity endpoint, the CA bundle and where
    the simulator is, and none of the deployer's (or any other) credentials."""
    values = env_values(settings, vm, site, resource_group)
    env = {k: v for k, v in base.items() if k not in NOT_INSIDE}
    keep = ("AZURE_POD_IDENTITY_AUTHORITY_HOST", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "REQUESTS_CA_BUNDLE",
            "ARM_SIM_URL", "ARM_SIM_CA", "ARM_SIM_TENANT", "ARM_SIM_SUBSCRIPTION", "ARM_SIM_IMDS_URL")
    env.update({k: values[k] for k in keep if k in values})
    return env


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
            managed_identities.sweep(ctx)  # certificates roll or expire as the clock passes their ages
            vaults.purge_expired(ctx)  # soft-deleted vaults past retention are purged
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
