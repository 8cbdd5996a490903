"""Key Vault access policies: validation with Key Vault's own errors and the add/replace/remove merge rules.

Permission names are compared case-insensitively (clients send "Get" as well as "get") and kept as the client
sent them, as Azure echoes them.
"""

from __future__ import annotations

import re
from typing import Any

from arm_sim.core.errors import bad_request

MAX_POLICIES = 1024
KINDS = ("keys", "secrets", "certificates", "storage")
PERMISSIONS: dict[str, frozenset[str]] = {
    "keys": frozenset({
        "all", "encrypt", "decrypt", "wrapkey", "unwrapkey", "sign", "verify", "get", "list", "create", "update",
        "import", "delete", "backup", "restore", "recover", "purge", "release", "rotate", "getrotationpolicy",
        "setrotationpolicy"}),
    "secrets": frozenset({"all", "get", "list", "set", "delete", "backup", "restore", "recover", "purge"}),
    "certificates": frozenset({
        "all", "get", "list", "delete", "create", "import", "update", "managecontacts", "getissuers",
        "listissuers", "setissuers", "deleteissuers", "manageissuers", "recover", "purge", "backup", "restore"}),
    "storage": frozenset({
        "all", "get", "list", "delete", "set", "update", "regeneratekey", "recover", "purge", "backup", "restore",
        "setsas", "listsas", "getsas", "deletesas"}),
}
OPERATIONS = ("add", "replace", "remove")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _invalid_policies() -> Exception:
    return bad_request("BadRequest", "An invalid value was provided for 'accessPolicies'.")


def _invalid_at(index: int, field: str, value: Any) -> Exception:
    return bad_request("BadRequest", f"Invalid value found at accessPolicies[{index}].{field}: {value}")


def normalize_entry(raw: Any, index: int, vault_tenant: str) -> dict[str, Any]:
    """One entry, checked: tenantId = the vault's tenant, objectId a GUID, known permission names."""
    if not isinstance(raw, dict):
        raise _invalid_policies()
    tenant, object_id, app_id = raw.get("tenantId"), raw.get("objectId"), raw.get("applicationId")
    if not isinstance(tenant, str) or tenant.lower() != vault_tenant.lower():
        raise _invalid_at(index, "TenantId", tenant)
    if not isinstance(object_id, str) or not _GUID.match(object_id):
        raise _invalid_at(index, "ObjectId", object_id)
    if app_id is not None and (not isinstance(app_id, str) or not _GUID.match(app_id)):
        raise _invalid_at(index, "ApplicationId", app_id)
    perms = raw.get("permissions")
    if not isinstance(perms, dict):
        raise _invalid_policies()
    checked: dict[str, list[str]] = {}
    for kind, names in perms.items():
        if kind not in KINDS:
            raise _invalid_policies()
        if names is None:
            continue
        if not isinstance(names, list) or not all(isinstance(n, str) and n.lower() in PERMISSIONS[kind]
                                                  for n in names):
            raise _invalid_policies()
        checked[kind] = list(names)
    entry: dict[str, Any] = {"tenantId": tenant, "objectId": object_id}
    if app_id is not None:
        entry["applicationId"] = app_id
    entry["permissions"] = checked
    return entry


def normalize(raw: Any, vault_tenant: str) -> list[dict[str, Any]]:
    """A whole list: at most 1024 entries, objectId unique in the list."""
    if not isinstance(raw, list):
        raise _invalid_policies()
    if len(raw) > MAX_POLICIES:
        raise bad_request("BadRequest", f"The number of access policies ({len(raw)}) exceeds the maximum of "
                          f"{MAX_POLICIES} for a key vault.")
    out, seen = [], set()
    for i, item in enumerate(raw):
        entry = normalize_entry(item, i, vault_tenant)
        if entry["objectId"].lower() in seen:
            raise _invalid_at(i, "ObjectId", entry["objectId"])
        seen.add(entry["objectId"].lower())
        out.append(entry)
    return out


def _key(entry: dict[str, Any]) -> tuple[str, str]:
    return entry["tenantId"].lower(), entry["objectId"].lower()


def _union(have: list[str], more: list[str]) -> list[str]:
    out, known = list(have), {p.lower() for p in have}
    for p in more:
        if p.lower() not in known:
            out.append(p)
            known.add(p.lower())
    return out


def apply(operation: str, current: list[dict[str, Any]], given: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """accessPolicies/{operation}, entry by entry (tenantId, objectId); entries not named are never touched.
    add: a new entry, or the named permissions joined to each category of the existing one; replace: the entry's
    permissions (and applicationId) become exactly the given ones, in place (a new entry is appended); remove: the
    named permissions leave each category, and an entry left with none goes."""
    merged = [dict(e, permissions={k: list(v) for k, v in (e.get("permissions") or {}).items()}) for e in current]
    index = {_key(e): e for e in merged}
    for entry in given:
        target = index.get(_key(entry))
        if target is None:
            if operation != "remove":
                merged.append(entry)
                index[_key(entry)] = entry
        elif operation == "replace":
            merged[merged.index(target)] = index[_key(entry)] = entry
        elif operation == "add":
            for kind, names in entry["permissions"].items():
                target["permissions"][kind] = _union(target["permissions"].get(kind) or [], names)
        else:
            _remove(target, entry)
            if not any(target["permissions"].values()):
                merged.remove(target)
                del index[_key(target)]
    if len(merged) > MAX_POLICIES:
        raise bad_request("BadRequest", f"The number of access policies ({len(merged)}) exceeds the maximum of "
                          f"{MAX_POLICIES} for a key vault.")
    return merged


def _remove(target: dict[str, Any], entry: dict[str, Any]) -> None:
    for kind, names in entry["permissions"].items():
        drop = {n.lower() for n in names}
        if kind in target["permissions"]:
            target["permissions"][kind] = [p for p in target["permissions"][kind] or [] if p.lower() not in drop]
