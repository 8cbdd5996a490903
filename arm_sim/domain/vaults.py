"""The Key Vault registry: global vault names, data-plane addresses and the soft-delete life cycle.

A vault is two things: its ARM resource row (properties: tenantId, accessPolicies, flags — the truth while the
vault is active) and a `Vault` row (global name, port, state) that outlives the resource while the vault is
soft-deleted, so the name stays reserved and recover can restore the snapshot. Times are on the simulated clock.

A vault is reached by its name: `{name}.vault.azure.net` through the proxy, `{name}.vault.{public host}` on the
main listener. A port of ARM_SIM_VAULT_PORTS is lent to an active vault while one is free (for clients that can
resolve neither name) and given back at soft delete, so ports never limit how many vaults exist.

Interface for the data plane (hosts/keyvault, domain/vault_secrets, vault_keys, vault_access):
`vault_for_port`, `vault_for_name`, `vault_by_name`, `vault_document`, `access_policies`, `rbac_enabled`,
`soft_delete_enabled`, `purge_protection_enabled`, `retention_days`, `vault_uri`, `purge_expired`.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from typing import Any, TypeAlias

from sqlalchemy import Text, bindparam, delete, select, type_coerce

from arm_sim.core import ids
from arm_sim.core.errors import DomainError
from arm_sim.core.hosts import VAULT_DOMAIN, name_host
from arm_sim.db.engine import HotSelect
from arm_sim.db.models import Resource, Vault, VaultKey, VaultSecret
from arm_sim.db.records import VaultByPortRecord
from arm_sim.domain import events
from arm_sim.domain.context import Ctx

ACTIVE, DELETED = "active", "deleted"
DAY = 86400.0


# --- lookups (the data plane's interface) -------------------------------------------------------------------

@dataclass(frozen=True)
class VaultView:
    """An active vault as one data-plane request sees it, read once: the `vaults` row's fields and the vault's ARM
    document. The data plane never changes a vault, so its helpers here answer from this snapshot."""

    name: str
    resource_id: str
    resource_key: str
    subscription_id: str
    location: str
    tenant_id: str
    port: int | None
    state: str
    retention_days: int
    snapshot: dict[str, Any] | None
    document: dict[str, Any]


# What the read helpers below (and the data plane's) take: a `vaults` row or a VaultView. They read only the fields
# both have, and the ARM document through `vault_document`.
VaultLike: TypeAlias = Vault | VaultView


_V, _R = Vault.__table__.c, Resource.__table__.c
# Every data-plane request starts here: one statement, run on the driver (see HotSelect).
_ACTIVE_VAULT = (
    select(_V.name, _V.resource_id, _V.resource_key, _V.subscription_id, _V.location, _V.tenant_id, _V.port,
           _V.state, _V.retention_days, _V.snapshot, _R.id.label("doc_id"), _R.name.label("doc_name"),
           _R.type.label("doc_type"), _R.location.label("doc_location"), _R.tags.label("doc_tags"),
           type_coerce(_R.properties, Text).label("doc_properties"))  # as text: decoded through _decoded
    .join_from(Vault.__table__, Resource.__table__, _R.key == _V.resource_key))
_BY_PORT: HotSelect[VaultByPortRecord] = HotSelect(
    _ACTIVE_VAULT.where(_V.port == bindparam("port"), _V.state == ACTIVE))
_BY_NAME: HotSelect[VaultByPortRecord] = HotSelect(
    _ACTIVE_VAULT.where(_V.name == bindparam("name"), _V.state == ACTIVE))


_DECODED: dict[str, Any] = {}  # properties text -> object: a vault's properties change rarely, reads are constant


def _decoded(raw: Any) -> Any:
    """The vault's properties from their stored text, decoded once per distinct text (the result is shared:
    VaultView documents are read-only). PostgreSQL's driver hands JSONB over decoded already."""
    if not isinstance(raw, str):
        return raw
    found = _DECODED.get(raw)
    if found is None:
        if len(_DECODED) >= 256:
            _DECODED.clear()
        found = _DECODED[raw] = json.loads(raw)
    return found


def vault_for_port(ctx: Ctx, port: int) -> VaultView | None:
    """The ACTIVE vault lent this data-plane port, or None (no vault has it: a soft-deleted vault gave it back)."""
    return _view(_BY_PORT.first(ctx.session, {"port": port}))


def vault_for_name(ctx: Ctx, name: str) -> VaultView | None:
    """The ACTIVE vault of this name (case-insensitive), or None (none, or it is soft-deleted)."""
    return _view(_BY_NAME.first(ctx.session, {"name": name.lower()}))


def _view(r: VaultByPortRecord | None) -> VaultView | None:
    if r is None:
        return None
    document = {"id": r.doc_id, "name": r.doc_name, "type": r.doc_type, "location": r.doc_location,
                "tags": r.doc_tags or {}, "properties": _decoded(r.doc_properties) or {}}
    return VaultView(r.name, r.resource_id, r.resource_key, r.subscription_id, r.location, r.tenant_id, r.port,
                     r.state, r.retention_days, r.snapshot, document)


def vault_by_name(ctx: Ctx, name: str) -> Vault | None:
    """The vault with this global name (case-insensitive), active OR deleted — check `.state` (ACTIVE/DELETED)."""
    return ctx.session.get(Vault, name.lower())


def vault_row(ctx: Ctx, vault: VaultLike) -> Resource | None:
    """The vault's ARM resource row (None while it is soft-deleted)."""
    return ctx.session.get(Resource, vault.resource_key) if vault.state == ACTIVE else None


def vault_document(ctx: Ctx, vault: VaultLike) -> dict[str, Any]:
    """The vault's ARM document: {id, name, type, location, tags, properties}.

    `properties` has tenantId, sku, accessPolicies, enableRbacAuthorization, enableSoftDelete,
    softDeleteRetentionInDays, enablePurgeProtection (when set), vaultUri, … For an active vault it is read from
    the ARM resource row (so policy changes show at once); for a deleted vault it is the snapshot taken at delete.
    A VaultView answers the document it was read with (do not change it).
    """
    if isinstance(vault, VaultView):
        return vault.document
    row = vault_row(ctx, vault)
    if row is None:
        return dict(vault.snapshot or {"id": vault.resource_id, "name": vault.name, "properties": {}})
    doc: dict[str, Any] = {"id": row.id, "name": row.name, "type": row.type, "location": row.location,
                           "tags": row.tags or {}, "properties": dict(row.properties)}
    return doc


def properties(ctx: Ctx, vault: VaultLike) -> dict[str, Any]:
    props = vault_document(ctx, vault).get("properties")
    return props if isinstance(props, dict) else {}


def access_policies(ctx: Ctx, vault: VaultLike) -> list[dict[str, Any]]:
    """The vault's access-policy entries as stored: {tenantId, objectId, [applicationId], permissions:
    {keys, secrets, certificates, storage}}; permission names as the client sent them (compare case-insensitively;
    "all" grants every permission of that kind). Entries naming deleted principals stay (orphans)."""
    return list(properties(ctx, vault).get("accessPolicies") or [])


def rbac_enabled(ctx: Ctx, vault: VaultLike) -> bool:
    """True: the data plane ignores access policies and asks RBAC (role assignments on the vault or above)."""
    return bool(properties(ctx, vault).get("enableRbacAuthorization"))


def soft_delete_enabled(ctx: Ctx, vault: VaultLike) -> bool:
    return properties(ctx, vault).get("enableSoftDelete", True) is not False


def purge_protection_enabled(ctx: Ctx, vault: VaultLike) -> bool:
    return bool(properties(ctx, vault).get("enablePurgeProtection"))


def retention_days(ctx: Ctx, vault: VaultLike) -> int:
    return int(properties(ctx, vault).get("softDeleteRetentionInDays") or vault.retention_days or 90)


def recovery_level(ctx: Ctx, vault: VaultLike) -> str:
    """Key Vault's `recoveryLevel` for objects in this vault."""
    if not soft_delete_enabled(ctx, vault):
        return "Purgeable"
    base = "Recoverable" if purge_protection_enabled(ctx, vault) else "Recoverable+Purgeable"
    return base if retention_days(ctx, vault) == 90 else f"CustomizedRecoverable{base[len('Recoverable'):]}"


def vault_uri(ctx: Ctx, vault: VaultLike) -> str:
    """Azure's own form for a request that came by Azure's names (the proxy), else `local_uri`."""
    return azure_uri(vault.name) if ctx.azure_names else local_uri(ctx, vault)


def azure_uri(name: str) -> str:
    return f"https://{name.lower()}.{VAULT_DOMAIN}/"


def local_uri(ctx: Ctx, vault: VaultLike) -> str:
    """The vault's port while it has one (reachable with no name resolution at all), else its name under the
    public host on the main port. What ARM stores as `vaultUri`: a request by Azure's names is shown Azure's."""
    host = ctx.settings.public_host
    if vault.port is not None:
        return f"https://{host}:{vault.port}/"
    return f"https://{vault.name}.vault.{name_host(host)}:{ctx.settings.port}/"


def latest_secrets(ctx: Ctx, vault: Vault, name: str | None = None) -> list[VaultSecret]:
    """The current (newest, not deleted) version of each secret in the vault — or of `name` only — for the ARM
    `vaults/secrets` view. Read-only: the data plane (domain/vault_secrets) owns these rows."""
    q = select(VaultSecret).where(VaultSecret.vault_name == vault.name, VaultSecret.deleted_at.is_(None))
    if name is not None:
        q = q.where(VaultSecret.name_key == name.lower())
    newest: dict[str, VaultSecret] = {}
    for row in ctx.session.scalars(q.order_by(VaultSecret.created_at, VaultSecret.id)):
        newest[row.name_key] = row
    return [newest[k] for k in sorted(newest)]


# --- life cycle (the management plane's side) ----------------------------------------------------------------

def _conflict(name: str, deleted: bool) -> DomainError:
    if deleted:
        return DomainError(
            409, "ConflictError",
            f"A vault with the same name already exists in deleted state. You need to either recover or purge "
            f"existing key vault. Follow this link https://go.microsoft.com/fwlink/?linkid=2149745 for more "
            f"information on soft delete. Vault name: '{name}'.")
    return DomainError(409, "VaultAlreadyExists",
                       f"The vault name '{name}' is already in use. Vault names are globally unique so it is "
                       "possible that the name is already taken. If you are sure that the vault name was not "
                       "taken then it is possible that a vault with the same name was recently deleted but not "
                       "purged after being placed in a recoverable state.")


def name_conflict(ctx: Ctx, name: str) -> DomainError | None:
    """The 409 a new vault of this name would get (taken by an active vault, or in deleted state), or None."""
    row = vault_by_name(ctx, name)
    return None if row is None else _conflict(name, deleted=row.state == DELETED)


def check_available(ctx: Ctx, name: str, resource_id: str) -> Vault | None:
    """Raise 409 unless `name` is free for the vault `resource_id`; return its existing (active) row."""
    row = vault_by_name(ctx, name)
    if row is not None and (row.state == DELETED or row.resource_key != ids.key(resource_id)):
        raise _conflict(name, deleted=row.state == DELETED)
    return row


def _free_port(ctx: Ctx) -> int | None:
    """A port of ARM_SIM_VAULT_PORTS no active vault holds, or None: the vault is then reached by name only.
    (Two writers may pick the same port: the column is unique, so one of them retries, see db.conflicts.)"""
    lo, hi = ctx.settings.vault_ports
    used = set(ctx.session.scalars(select(Vault.port).where(Vault.port.is_not(None))).all())
    for port in range(lo, hi + 1):
        if port not in used:
            return port
    return None


def create(ctx: Ctx, name: str, resource_id: str, subscription_id: str, location: str, tenant_id: str) -> Vault:
    """Reserve the global name (and a data-plane port, if one is free) for a new vault (the caller checked
    availability)."""
    row = Vault(name=name.lower(), resource_id=resource_id, resource_key=ids.key(resource_id),
                subscription_id=subscription_id.lower(), location=location, tenant_id=tenant_id,
                port=_free_port(ctx), state=ACTIVE, purge_protection=False, retention_days=90,
                created_at=ctx.now)
    ctx.session.add(row)
    ctx.session.flush()
    events.record(ctx, "vault.created", resource_id, port=row.port)
    return row


def sync(vault: Vault, props: dict[str, Any], tenant_id: str, location: str) -> None:
    """Copy the flags the registry keeps from the vault's properties after each write."""
    vault.tenant_id = tenant_id
    vault.location = location
    vault.purge_protection = bool(props.get("enablePurgeProtection"))
    vault.retention_days = int(props.get("softDeleteRetentionInDays") or 90)


def soft_delete(ctx: Ctx, vault: Vault, doc: dict[str, Any]) -> None:
    """The ARM resource is going: keep the name and a snapshot until `scheduled_purge_at`; give the port back."""
    snapshot = {k: v for k, v in doc.items() if k not in ("_sim", "etag", "systemData")}
    vault.state, vault.snapshot, vault.port = DELETED, snapshot, None
    vault.deleted_at = ctx.now
    vault.scheduled_purge_at = ctx.now + vault.retention_days * DAY
    events.record(ctx, "vault.softDeleted", vault.resource_id, scheduledPurgeAt=vault.scheduled_purge_at)


def recover(ctx: Ctx, vault: Vault, resource_id: str) -> dict[str, Any]:
    """Bring a deleted vault back at `resource_id` (secrets untouched; a port again if one is free); return its
    snapshot."""
    snapshot = dict(vault.snapshot or {})
    vault.state, vault.deleted_at, vault.scheduled_purge_at, vault.snapshot = ACTIVE, None, None, None
    vault.port = _free_port(ctx)
    vault.resource_id, vault.resource_key = resource_id, ids.key(resource_id)
    events.record(ctx, "vault.recovered", resource_id, port=vault.port)
    return snapshot


def purge(ctx: Ctx, vault: Vault, reason: str = "purge") -> None:
    """Remove the vault for good: its secrets and keys and its name."""
    ctx.session.execute(delete(VaultSecret).where(VaultSecret.vault_name == vault.name))
    ctx.session.execute(delete(VaultKey).where(VaultKey.vault_name == vault.name))
    # a lazy purge runs at the first vault operation after the date: the event keeps the scheduled date too
    events.record(ctx, "vault.purged", vault.resource_id, reason=reason, port=vault.port,
                  scheduledPurgeAt=vault.scheduled_purge_at)
    ctx.session.delete(vault)
    ctx.session.flush()


def deleted_vaults(ctx: Ctx, subscription_id: str | None = None) -> list[Vault]:
    q = select(Vault).where(Vault.state == DELETED).order_by(Vault.name)
    if subscription_id:
        q = q.where(Vault.subscription_id == subscription_id.lower())
    return list(ctx.session.scalars(q).all())


def purge_expired(ctx: Ctx) -> list[str]:
    """Purge every deleted vault whose retention ran out on the simulated clock; return their names.

    Also lets the data plane purge its own soft-deleted secrets/keys (`vault_secrets.purge_expired`,
    `vault_keys.purge_expired`) when those modules provide it.
    """
    due = ctx.session.scalars(select(Vault).where(Vault.state == DELETED, Vault.scheduled_purge_at <= ctx.now))
    names = []
    for vault in list(due):
        names.append(vault.name)
        purge(ctx, vault, reason="retention expired")
    for module in ("arm_sim.domain.vault_secrets", "arm_sim.domain.vault_keys"):
        try:
            fn = getattr(importlib.import_module(module), "purge_expired", None)
        except ImportError:  # the data plane is written separately; absent until it lands
            fn = None
        if callable(fn):
            fn(ctx)
    return names
