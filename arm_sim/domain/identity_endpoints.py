"""Identity endpoints: the per-VM IMDS and per-site App Service addresses that hand out tokens.

Providers register one when a VM or site is created and remove it when the resource goes, in the same
transaction, so a deleted VM's endpoint answers "Identity not found" at once.

A VM's endpoint is keyed by a random secret of its own (`/vms/{vmKey}`), never by its `vmId`: `vmId` is public
(any reader of the VM sees it), and in Azure only code inside the VM reaches its IMDS. The key is handed out
only to whoever runs as the VM (`arm-sim env/exec --vm`, the bootstrap-only `/_sim/imds-endpoint`).
"""

from __future__ import annotations

import secrets

from sqlalchemy import delete, select

from arm_sim.db.models import IdentityEndpoint
from arm_sim.domain.context import Ctx

VM_KEY_BYTES = 32  # token_urlsafe(32): 43 url-safe characters, 256 random bits


def new_vm_key() -> str:
    return secrets.token_urlsafe(VM_KEY_BYTES)


def register(ctx: Ctx, key: str, kind: str, resource_id: str) -> IdentityEndpoint:
    row = ctx.session.get(IdentityEndpoint, key)
    if row is None:
        row = IdentityEndpoint(key=key, kind=kind, resource_key=resource_id.lower(), created_at=ctx.now,
                               secret=secrets.token_hex(16) if kind == "site" else None)
        ctx.session.add(row)
    return row


def register_vm(ctx: Ctx, resource_id: str) -> IdentityEndpoint:
    """The VM's endpoint: the one it has (an update keeps its key), else a new one with a fresh secret key."""
    row = for_resource(ctx, resource_id)
    if row is not None and row.kind == "vm":
        return row
    return register(ctx, new_vm_key(), "vm", resource_id)


def unregister(ctx: Ctx, resource_id: str) -> None:
    ctx.session.execute(delete(IdentityEndpoint).where(IdentityEndpoint.resource_key == resource_id.lower()))


def get(ctx: Ctx, key: str) -> IdentityEndpoint | None:
    return ctx.session.get(IdentityEndpoint, key)


def for_resource(ctx: Ctx, resource_id: str) -> IdentityEndpoint | None:
    return ctx.session.scalars(
        select(IdentityEndpoint).where(IdentityEndpoint.resource_key == resource_id.lower())).first()


def set_extension_port(ctx: Ctx, resource_id: str, port: int | None) -> None:
    row = for_resource(ctx, resource_id)
    if row is not None:
        row.extension_port = port
