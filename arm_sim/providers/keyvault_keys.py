"""`Microsoft.KeyVault/vaults/keys` as an ARM child resource (templates create keys this way).

The key lives in the data plane's store only (domain.vault_keys): GET and list read its current version back, so
ARM and the vault's own endpoint never disagree. ARM's PUT is Azure's `Keys_CreateIfNotExist`: it creates the
first version when the name is free and otherwise returns the existing key without writing anything (no new
version, no update). Key material is never returned; ARM has no DELETE for keys (the data plane deletes them).
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from arm_sim.core import ids
from arm_sim.core.errors import bad_request, not_found
from arm_sim.db.models import Vault, VaultKey
from arm_sim.domain import vault_keys, vault_secrets, vaults
from arm_sim.domain.context import Ctx
from arm_sim.providers.base import Doc
from arm_sim.providers.keyvault_secrets import vault_of

KEY_TYPE = "Microsoft.KeyVault/vaults/keys"
_KTYS = ("RSA", "RSA-HSM", "EC", "EC-HSM")


def _live(ctx: Ctx, vault: Vault, name: str) -> VaultKey | None:
    """The current version of the key, or None when absent or soft-deleted."""
    rows = [r for r in vault_secrets.all_rows(ctx, vault_keys.KEYS, vault, name) if r.deleted_at is None]
    return rows[-1] if rows else None


def doc(ctx: Ctx, vault: Vault, vault_id: str, row: VaultKey) -> Doc:
    base = vaults.vault_uri(ctx, vault).rstrip("/")
    attributes: dict[str, Any] = {"enabled": bool(row.enabled)}
    if row.not_before is not None:
        attributes["nbf"] = int(row.not_before)
    if row.expires is not None:
        attributes["exp"] = int(row.expires)
    attributes.update(created=int(row.created_at), updated=int(row.updated_at),
                      recoveryLevel=vaults.recovery_level(ctx, vault), exportable=False)
    key = vault_keys.load(row)
    props: dict[str, Any] = {"attributes": attributes, "kty": row.kty, "keyOps": list(row.key_ops or [])}
    if isinstance(key, rsa.RSAPrivateKey):
        props["keySize"] = key.key_size
    else:
        props["curveName"] = row.curve
    props.update(keyUri=f"{base}/keys/{row.name}", keyUriWithVersion=f"{base}/keys/{row.name}/{row.version}")
    return {"id": f"{vault_id}/keys/{row.name}", "name": row.name, "type": KEY_TYPE, "location": vault.location,
            "tags": dict(row.tags or {}), "properties": props}


def _create_body(body: dict[str, Any]) -> dict[str, Any]:
    """ARM's KeyCreateParameters -> the data plane's create body (`vault_keys.create` validates the rest)."""
    props = body.get("properties")
    if not isinstance(props, dict):
        raise bad_request("BadRequest", "The parameter properties is not specified.")
    kty = props.get("kty")
    if kty not in _KTYS:
        raise bad_request("BadRequest", f"The parameter 'kty' is invalid: {kty}. Supported key types: "
                          f"{', '.join(_KTYS)}.")
    # templates pass "" (or 0) for the field that does not apply to the key type: that means "not given"
    size, curve = props.get("keySize") or None, props.get("curveName") or None
    if size is not None and (isinstance(size, bool) or not isinstance(size, int)):
        raise bad_request("BadRequest", "An invalid value was provided for 'keySize'.")
    if curve is not None and not isinstance(curve, str):
        raise bad_request("BadRequest", "An invalid value was provided for 'curveName'.")
    if str(kty).startswith("RSA") and curve is not None:
        raise bad_request("BadRequest", f"The parameter 'curveName' is not valid for key type {kty}.")
    if str(kty).startswith("EC") and size is not None:
        raise bad_request("BadRequest", f"The parameter 'keySize' is not valid for key type {kty}.")
    attrs = props.get("attributes")
    if attrs is not None and not isinstance(attrs, dict):
        raise bad_request("BadRequest", "An invalid value was provided for 'attributes'.")
    out: dict[str, Any] = {"kty": kty, "key_size": size, "crv": curve, "key_ops": props.get("keyOps"),
                           "tags": body.get("tags") or {}}
    if attrs:
        out["attributes"] = {k: attrs[k] for k in ("enabled", "nbf", "exp") if k in attrs}
    return out


def put(ctx: Ctx, path: ids.ArmPath, body: dict[str, Any]) -> tuple[Doc, bool]:
    vault = vault_of(ctx, path)
    request = _create_body(body)  # a malformed body is refused even when the key exists, as Azure validates first
    existing = _live(ctx, vault, path.name)
    if existing is not None:  # create-if-not-exist: the existing key, untouched
        return doc(ctx, vault, path.parent_id, existing), False
    row = vault_keys.create(ctx, vault, path.name, request)
    ctx.session.flush()
    return doc(ctx, vault, path.parent_id, row), True


def get(ctx: Ctx, path: ids.ArmPath) -> Doc:
    vault = vault_of(ctx, path)
    row = _live(ctx, vault, path.name)
    if row is None:
        raise not_found("ResourceNotFound", f"The Resource 'Microsoft.KeyVault/vaults/{vault.name}/keys/"
                        f"{path.name}' under resource group '{path.resource_group}' was not found. For more details "
                        "please go to https://aka.ms/ARMResourceNotFoundFix")
    return doc(ctx, vault, path.parent_id, row)


def list_(ctx: Ctx, path: ids.ArmPath) -> list[Doc]:
    vault = vault_of(ctx, path)
    rows = vault_secrets.latest_per_name(ctx, vault_keys.KEYS, vault, deleted=False)
    return [doc(ctx, vault, path.parent_id, row) for row in rows]
