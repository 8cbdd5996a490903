"""Application permissions of Microsoft Graph: app roles granted to service principals, and what they allow.

In Azure an app-only Graph token carries the app roles granted to its principal as the `roles` claim, and
Graph decides from that claim alone. arm-sim does the same: grants live in `graph_app_role_assignments`,
the token service copies them into Graph tokens, and the Graph host checks the claim.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select

from arm_sim.core.errors import DomainError, bad_request
from arm_sim.db.models import GraphAppRoleAssignment, ServicePrincipal
from arm_sim.domain import events
from arm_sim.domain.context import Ctx

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"

# Microsoft Graph's app roles (application permissions) that arm-sim knows: value -> app role id.
APP_ROLES = {
    "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    "Application.ReadWrite.All": "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
    "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
    "Directory.ReadWrite.All": "19dbc75e-c2e2-444c-a770-ec69d8559fc7",
}
_NAMES = {v: k for k, v in APP_ROLES.items()}

# Any one of these lets an app-only caller read applications and service principals.
READ_APPLICATIONS = frozenset(APP_ROLES)

BOOTSTRAP_PERMISSIONS = ("Application.Read.All", "Directory.Read.All")

INSUFFICIENT_PRIVILEGES = "Insufficient privileges to complete the operation."


def granted(ctx: Ctx, principal_id: str) -> list[str]:
    """The permission names granted to a principal, sorted (the `roles` claim)."""
    rows = ctx.session.scalars(select(GraphAppRoleAssignment.app_role_id)
                               .where(GraphAppRoleAssignment.principal_id == principal_id.lower()))
    return sorted({_NAMES[r] for r in rows if r in _NAMES})


def grant(ctx: Ctx, sp: ServicePrincipal, permissions: Iterable[str]) -> list[str]:
    """Grant Graph app roles by name (idempotent); answers every permission the principal now holds."""
    names = list(permissions)
    unknown = [n for n in names if n not in APP_ROLES]
    if unknown:
        raise bad_request("InvalidPermission", f"arm-sim does not know the Microsoft Graph application permission(s) "
                                               f"{unknown}; known: {sorted(APP_ROLES)}.")
    held = set(granted(ctx, sp.object_id))
    for name in names:
        if name in held:
            continue
        ctx.session.add(GraphAppRoleAssignment(id=str(uuid.uuid4()), tenant_id=sp.tenant_id,
                                               principal_id=sp.object_id, app_role_id=APP_ROLES[name],
                                               created_at=ctx.now))
        held.add(name)
        events.record(ctx, "graphPermission.granted", sp.object_id, principalId=sp.object_id, clientId=sp.app_id,
                      permission=name, appRoleId=APP_ROLES[name])
    ctx.session.flush()
    return sorted(held)


def require_any(roles: object, needed: frozenset[str]) -> None:
    """Refuse (403, Graph's code) unless the token's `roles` claim holds one of the needed permissions."""
    held = set(roles) if isinstance(roles, list) else set()
    if not held & needed:
        raise DomainError(403, "Authorization_RequestDenied", INSUFFICIENT_PRIVILEGES)
