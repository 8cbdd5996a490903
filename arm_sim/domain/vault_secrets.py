"""Key Vault secrets: versions, soft delete, recover, purge, backup/restore, in Key Vault's own words.

Each version is a `VaultSecret` row; soft delete marks every version of the name, recover clears the marks,
purge removes the rows. The version-and-soft-delete machinery (`Kind` and the functions taking one) is shared
with keys (`vault_keys`). Times are epoch seconds on the simulated clock; values are never logged.

The management plane uses `set_secret` (ARM `vaults/secrets` child resources) and `purge_expired`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
import zlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, delete, select

from arm_sim.core.errors import DomainError
from arm_sim.db.engine import HotSelect
from arm_sim.db.models import VaultKey, VaultObject
from arm_sim.db.models import VaultSecret as VaultSecret  # re-exported: the data plane's hosts name the row type
from arm_sim.db.records import VaultObjectRecord
from arm_sim.domain import events, vaults
from arm_sim.domain.context import Ctx
from arm_sim.domain.vaults import VaultLike

Row = VaultSecret | VaultKey
_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
DAY = 86400
MAX_RESULTS = 25
HELP_NOT_FOUND = "For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"


@dataclass
class VaultError(DomainError):
    """A Key Vault error: `inner` becomes `innererror.code` in the envelope."""

    inner: str | None = None


@dataclass(frozen=True)
class Kind:
    """What differs between secrets and keys in the shared version/soft-delete machinery."""

    model: type[VaultSecret] | type[VaultKey]
    noun: str  # secret | key
    collection: str  # secrets | keys (URL segment and access-policy permission family)
    deleted_collection: str  # deletedsecrets | deletedkeys
    not_found_code: str  # SecretNotFound | KeyNotFound

    @property
    def title(self) -> str:
        return self.noun.capitalize()


SECRETS = Kind(VaultSecret, "secret", "secrets", "deletedsecrets", "SecretNotFound")


# --- errors ---------------------------------------------------------------------------------------------------

def bad_parameter(message: str) -> VaultError:
    return VaultError(400, "BadParameter", message)


def check_name(name: str) -> None:
    if not _NAME.match(name or ""):
        raise bad_parameter(f"The request URI contains an invalid name: {name}")


def not_found(kind: Kind, name: str, version: str | None = None) -> VaultError:
    ident = f"{name}/{version}" if version else name
    return VaultError(404, kind.not_found_code,
                      f"A {kind.noun} with (name/id) {ident} was not found in this key vault. If you recently deleted "
                      f"this {kind.noun} you may be able to recover it using the correct recovery command. "
                      f"{HELP_NOT_FOUND}")


def deleted_not_found(kind: Kind, name: str) -> VaultError:
    return VaultError(404, kind.not_found_code, f"Deleted {kind.title} not found: {name}")


def _is_deleted_conflict(kind: Kind, name: str) -> VaultError:
    return VaultError(409, "Conflict",
                      f"{kind.title} {name} is currently in a deleted but recoverable state, and its name cannot be "
                      f"reused; in this state, the {kind.noun} can only be recovered or purged.",
                      inner="ObjectIsDeletedButRecoverable")


def new_version() -> str:
    return uuid.uuid4().hex


def epoch(value: Any, field: str) -> int | None:
    """An attribute time (`nbf`, `exp`): epoch seconds as Key Vault sends them; None when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_parameter(f"Invalid value for attribute '{field}': expected seconds since 1970-01-01T00:00:00Z.")
    return int(value)


def subject(vault: VaultLike, kind: Kind, name: str) -> str:
    """The object's ARM-style id under its vault (event subjects, RBAC scopes)."""
    return f"{vault.resource_id}/{kind.collection}/{name}"


# --- the shared version / soft-delete machinery ---------------------------------------------------------------

def _versions_statement(m: type[VaultSecret] | type[VaultKey]) -> Select[Any]:
    return select(m).where(m.vault_name == bindparam("vault"), m.name_key == bindparam("name")).order_by(
        m.created_at, m.id)


# Built once: every secret GET runs this, and building a statement costs more than SQLite running it.
_VERSIONS = {VaultSecret: _versions_statement(VaultSecret), VaultKey: _versions_statement(VaultKey)}


def all_rows(ctx: Ctx, kind: Kind, vault: VaultLike, name: str) -> list[Any]:
    """Every version of the name, deleted or not, oldest first."""
    return list(ctx.session.scalars(_VERSIONS[kind.model], {"vault": vault.name, "name": name.lower()}))


def active_rows(ctx: Ctx, kind: Kind, vault: VaultLike, name: str) -> list[Any]:
    """The live versions of the name, oldest first; 404 when there are none (absent or soft-deleted)."""
    rows = [r for r in all_rows(ctx, kind, vault, name) if r.deleted_at is None]
    if not rows:
        raise not_found(kind, name)
    return rows


def get_row(ctx: Ctx, kind: Kind, vault: VaultLike, name: str, version: str | None) -> Any:
    """The latest version (version empty/None) or the named one, as an ORM object (to change it)."""
    check_name(name)
    return _pick(kind, all_rows(ctx, kind, vault, name), name, version)


# Reads that change nothing (GET of a secret or key) take a snapshot of one row instead: no ORM objects, and
# one row however many versions the name has.
def _live_statement(m: type[VaultSecret] | type[VaultKey], *, by_version: bool) -> HotSelect[VaultObjectRecord]:
    t = m.__table__
    q = select(t).where(t.c.vault_name == bindparam("vault"), t.c.name_key == bindparam("name"),
                        t.c.deleted_at.is_(None))
    if by_version:
        q = q.where(t.c.version == bindparam("version"))
    return HotSelect(q.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(1))


_BY_NAME = {m: _live_statement(m, by_version=False) for m in (VaultSecret, VaultKey)}
_BY_VERSION = {m: _live_statement(m, by_version=True) for m in (VaultSecret, VaultKey)}


def read_row(ctx: Ctx, kind: Kind, vault: VaultLike, name: str, version: str | None) -> Any:
    """As `get_row`, as a read-only snapshot of the row (same attribute names)."""
    check_name(name)
    params = {"vault": vault.name, "name": name.lower()}
    if not version:
        row = _BY_NAME[kind.model].first(ctx.session, params)
        if row is None:
            raise not_found(kind, name)
        return row
    row = _BY_VERSION[kind.model].first(ctx.session, {**params, "version": version.lower()})
    if row is None:
        raise not_found(kind, name, version if _BY_NAME[kind.model].first(ctx.session, params) else None)
    return row


def _pick(kind: Kind, rows: list[Any], name: str, version: str | None) -> Any:
    live = [r for r in rows if r.deleted_at is None]
    if not live:
        raise not_found(kind, name)
    if not version:
        return live[-1]
    for r in live:
        if r.version == version.lower():
            return r
    raise not_found(kind, name, version)


def ensure_name_free(ctx: Ctx, kind: Kind, vault: VaultLike, name: str) -> list[Any]:
    """409 when the name is soft-deleted; returns the existing rows (a new version joins them)."""
    rows = all_rows(ctx, kind, vault, name)
    if rows and rows[-1].deleted_at is not None:
        if rows[-1].scheduled_purge_at is not None and rows[-1].scheduled_purge_at <= ctx.now:
            _purge_rows(ctx, rows)  # retention ran out: the name is free again
            return []
        raise _is_deleted_conflict(kind, name)
    return rows


def latest_per_name(ctx: Ctx, kind: Kind, vault: VaultLike, deleted: bool) -> list[Any]:
    """One row per name (its latest version), live or soft-deleted, ordered by name."""
    m: type[VaultObject] = kind.model  # (as the union of the two models, SQLAlchemy's generics widen it to Base)
    cond = m.deleted_at.is_not(None) if deleted else m.deleted_at.is_(None)
    q = select(m).where(m.vault_name == vault.name, cond).order_by(m.name_key, m.created_at, m.id)
    latest: dict[str, Any] = {}
    for r in ctx.session.scalars(q):
        if deleted and r.scheduled_purge_at is not None and r.scheduled_purge_at <= ctx.now:
            continue  # due for purge: gone as far as clients can tell
        latest[r.name_key] = r
    return list(latest.values())


def remove(ctx: Ctx, kind: Kind, vault: VaultLike, name: str) -> Any:
    """Delete the name: soft delete (every version marked) when the vault has it, else purge at once.

    Returns the latest version's row (rendered as the Deleted…Bundle)."""
    check_name(name)
    rows = active_rows(ctx, kind, vault, name)
    latest = rows[-1]
    if vaults.soft_delete_enabled(ctx, vault):
        purge_at = ctx.now + vaults.retention_days(ctx, vault) * DAY
        for r in rows:
            r.deleted_at, r.scheduled_purge_at = ctx.now, purge_at
        events.record(ctx, f"keyvault.{kind.noun}.deleted", subject(vault, kind, latest.name),
                      scheduledPurgeDate=int(purge_at))
    else:
        ctx.session.expunge(latest)  # keep the object renderable after its row is gone
        _purge_rows(ctx, rows)
        events.record(ctx, f"keyvault.{kind.noun}.purged", subject(vault, kind, latest.name), reason="no soft delete")
    return latest


def require_soft_delete(ctx: Ctx, kind: Kind, vault: VaultLike) -> None:
    """The deleted-object operations exist only on vaults with soft delete (the service answers an error)."""
    if not vaults.soft_delete_enabled(ctx, vault):
        raise bad_parameter(f"Operations on deleted {kind.collection} are not enabled for this vault: soft delete "
                            "is disabled (recoveryLevel Purgeable).")


def deleted_rows(ctx: Ctx, kind: Kind, vault: VaultLike, name: str) -> list[Any]:
    """The versions of a soft-deleted name (404 `Deleted … not found` otherwise)."""
    check_name(name)
    rows = all_rows(ctx, kind, vault, name)
    if not rows or rows[-1].deleted_at is None:
        raise deleted_not_found(kind, name)
    if rows[-1].scheduled_purge_at is not None and rows[-1].scheduled_purge_at <= ctx.now:
        _purge_rows(ctx, rows)
        raise deleted_not_found(kind, name)
    return rows


def recover(ctx: Ctx, kind: Kind, vault: VaultLike, name: str) -> Any:
    rows = deleted_rows(ctx, kind, vault, name)
    for r in rows:
        r.deleted_at, r.scheduled_purge_at = None, None
    events.record(ctx, f"keyvault.{kind.noun}.recovered", subject(vault, kind, rows[-1].name))
    return rows[-1]


def purge(ctx: Ctx, kind: Kind, vault: VaultLike, name: str) -> None:
    rows = deleted_rows(ctx, kind, vault, name)
    if vaults.purge_protection_enabled(ctx, vault):
        doc = vaults.vault_document(ctx, vault)
        raise VaultError(403, "Forbidden",
                         'Operation "purge" is not allowed because purge protection is enabled for this vault. Key '
                         "Vault service will automatically purge it after the retention period has passed. Vault: "
                         f"{doc.get('name', vault.name)};location={vault.location}")
    _purge_rows(ctx, rows)
    events.record(ctx, f"keyvault.{kind.noun}.purged", subject(vault, kind, rows[-1].name), reason="purge")


def _purge_rows(ctx: Ctx, rows: list[Any]) -> None:
    for r in rows:
        if r in ctx.session:
            ctx.session.delete(r)
        else:
            ctx.session.execute(delete(type(r)).where(type(r).id == r.id))
    ctx.session.flush()


def purge_expired_rows(ctx: Ctx, kind: Kind) -> int:
    """Remove soft-deleted versions whose scheduled purge date has passed on the simulated clock."""
    m = kind.model
    result = ctx.session.execute(delete(m).where(m.deleted_at.is_not(None), m.scheduled_purge_at <= ctx.now))
    return int(getattr(result, "rowcount", 0) or 0)


def recovery(ctx: Ctx, vault: VaultLike) -> tuple[str, int | None]:
    """(recoveryLevel, recoverableDays) for objects of this vault."""
    level = vaults.recovery_level(ctx, vault)
    return level, (vaults.retention_days(ctx, vault) if vaults.soft_delete_enabled(ctx, vault) else None)


def attributes(row: Row, level: str, days: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {"enabled": bool(row.enabled)}
    if row.not_before is not None:
        out["nbf"] = int(row.not_before)
    if row.expires is not None:
        out["exp"] = int(row.expires)
    out.update(created=int(row.created_at), updated=int(row.updated_at), recoveryLevel=level)
    if days is not None:
        out["recoverableDays"] = days
    return out


def deleted_fields(uri: str, kind: Kind, row: Row) -> dict[str, Any]:
    """What a Deleted…Bundle adds (nothing when the vault has no soft delete: the object is simply gone)."""
    if row.deleted_at is None or row.scheduled_purge_at is None:
        return {}
    return {"recoveryId": f"{uri}{kind.deleted_collection}/{row.name}", "deletedDate": int(row.deleted_at),
            "scheduledPurgeDate": int(row.scheduled_purge_at)}


def apply_attributes(row: Row, attrs: Any) -> None:
    """Apply a request's `attributes` (enabled, nbf, exp); absent fields keep their value."""
    if attrs is None:
        return
    if not isinstance(attrs, dict):
        raise bad_parameter("The parameter 'attributes' must be a JSON object.")
    if "enabled" in attrs and attrs["enabled"] is not None:
        if not isinstance(attrs["enabled"], bool):
            raise bad_parameter("Invalid value for attribute 'enabled': expected true or false.")
        row.enabled = attrs["enabled"]
    if "nbf" in attrs:
        row.not_before = epoch(attrs["nbf"], "nbf")
    if "exp" in attrs:
        row.expires = epoch(attrs["exp"], "exp")


def check_tags(tags: Any) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise bad_parameter("The parameter 'tags' must be an object of string values.")
    if len(tags) > 15:
        raise bad_parameter("The number of tags exceeds the maximum of 15.")
    return dict(tags)


# --- paging ---------------------------------------------------------------------------------------------------

def max_results(raw: str | None) -> int:
    if raw is None or raw == "":
        return MAX_RESULTS
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_RESULTS:
        raise bad_parameter(f"The value of parameter 'maxresults' is invalid: {raw}. It must be between 1 and 25.")
    return n


def page(items: list[Any], key: Any, maxresults: int, skiptoken: str | None) -> tuple[list[Any], str | None]:
    """One page after the cursor `skiptoken` (opaque: the last key of the previous page), and the next cursor."""
    if skiptoken:
        try:
            after = base64.urlsafe_b64decode(skiptoken + "=" * (-len(skiptoken) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError) as e:
            raise bad_parameter("The value of parameter '$skiptoken' is invalid.") from e
        items = [i for i in items if str(key(i)) > after]
    chunk = items[:maxresults]
    if len(items) <= maxresults:
        return chunk, None
    return chunk, base64.urlsafe_b64encode(str(key(chunk[-1])).encode()).decode().rstrip("=")


# --- secrets --------------------------------------------------------------------------------------------------

def set_secret(ctx: Ctx, vault: VaultLike, name: str, value: str, content_type: str | None = None,
               tags: dict[str, str] | None = None, enabled: bool = True, not_before: float | None = None,
               expires: float | None = None) -> VaultSecret:
    """A new version of the secret (the name is created on its first version)."""
    check_name(name)
    if not isinstance(value, str):
        raise bad_parameter("The parameter 'value' must be a string.")
    if len(value.encode()) > 25 * 1024:
        raise bad_parameter("Secret value exceeds the maximum size of 25 KB.")
    existing = ensure_name_free(ctx, SECRETS, vault, name)
    now = int(ctx.now)
    row = VaultSecret(vault_name=vault.name, name=existing[-1].name if existing else name, name_key=name.lower(),
                      version=new_version(), value=value, content_type=content_type, tags=check_tags(tags),
                      enabled=enabled, not_before=not_before, expires=expires, created_at=now, updated_at=now)
    ctx.session.add(row)
    ctx.session.flush()
    events.record(ctx, "keyvault.secret.set", subject(vault, SECRETS, row.name), version=row.version)
    return row


def purge_expired(ctx: Ctx) -> int:
    """Purge soft-deleted secrets whose scheduled purge date has passed (the management plane calls this)."""
    return purge_expired_rows(ctx, SECRETS)


def set_from_request(ctx: Ctx, vault: VaultLike, name: str, body: Any) -> VaultSecret:
    """PUT /secrets/{name}: {value, contentType?, tags?, attributes?}."""
    check_name(name)
    if not isinstance(body, dict) or not isinstance(body.get("value"), str):
        raise bad_parameter("The parameter 'value' is required and must be a string.")
    attrs = body.get("attributes") or {}
    probe = VaultSecret(enabled=True, not_before=None, expires=None)
    apply_attributes(probe, attrs)
    ctype = body.get("contentType")
    if ctype is not None and not isinstance(ctype, str):
        raise bad_parameter("The parameter 'contentType' must be a string.")
    return set_secret(ctx, vault, name, body["value"], ctype, body.get("tags"), bool(probe.enabled),
                      probe.not_before, probe.expires)


def readable(row: VaultSecret) -> VaultSecret:
    """Reading a value needs an enabled version."""
    if not row.enabled:
        raise VaultError(403, "Forbidden", "Operation get is not allowed on a disabled secret.", inner="SecretDisabled")
    return row


def update(ctx: Ctx, vault: VaultLike, name: str, version: str | None, body: Any) -> VaultSecret:
    """PATCH /secrets/{name}/{version}: contentType, tags, attributes of one version."""
    row: VaultSecret = get_row(ctx, SECRETS, vault, name, version)
    if not isinstance(body, dict):
        raise bad_parameter("The request body must be a JSON object.")
    apply_attributes(row, body.get("attributes"))
    if "contentType" in body:
        row.content_type = body["contentType"]
    if "tags" in body:
        row.tags = check_tags(body["tags"])
    row.updated_at = int(ctx.now)
    events.record(ctx, "keyvault.secret.updated", subject(vault, SECRETS, row.name), version=row.version)
    return row


def bundle(row: VaultSecret, uri: str, level: str, days: int | None, *, value: bool = True,
           versioned: bool = True) -> dict[str, Any]:
    """SecretBundle (value=True), SecretItem (value=False, versioned=False) and their Deleted… forms."""
    sid = f"{uri}secrets/{row.name}/{row.version}" if versioned else f"{uri}secrets/{row.name}"
    out: dict[str, Any] = {"value": row.value} if value else {}
    out.update(deleted_fields(uri, SECRETS, row))
    out["id"] = sid
    if row.content_type is not None:
        out["contentType"] = row.content_type
    out["attributes"] = attributes(row, level, days)
    if row.tags:
        out["tags"] = dict(row.tags)
    return out


# --- backup / restore -----------------------------------------------------------------------------------------
# The blob is opaque to clients (base64url); arm-sim's own format carries every version, the vault's
# subscription (Key Vault restores only within one subscription) and a magic prefix to detect corruption.
_MAGIC = b"ARMSIM-AKV-BACKUP-1\n"


def encode_blob(payload: dict[str, Any]) -> str:
    raw = _MAGIC + zlib.compress(json.dumps(payload, separators=(",", ":")).encode())
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_blob(blob: Any, kind: Kind) -> dict[str, Any]:
    corrupt = bad_parameter("Backup blob contains invalid or corrupt version.")
    if not isinstance(blob, str) or not blob:
        raise corrupt
    try:
        raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
        if not raw.startswith(_MAGIC):
            raise corrupt
        payload = json.loads(zlib.decompress(raw[len(_MAGIC):]))
    except (binascii.Error, ValueError, zlib.error) as e:
        raise corrupt from e
    if not isinstance(payload, dict) or payload.get("kind") != kind.noun or not payload.get("versions"):
        raise corrupt
    return payload


def check_restore(ctx: Ctx, kind: Kind, vault: VaultLike, payload: dict[str, Any]) -> str:
    """The name to restore; refuses another subscription's backup and names already in use."""
    if str(payload.get("subscription", "")).lower() != vault.subscription_id.lower():
        raise VaultError(403, "Forbidden",
                         f"Restoring a {kind.noun} is only allowed in a vault of the subscription it was backed up "
                         "from.")
    name = str(payload.get("name", ""))
    check_name(name)
    rows = all_rows(ctx, kind, vault, name)
    if rows and rows[-1].deleted_at is not None:
        raise _is_deleted_conflict(kind, name)
    if rows:
        raise VaultError(409, "Conflict", f"{kind.title} {name} already exists.")
    return name


def backup(ctx: Ctx, vault: VaultLike, name: str) -> str:
    check_name(name)
    rows = active_rows(ctx, SECRETS, vault, name)
    versions = [{"version": r.version, "value": r.value, "contentType": r.content_type, "tags": r.tags,
                 "enabled": r.enabled, "nbf": r.not_before, "exp": r.expires, "created": r.created_at,
                 "updated": r.updated_at} for r in rows]
    events.record(ctx, "keyvault.secret.backedUp", subject(vault, SECRETS, rows[-1].name))
    return encode_blob({"kind": "secret", "subscription": vault.subscription_id, "name": rows[-1].name,
                        "versions": versions})


def restore(ctx: Ctx, vault: VaultLike, blob: Any) -> VaultSecret:
    payload = decode_blob(blob, SECRETS)
    name = check_restore(ctx, SECRETS, vault, payload)
    row = None
    for v in payload["versions"]:
        row = VaultSecret(vault_name=vault.name, name=name, name_key=name.lower(), version=v["version"],
                          value=v["value"], content_type=v.get("contentType"), tags=v.get("tags") or {},
                          enabled=bool(v.get("enabled", True)), not_before=v.get("nbf"), expires=v.get("exp"),
                          created_at=v["created"], updated_at=v["updated"])
        ctx.session.add(row)
    ctx.session.flush()
    events.record(ctx, "keyvault.secret.restored", subject(vault, SECRETS, name))
    assert row is not None
    return row
