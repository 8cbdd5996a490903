"""Microsoft.Authorization/roleDefinitions: custom role definitions, their validation and their listing.

A custom role's GUID is unique in its tenant: ARM shows one definition under that GUID whatever scope names
it, so a second definition with the GUID at another scope is refused rather than stored beside the first
(two copies would let a role assignment resolve to a definition its author never wrote). Writing a
definition needs `roleDefinitions/write` at every scope the definition can be assigned at, before and after
the write (deleting it, `roleDefinitions/delete` at each): what a role grants at a scope is decided by whoever
may write roles there.
"""

from __future__ import annotations

import re
from typing import Any

from arm_sim.core import ids
from arm_sim.core.errors import DomainError, bad_request
from arm_sim.domain import rbac, tenancy
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx
from arm_sim.domain.rbac_builtins import BUILT_IN_ROLES, RoleDefinition
from arm_sim.providers.base import Doc

WRITE_ACTION = "Microsoft.Authorization/roleDefinitions/write"
DELETE_ACTION = "Microsoft.Authorization/roleDefinitions/delete"
PERMISSION_FIELDS = ("actions", "notActions", "dataActions", "notDataActions")
_FILTER_ROLE_NAME = re.compile(r"roleName\s+eq\s+'((?:[^']|'')+)'", re.IGNORECASE)
_FILTER_TYPE = re.compile(r"type\s+eq\s+'(BuiltInRole|CustomRole)'", re.IGNORECASE)
_BUILT_IN_NAMES = frozenset(r.name for r in BUILT_IN_ROLES)


def _scope_of(path: ids.ArmPath) -> str:
    return path.prefix(len(path.parts) - 1) or "/"


def _assignable_scope(ctx: Ctx, scope: Any, tenant: str | None) -> str:
    """A subscription, resource group or resource id of the definition's tenant."""
    invalid = bad_request("BadRequest", f"The assignable scope '{scope}' is not valid.")
    if not isinstance(scope, str) or not scope.startswith("/"):
        raise invalid
    try:
        parsed = ids.parse(scope)
    except DomainError:
        raise invalid from None
    if parsed.subscription is None or parsed.tail or (parsed.parts and parsed.is_collection):
        raise invalid
    if tenancy.subscription_tenant(ctx, parsed.subscription) != tenant:
        raise bad_request("BadRequest", f"The assignable scope '{scope}' is not valid: subscription "
                                        f"'{parsed.subscription}' was not found in the directory '{tenant}'.")
    return scope


def _permissions(perms: Any) -> list[dict[str, list[str]]]:
    if not isinstance(perms, list) or not perms or not isinstance(perms[0], dict):
        raise bad_request("BadRequest", "A custom role needs properties.permissions with one entry.")
    out: dict[str, list[str]] = {}
    for k in PERMISSION_FIELDS:
        value = perms[0].get(k) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad_request("BadRequest", f"properties.permissions[0].{k} must be an array of strings.")
        out[k] = list(value)
    return [out]


def validate_definition(ctx: Ctx, path: ids.ArmPath, doc: Doc, before: Doc | None) -> None:
    if not rbac.is_guid(path.name):
        raise bad_request("InvalidRoleDefinitionId", f"The role definition ID '{path.name}' is not valid.")
    if path.name.lower() in _BUILT_IN_NAMES:
        raise DomainError(409, "RoleDefinitionExists", "The role definition ID is already in use by a built-in role.")
    props: dict[str, Any] = doc.get("properties") or {}
    scopes, role_name = props.get("assignableScopes"), props.get("roleName")
    if not isinstance(role_name, str) or not role_name.strip() or not isinstance(scopes, list) or not scopes:
        raise bad_request("BadRequest",
                          "A custom role needs properties.roleName and at least one of assignableScopes.")
    tenant = tenancy.subscription_tenant(ctx, path.subscription or "")
    scopes = [_assignable_scope(ctx, s, tenant) for s in scopes]
    permissions = _permissions(props.get("permissions"))
    guid = path.name.lower()
    elsewhere = [r for r in rbac.definition_rows(ctx, guid, tenant) if r.key != ids.key(path.id)]
    if elsewhere:
        raise DomainError(409, "RoleDefinitionWithSameNameExists",
                          f"A role definition with ID '{guid}' already exists in this directory at scope "
                          f"'{_scope_of(ids.parse(elsewhere[0].id))}'. Role definition IDs are unique in a "
                          "directory: update it at that scope, or use a new ID.")
    for other in custom_definitions(ctx, tenant):
        if other["name"].lower() != guid and str(other["properties"].get("roleName", "")).lower() == \
                role_name.strip().lower():
            raise DomainError(409, "RoleDefinitionWithSameNameExists",
                              "A custom role with the same name already exists in this directory.")
    old = (before or {}).get("properties") or {}
    # the scopes it will be assignable at, and those it was: a rewrite changes what it grants at both
    for scope in dict.fromkeys([*scopes, *(old.get("assignableScopes") or [])]):
        rbac.enforce(ctx, WRITE_ACTION, scope)
    # Azure's GET shows who created and last updated a custom role (object ids, as the az CLI's recordings show);
    # its PUT answer shows createdBy null, which arm-sim does not copy: the answer is the stored definition
    caller = ctx.caller.object_id if ctx.caller else None
    doc["properties"] = {
        "roleName": role_name, "description": props.get("description") or "", "type": "CustomRole",
        "permissions": permissions, "assignableScopes": scopes,
        "createdOn": old.get("createdOn") or iso(ctx.now), "updatedOn": iso(ctx.now),
        "createdBy": old.get("createdBy") or (caller if before is None else None), "updatedBy": caller,
    }


def check_delete(ctx: Ctx, doc: Doc) -> None:
    """Deleting a definition takes away what it grants wherever it is assignable: delete permission at each."""
    for scope in (doc.get("properties") or {}).get("assignableScopes") or []:
        if isinstance(scope, str):
            rbac.enforce(ctx, DELETE_ACTION, scope)


def custom_definitions(ctx: Ctx, tenant: str | None) -> list[Doc]:
    """The tenant's custom role definitions (each with the `subscriptionId` it is stored under)."""
    return [d for d in rbac.custom_definitions(ctx)
            if tenant is not None and tenancy.subscription_tenant(ctx, d["subscriptionId"] or "") == tenant]


def definition_doc(role: RoleDefinition, subscription: str | None) -> Doc:
    prefix = f"/subscriptions/{subscription}" if subscription else ""
    return {
        "id": f"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{role.name}", "name": role.name,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": role.role_name, "type": role.role_type, "description": role.description,
            "assignableScopes": list(role.assignable_scopes),
            "permissions": [{"actions": list(role.actions), "notActions": list(role.not_actions),
                             "dataActions": list(role.data_actions), "notDataActions": list(role.not_data_actions)}],
            "createdOn": "2015-02-02T21:55:09.8806423Z", "updatedOn": "2025-01-01T00:00:00.0000000Z",
            "createdBy": None, "updatedBy": None,
        },
    }


def list_definitions(ctx: Ctx, path: ids.ArmPath, flt: str) -> list[Doc]:
    name = _FILTER_ROLE_NAME.search(flt)
    kind = _FILTER_TYPE.search(flt)
    if flt and not (name or kind):
        raise bad_request("BadRequest",
                          f"The $filter '{flt}' is not supported. Use roleName eq '…' or type eq 'BuiltInRole'.")
    wanted = name.group(1).replace("''", "'").lower() if name else None
    wanted_type = kind.group(1).lower() if kind else None

    def kept(role_name: str, role_type: str) -> bool:
        return (wanted is None or role_name.lower() == wanted) and (wanted_type is None or role_type.lower() ==
                                                                    wanted_type)

    # the filter runs on the built-in roles before their documents are built (issue 18): the az CLI asks with
    # `roleName eq '…'` for one role, which used to build all ~900 documents to keep one
    docs = [definition_doc(r, path.subscription) for r in BUILT_IN_ROLES if kept(r.role_name, r.role_type)]
    tenant = tenancy.subscription_tenant(ctx, path.subscription) if path.subscription else None
    docs += [{k: v for k, v in d.items() if k != "subscriptionId"} for d in custom_definitions(ctx, tenant)
             if kept(str(d["properties"]["roleName"]), str(d["properties"]["type"]))]
    return docs
