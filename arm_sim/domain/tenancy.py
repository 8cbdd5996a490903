"""Tenants, subscriptions and the bootstrap state created on first start."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from arm_sim.core.errors import conflict
from arm_sim.db.models import Bootstrap, Subscription, Tenant
from arm_sim.domain import directory, events, graph_permissions
from arm_sim.domain.context import Ctx
from arm_sim.domain.tokens import keyring

OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


def create_tenant(ctx: Ctx, tenant_id: str | None = None, display_name: str = "arm-sim") -> Tenant:
    tid = (tenant_id or str(uuid.uuid4())).lower()
    if ctx.session.get(Tenant, tid) is not None:
        raise conflict("TenantAlreadyExists", f"The tenant '{tid}' already exists.")
    tenant = Tenant(id=tid, display_name=display_name, default_domain=f"armsim{tid[:8]}.onmicrosoft.com",
                    created_at=ctx.now)
    ctx.session.add(tenant)
    ctx.session.flush()
    graph_permissions.create_graph_principal(ctx, tid)
    keyring.ensure_ring(ctx, tid)
    events.record(ctx, "tenant.created", f"/tenants/{tid}")
    return tenant


def create_subscription(ctx: Ctx, tenant_id: str, subscription_id: str | None = None,
                        display_name: str = "arm-sim subscription") -> Subscription:
    sub = Subscription(id=(subscription_id or str(uuid.uuid4())).lower(), tenant_id=tenant_id,
                       display_name=display_name, state="Enabled", unregistered_namespaces=[], created_at=ctx.now)
    ctx.session.add(sub)
    events.record(ctx, "subscription.created", f"/subscriptions/{sub.id}", tenantId=tenant_id)
    return sub


def owner_assignment(boot: Bootstrap, principal_id: str) -> tuple[str, dict[str, object]]:
    """The deployer's Owner assignment on the subscription: its id (a stable GUID name) and body."""
    scope = f"/subscriptions/{boot.subscription_id}"
    name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope}|{principal_id}|{OWNER_ROLE}"))
    role = f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{OWNER_ROLE}"
    body: dict[str, object] = {
        "properties": {"roleDefinitionId": role, "principalId": principal_id, "principalType": "ServicePrincipal"}}
    return f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", body


def bootstrap(ctx: Ctx) -> Bootstrap:
    """Create (once) the tenant, subscription and deployer principal (its Owner grant is made by the caller,
    through the resource write path, as every role assignment is)."""
    row = ctx.session.get(Bootstrap, 1)
    if row is not None:
        return row
    s = ctx.settings
    tenant = create_tenant(ctx, s.tenant_id, "arm-sim")
    sub = create_subscription(ctx, tenant.id, s.subscription_id)
    _, sp = directory.create_application(ctx, tenant.id, "arm-sim-deployer", s.client_id)
    secret = directory.add_password(ctx, sp.app_id, s.client_secret, "bootstrap")
    ctx.session.flush()
    # the deployer reads the directory through Graph (the Azure CLI's `az ad sp show`, `--assignee` lookups)
    graph_permissions.grant(ctx, sp, graph_permissions.BOOTSTRAP_PERMISSIONS)
    row = Bootstrap(id=1, tenant_id=tenant.id, subscription_id=sub.id, client_id=sp.app_id,
                    client_secret=secret, created_at=ctx.now)
    ctx.session.add(row)
    events.record(ctx, "bootstrap.created", f"/subscriptions/{sub.id}", tenantId=tenant.id, clientId=sp.app_id,
                  principalId=sp.object_id)
    return row


# Within one database's life (its epoch) tenants are never deleted and subscriptions never change tenant, so these
# caches cannot go stale; a reset makes a new epoch, under which nothing cached before is found.
_known_tenants: set[tuple[str, str]] = set()
_subscription_tenant: dict[tuple[str, str], str] = {}


def tenant_exists(ctx: Ctx, tenant_id: str) -> bool:
    key = (ctx.epoch, tenant_id)
    if key in _known_tenants:
        return True
    if ctx.session.get(Tenant, tenant_id) is None:
        return False
    _known_tenants.add(key)
    return True


def subscription_tenant(ctx: Ctx, subscription_id: str) -> str | None:
    key = (ctx.epoch, subscription_id.lower())
    tid = _subscription_tenant.get(key)
    if tid is None:
        sub = ctx.session.get(Subscription, key[1])
        if sub is None:
            return None
        tid = _subscription_tenant[key] = sub.tenant_id
    return tid


def current_bootstrap(ctx: Ctx) -> Bootstrap | None:
    return ctx.session.get(Bootstrap, 1)


def subscriptions(ctx: Ctx) -> list[Subscription]:
    return list(ctx.session.scalars(select(Subscription).order_by(Subscription.created_at)))


def tenants(ctx: Ctx) -> list[Tenant]:
    return list(ctx.session.scalars(select(Tenant).order_by(Tenant.created_at)))
