"""Identity endpoints: the per-VM IMDS and per-site App Service addresses that hand out tokens.

Providers register one when a VM or site is created and remove it when the resource goes, in the same
transaction, so a deleted VM's endpoint answers "Identity not found" at once.
"""

from __future__ import annotations

import secrets

from sqlalchemy import delete, select

from arm_sim.db.models import IdentityEndpoint
from arm_sim.domain.context import Ctx


def register(ctx: Ctx, key: str, kind: str, resource_id: str) -> IdentityEndpoint:
    row = ctx.session.get(IdentityEndpoint, key)
    if row is None:
        row = IdentityEndpoint(key=key, kind=kind, resource_key=resource_id.lower(), created_at=ctx.now,
                               secret=secrets.token_hex(16) if kind == "site" else None)
        ctx.session.add(row)
    return row


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
