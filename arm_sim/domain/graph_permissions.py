"""Application permissions of Microsoft Graph: its service principal in every tenant, its app roles, and what
they allow.

In Azure an app-only Graph token carries the app roles granted to its principal as the `roles` claim, and
Graph decides from that claim alone. arm-sim does the same: grants live in `graph_app_role_assignments` (Graph's
appRoleAssignment objects, domain/app_role_assignments.py), the token service copies them into Graph tokens,
and the Graph host checks the claim.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from arm_sim.core.errors import DomainError, bad_request
from arm_sim.db.models import GraphAppRoleAssignment, ServicePrincipal
from arm_sim.domain import events
from arm_sim.domain.context import Ctx

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_DISPLAY_NAME = "Microsoft Graph"
MICROSOFT_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"  # the tenant that owns Microsoft's first-party apps
GRAPH_SERVICE_PRINCIPAL_NAMES = [
    "https://dod-graph.microsoft.us", "https://graph.microsoft.com/", "https://graph.microsoft.us",
    f"{GRAPH_APP_ID}/ags.windows.net", GRAPH_APP_ID, "https://canary.graph.microsoft.com",
    "https://graph.microsoft.com", "https://ags.windows.net"]


@dataclass(frozen=True)
class AppRole:
    id: str
    value: str
    display_name: str
    description: str

    def json(self) -> dict[str, object]:
        return {"allowedMemberTypes": ["Application"], "description": self.description,
                "displayName": self.display_name, "id": self.id, "isEnabled": True, "origin": "Application",
                "value": self.value}


# The Microsoft Graph application permissions arm-sim's Graph subset enforces (ids from Microsoft's permissions
# reference): reading and writing applications and service principals, and granting app roles.
APP_ROLES = {r.value: r for r in (
    AppRole("9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30", "Application.Read.All", "Read all applications",
            "Allows the app to read all applications and service principals without a signed-in user."),
    AppRole("1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9", "Application.ReadWrite.All", "Read and write all applications",
            "Allows the app to create, read, update and delete applications and service principals without a "
            "signed-in user.  Does not allow management of consent grants."),
    AppRole("06b708a9-e830-4db3-a914-8e69da51d44f", "AppRoleAssignment.ReadWrite.All",
            "Manage app permission grants and app role assignments",
            "Allows the app to manage permission grants for application permissions to any API (including Microsoft "
            "Graph) and application assignments for any app, without a signed-in user."),
    AppRole("7ab1d382-f21e-4acd-a863-ba3e13f7da61", "Directory.Read.All", "Read directory data",
            "Allows the app to read data in your organization's directory, such as users, groups and apps, "
            "without a signed-in user."),
    AppRole("19dbc75e-c2e2-444c-a770-ec69d8559fc7", "Directory.ReadWrite.All", "Read and write directory data",
            "Allows the app to read and write data in your organization's directory, such as users, and groups, "
            "without a signed-in user.  Does not allow user or group deletion."),
    AppRole("df021288-bdef-4463-88db-98f22de89214", "User.Read.All", "Read all users' full profiles",
            "Allows the app to read user profiles without a signed in user."),
    AppRole("741f803b-c850-494e-b5df-cde7c675a1ca", "User.ReadWrite.All", "Read and write all users' full profiles",
            "Allows the app to read and update user profiles without a signed in user."),
)}
_BY_ID = {r.id: r for r in APP_ROLES.values()}

# Any one of these lets an app-only caller read applications, service principals and their app role assignments.
READ_APPLICATIONS = frozenset({"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All",
                               "Directory.ReadWrite.All"})
# Creating, changing and deleting applications and service principals (Graph's permission tables; arm-sim does not
# model ownership, so Application.ReadWrite.OwnedBy is not offered).
WRITE_APPLICATIONS = frozenset({"Application.ReadWrite.All", "Directory.ReadWrite.All"})
READ_USERS = frozenset({"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"})
# (Domain.Read.All itself is not offered: Directory.Read.All covers the tenant's domains)
READ_DOMAINS = frozenset({"Directory.Read.All", "Directory.ReadWrite.All"})
WRITE_USERS = frozenset({"User.ReadWrite.All", "Directory.ReadWrite.All"})
DELETE_USERS = frozenset({"User.ReadWrite.All"})  # Directory.ReadWrite.All "does not allow user deletion"
# Granting needs this and one of READ_APPLICATIONS (Graph reads the objects it links); revoking needs this alone.
MANAGE_APP_ROLE_ASSIGNMENTS = frozenset({"AppRoleAssignment.ReadWrite.All"})

# The deployer reads the directory (az's `--assignee` lookups) and, as a tenant's administrator would, grants
# application permissions, registers applications and service principals and creates users through Graph.
BOOTSTRAP_PERMISSIONS = ("Application.Read.All", "Directory.Read.All", "AppRoleAssignment.ReadWrite.All",
                         "Application.ReadWrite.All", "User.ReadWrite.All")

INSUFFICIENT_PRIVILEGES = "Insufficient privileges to complete the operation."


def app_role(role_id: str) -> AppRole | None:
    return _BY_ID.get(role_id.lower())


def is_graph(sp: ServicePrincipal) -> bool:
    return sp.app_id == GRAPH_APP_ID


def create_graph_principal(ctx: Ctx, tenant_id: str) -> ServicePrincipal:
    """Microsoft Graph's service principal, which every tenant has from its creation."""
    sp = ServicePrincipal(object_id=str(uuid.uuid4()), app_id=GRAPH_APP_ID, tenant_id=tenant_id,
                          display_name=GRAPH_DISPLAY_NAME, service_principal_type="Application",
                          alternative_names=[], service_principal_names=list(GRAPH_SERVICE_PRINCIPAL_NAMES),
                          application_object_id=None, created_at=ctx.now)
    ctx.session.add(sp)
    return sp


def graph_principal(ctx: Ctx, tenant_id: str) -> ServicePrincipal:
    sp = ctx.session.scalars(select(ServicePrincipal).where(ServicePrincipal.tenant_id == tenant_id,
                                                            ServicePrincipal.app_id == GRAPH_APP_ID)).first()
    return sp if sp is not None else create_graph_principal(ctx, tenant_id)


def granted(ctx: Ctx, principal_id: str) -> list[str]:
    """The permission names granted to a principal, sorted (the `roles` claim)."""
    rows = ctx.session.scalars(select(GraphAppRoleAssignment.app_role_id)
                               .where(GraphAppRoleAssignment.principal_id == principal_id.lower()))
    return sorted({role.value for r in rows if (role := app_role(r)) is not None})


def assignment_id(principal_id: str) -> str:
    """Graph's appRoleAssignment key: 43 URL-safe base64 characters, the first 22 of which encode the principal."""
    raw = uuid.UUID(principal_id).bytes_le + uuid.uuid4().bytes
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def add(ctx: Ctx, sp: ServicePrincipal, role: AppRole) -> GraphAppRoleAssignment:
    row = GraphAppRoleAssignment(id=assignment_id(sp.object_id), tenant_id=sp.tenant_id, principal_id=sp.object_id,
                                 resource_id=graph_principal(ctx, sp.tenant_id).object_id, app_role_id=role.id,
                                 created_at=ctx.now)
    ctx.session.add(row)
    events.record(ctx, "graphPermission.granted", sp.object_id, principalId=sp.object_id, clientId=sp.app_id,
                  permission=role.value, appRoleId=role.id, appRoleAssignmentId=row.id)
    return row


def grant(ctx: Ctx, sp: ServicePrincipal, permissions: Iterable[str]) -> list[str]:
    """Grant Graph app roles by name (idempotent); answers every permission the principal now holds."""
    names = list(permissions)
    unknown = [n for n in names if n not in APP_ROLES]
    if unknown:
        raise bad_request("InvalidPermission", f"arm-sim does not know the Microsoft Graph application permission(s) "
                                               f"{unknown}; known: {sorted(APP_ROLES)}.")
    held = set(granted(ctx, sp.object_id))
    for name in names:
        if name not in held:
            add(ctx, sp, APP_ROLES[name])
            held.add(name)
    ctx.session.flush()
    return sorted(held)


def app_only(claims: dict[str, object]) -> bool:
    """An app-only token (client credentials, managed identity): Graph decides from its `roles` claim alone; a
    delegated token (`scp`) acts for a signed-in user."""
    return claims.get("idtyp") == "app" or "scp" not in claims


def require(claims: dict[str, object], needed: frozenset[str]) -> None:
    """An app-only caller must hold one of the needed permissions; a delegated caller passes (as for reads)."""
    if app_only(claims):
        require_any(claims.get("roles"), needed)


def require_any(roles: object, needed: frozenset[str]) -> None:
    """Refuse (403, Graph's code) unless the token's `roles` claim holds one of the needed permissions."""
    held = set(roles) if isinstance(roles, list) else set()
    if not held & needed:
        raise DomainError(403, "Authorization_RequestDenied", INSUFFICIENT_PRIVILEGES)
