"""`Microsoft.KeyVault/vaults/secrets` as an ARM child resource (templates create secrets this way).

The secret lives in the data plane's store only (domain.vault_secrets): a PUT sets a new version there (none when it
repeats the current version exactly, as Key Vault does: a redeployment makes none), GET and list read the current
version back, so ARM and the vault's own endpoint never disagree. `value` is never returned, as in Azure.
"""

from __future__ import annotations

import re
from typing import Any

from arm_sim.core import ids
from arm_sim.core.errors import bad_request, not_found
from arm_sim.db.models import Vault, VaultSecret
from arm_sim.domain import vault_secrets, vaults
from arm_sim.domain.context import Ctx
from arm_sim.providers.base import Doc

SECRET_TYPE = "Microsoft.KeyVault/vaults/secrets"
_SECRET_NAME = re.compile(r"^[A-Za-z0-9-]{1,127}$")


def vault_of(ctx: Ctx, path: ids.ArmPath) -> Vault:
    """The active vault a `vaults/{v}/…` path names (the ARM host already checked the parent row exists)."""
    vault = vaults.vault_by_name(ctx, path.parts[-1].names[0])
    if vault is None or vault.state != vaults.ACTIVE or vault.resource_key != ids.key(path.parent_id):
        raise not_found("ParentResourceNotFound", "Can not perform requested operation on nested resource. Parent "
                        f"resource '{path.parts[-1].names[0]}' not found.")
    return vault


def _epoch(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request("BadRequest", f"An invalid value was provided for 'attributes.{field}'.")
    return float(value)


def doc(ctx: Ctx, vault: Vault, vault_id: str, row: VaultSecret) -> Doc:
    base = vaults.vault_uri(ctx, vault).rstrip("/")
    attributes: dict[str, Any] = {"enabled": row.enabled, "created": int(row.created_at),
                                  "updated": int(row.updated_at)}
    if row.not_before is not None:
        attributes["nbf"] = int(row.not_before)
    if row.expires is not None:
        attributes["exp"] = int(row.expires)
    props: dict[str, Any] = {"attributes": attributes, "secretUri": f"{base}/secrets/{row.name}",
                             "secretUriWithVersion": f"{base}/secrets/{row.name}/{row.version}"}
    if row.content_type is not None:
        props = {"contentType": row.content_type, **props}
    return {"id": f"{vault_id}/secrets/{row.name}", "name": row.name, "type": SECRET_TYPE,
            "location": vault.location, "tags": dict(row.tags or {}), "properties": props}


def _checked(body: dict[str, Any], *, value_required: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """(properties, attributes) of a PUT or PATCH body, refused with ARM's errors when malformed."""
    props = body.get("properties") if "properties" in body or value_required else {}
    if not isinstance(props, dict) or (value_required and not isinstance(props.get("value"), str)):
        raise bad_request("BadRequest", "The parameter properties.value is not specified.")
    if "value" in props and not isinstance(props["value"], str):
        raise bad_request("BadRequest", "An invalid value was provided for 'value'.")
    attrs = props.get("attributes") or {}
    if not isinstance(attrs, dict) or not isinstance(attrs.get("enabled", True), bool):
        raise bad_request("BadRequest", "An invalid value was provided for 'attributes'.")
    for field in ("nbf", "exp"):
        _epoch(attrs.get(field), field)
    content_type = props.get("contentType")
    if content_type is not None and not isinstance(content_type, str):
        raise bad_request("BadRequest", "An invalid value was provided for 'contentType'.")
    tags = body.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise bad_request("InvalidTag", "The tags must be an object whose values are strings.")
    return props, attrs


def put(ctx: Ctx, path: ids.ArmPath, body: dict[str, Any]) -> tuple[Doc, bool]:
    vault = vault_of(ctx, path)
    name = path.name
    if not _SECRET_NAME.match(name):
        raise bad_request("BadRequest", f"The secret name '{name}' is invalid: use 1-127 letters, digits and "
                          "hyphens.")
    props, attrs = _checked(body, value_required=True)
    latest = vaults.latest_secrets(ctx, vault, name)
    asked = (props["value"], props.get("contentType"), dict(body.get("tags") or {}), attrs.get("enabled", True),
             _epoch(attrs.get("nbf"), "nbf"), _epoch(attrs.get("exp"), "exp"))
    if latest and asked == (latest[0].value, latest[0].content_type, dict(latest[0].tags or {}), latest[0].enabled,
                            latest[0].not_before, latest[0].expires):
        return get(ctx, path, vault), False  # as Key Vault: the same secret again is no new version (redeployments)
    vault_secrets.set_secret(ctx, vault, name, asked[0], content_type=asked[1], tags=asked[2], enabled=asked[3],
                             not_before=asked[4], expires=asked[5])
    ctx.session.flush()
    created = not latest
    return get(ctx, path, vault), created


def patch(ctx: Ctx, path: ids.ArmPath, body: dict[str, Any]) -> Doc:
    """Secrets_Update: what the body names changes, the rest stays. A new value is a new version (as a PUT);
    otherwise the current version's attributes, content type and tags change in place."""
    vault = vault_of(ctx, path)
    current = get_row(ctx, path, vault)
    props, attrs = _checked(body, value_required=False)
    if "value" in props:
        old = {"enabled": current.enabled, "nbf": current.not_before, "exp": current.expires}
        merged = {**old, **attrs}
        vault_secrets.set_secret(ctx, vault, current.name, props["value"],
                                 content_type=props.get("contentType", current.content_type),
                                 tags=body["tags"] if "tags" in body else dict(current.tags or {}),
                                 enabled=merged["enabled"], not_before=_epoch(merged["nbf"], "nbf"),
                                 expires=_epoch(merged["exp"], "exp"))
    else:  # the data plane's own update, in its request shape
        changes: dict[str, Any] = {"attributes": attrs} if "attributes" in props else {}
        if "contentType" in props:
            changes["contentType"] = props["contentType"]
        if "tags" in body:
            changes["tags"] = body["tags"] or {}
        vault_secrets.update(ctx, vault, current.name, current.version, changes)
    ctx.session.flush()
    return get(ctx, path, vault)


def get_row(ctx: Ctx, path: ids.ArmPath, vault: Vault) -> VaultSecret:
    rows = vaults.latest_secrets(ctx, vault, path.name)
    if not rows:
        raise not_found("ResourceNotFound", f"The Resource 'Microsoft.KeyVault/vaults/{vault.name}/secrets/"
                        f"{path.name}' under resource group '{path.resource_group}' was not found. For more details "
                        "please go to https://aka.ms/ARMResourceNotFoundFix")
    return rows[0]


def get(ctx: Ctx, path: ids.ArmPath, vault: Vault | None = None) -> Doc:
    vault = vault or vault_of(ctx, path)
    return doc(ctx, vault, path.parent_id, get_row(ctx, path, vault))


def list_(ctx: Ctx, path: ids.ArmPath) -> list[Doc]:
    vault = vault_of(ctx, path)
    return [doc(ctx, vault, path.parent_id, row) for row in vaults.latest_secrets(ctx, vault)]
