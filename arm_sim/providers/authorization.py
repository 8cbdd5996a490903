"""Microsoft.Authorization: role definitions (built-in and custom) and role assignments.

Role assignments are ordinary ARM resources at any scope, so they are deleted with the resource they sit
on; the hooks keep `domain.rbac`'s decision index in step. Deleting a principal leaves its assignments
in place (orphans), as Azure does.
"""

from __future__ import annotations

import re
from typing import Any

from arm_sim.core import ids
from arm_sim.core.errors import DomainError, bad_request
from arm_sim.db.models import ServicePrincipal
from arm_sim.domain import rbac, tenancy
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx
from arm_sim.domain.rbac_builtins import BUILT_IN_ROLES, RoleDefinition
from arm_sim.providers.base import Doc, Provider

ASSIGNMENT = "microsoft.authorization/roleassignments"
DEFINITION = "microsoft.authorization/roledefinitions"
PRINCIPAL_TYPES = ("User", "Group", "ServicePrincipal", "ForeignGroup", "Device")
_FILTER_PRINCIPAL = re.compile(r"principalId\s+eq\s+'([^']+)'", re.IGNORECASE)
_FILTER_ASSIGNED = re.compile(r"assignedTo\('([^']+)'\)", re.IGNORECASE)
_FILTER_ROLE_NAME = re.compile(r"roleName\s+eq\s+'((?:[^']|'')+)'", re.IGNORECASE)
_FILTER_TYPE = re.compile(r"type\s+eq\s+'(BuiltInRole|CustomRole)'", re.IGNORECASE)


def _scope_of(path: ids.ArmPath) -> str:
    return path.prefix(len(path.parts) - 1) or "/"


def _principal_visible(ctx: Ctx, principal_id: str) -> bool:
    sp = ctx.session.get(ServicePrincipal, principal_id)
    return sp is not None and ctx.now - sp.created_at >= ctx.settings.directory_delay


class AuthorizationProvider(Provider):
    namespace = "Microsoft.Authorization"
    delete_returns_body = True

    def validate(self, ctx: Ctx, path: ids.ArmPath, doc: Doc, before: Doc | None) -> None:
        kind = path.resource_type.lower()
        if kind == ASSIGNMENT:
            self._validate_assignment(ctx, path, doc, before)
        elif kind == DEFINITION:
            self._validate_definition(ctx, path, doc)

    def _validate_assignment(self, ctx: Ctx, path: ids.ArmPath, doc: Doc, before: Doc | None) -> None:
        if not rbac.is_guid(path.name):
            raise bad_request("InvalidRoleAssignmentId",
                              f"The role assignment ID '{path.name}' is not valid. The role assignment ID must be a "
                              "GUID.")
        props: dict[str, Any] = doc.get("properties") or {}
        role_id, principal = props.get("roleDefinitionId"), props.get("principalId")
        if not role_id or not principal:
            raise bad_request("BadRequest",
                              "A role assignment needs properties.roleDefinitionId and properties.principalId.")
        scope = _scope_of(path)
        if rbac.role_definition(ctx, str(role_id)) is None:
            raise bad_request("RoleDefinitionDoesNotExist",
                              f"The specified role definition with ID '{str(role_id).rsplit('/', 1)[-1]}' does not "
                              "exist.")
        ptype = props.get("principalType")
        if ptype is not None and ptype not in PRINCIPAL_TYPES:
            raise bad_request("InvalidPrincipalType", f"The principal type '{ptype}' is not valid.")
        old = (before or {}).get("properties") or {}
        if before is not None and (old.get("principalId") != principal or ids.key(old.get("scope", "")) !=
                                   ids.key(scope) or _guid(old.get("roleDefinitionId")) != _guid(role_id)):
            raise bad_request("RoleAssignmentUpdateNotPermitted",
                              "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.")
        if ptype is None and not _principal_visible(ctx, str(principal)):
            tenant = tenancy.subscription_tenant(ctx, path.subscription or "") or ""
            raise bad_request(
                "PrincipalNotFound",
                f"Principal {str(principal).replace('-', '')} does not exist in the directory {tenant}. Check that "
                "you have the correct principal ID. If you are creating this principal and then immediately "
                "assigning a role, this error might be related to a replication delay. In this case, set the role "
                "assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See "
                "https://aka.ms/docs-principaltype")
        existing = rbac.find_assignment(ctx, str(principal), _guid(role_id), scope)
        if existing is not None and ids.key(existing.id) != ids.key(path.id):
            raise DomainError(409, "RoleAssignmentExists",
                              f"The role assignment already exists. The ID of the existing role assignment is "
                              f"{existing.name.replace('-', '')}.")
        caller = ctx.caller.object_id if ctx.caller else None
        doc["properties"] = {
            "roleDefinitionId": role_id, "principalId": principal, "principalType": ptype or "ServicePrincipal",
            "scope": scope, "condition": props.get("condition"), "conditionVersion": props.get("conditionVersion"),
            "description": props.get("description"),
            "createdOn": old.get("createdOn") or iso(ctx.now), "updatedOn": iso(ctx.now),
            "createdBy": old.get("createdBy") or caller, "updatedBy": caller,
            "delegatedManagedIdentityResourceId": props.get("delegatedManagedIdentityResourceId"),
        }

    def _validate_definition(self, ctx: Ctx, path: ids.ArmPath, doc: Doc) -> None:
        if not rbac.is_guid(path.name):
            raise bad_request("InvalidRoleDefinitionId", f"The role definition ID '{path.name}' is not valid.")
        if path.name.lower() in {r.name for r in BUILT_IN_ROLES}:
            raise DomainError(403, "AuthorizationFailed",
                              "Built-in role definitions cannot be changed.")
        props: dict[str, Any] = doc.get("properties") or {}
        scopes = props.get("assignableScopes")
        if not props.get("roleName") or not isinstance(scopes, list) or not scopes:
            raise bad_request("BadRequest",
                              "A custom role needs properties.roleName and at least one of assignableScopes.")
        for scope in scopes:
            if not isinstance(scope, str) or not ids.key(scope).startswith(f"/subscriptions/{path.subscription}"
                                                                           .lower()):
                raise bad_request("BadRequest",
                                  f"The assignable scope '{scope}' is not valid for this subscription.")
        perms = props.get("permissions")
        if not isinstance(perms, list) or not perms or not isinstance(perms[0], dict):
            raise bad_request("BadRequest", "A custom role needs properties.permissions with one entry.")
        doc["properties"] = {
            "roleName": props["roleName"], "description": props.get("description", ""), "type": "CustomRole",
            "permissions": [{k: list(perms[0].get(k) or []) for k in ("actions", "notActions", "dataActions",
                                                                       "notDataActions")}],
            "assignableScopes": scopes, "createdOn": iso(ctx.now), "updatedOn": iso(ctx.now),
        }

    def on_put(self, ctx: Ctx, before: Doc | None, after: Doc) -> None:
        if after["type"].lower() == ASSIGNMENT:
            after["properties"].pop("provisioningState", None)
            rbac.index_assignment(ctx, after)
        elif after["type"].lower() == DEFINITION:
            after["properties"].pop("provisioningState", None)

    def on_delete(self, ctx: Ctx, doc: Doc) -> None:
        kind = doc["type"].lower()
        if kind == ASSIGNMENT:
            rbac.unindex_assignment(ctx, doc["id"])
        elif kind == DEFINITION and rbac.assignments_of_role(ctx, doc["name"]):
            raise DomainError(409, "RoleDefinitionHasAssignments",
                              "There are existing role assignments referencing role "
                              f"(code: RoleDefinitionHasAssignments) '{doc['name']}'.")

    def render(self, ctx: Ctx, doc: Doc, api_version: str) -> Doc:
        return {k: v for k, v in doc.items() if k not in ("location", "tags", "etag", "systemData")} | {
            "properties": {k: v for k, v in doc["properties"].items() if k != "provisioningState"}}

    def virtual_get(self, ctx: Ctx, path: ids.ArmPath) -> Doc | None:
        if path.resource_type.lower() != DEFINITION:
            return None
        role = rbac.role_definition(ctx, path.name)
        return _definition_doc(role, path.subscription) if role is not None and role.role_type == "BuiltInRole" \
            else None

    def virtual_list(self, ctx: Ctx, path: ids.ArmPath, query: dict[str, str]) -> list[Doc] | None:
        kind = path.resource_type.lower()
        flt = query.get("$filter") or ""
        if kind == DEFINITION:
            return _list_definitions(ctx, path, flt)
        if kind == ASSIGNMENT:
            return _list_assignments(ctx, path, flt)
        return None


def _guid(role_id: Any) -> str:
    return str(role_id or "").rstrip("/").rsplit("/", 1)[-1].lower()


def _definition_doc(role: RoleDefinition, subscription: str | None) -> Doc:
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


def _list_definitions(ctx: Ctx, path: ids.ArmPath, flt: str) -> list[Doc]:
    name = _FILTER_ROLE_NAME.search(flt)
    kind = _FILTER_TYPE.search(flt)
    if flt and not (name or kind):
        raise bad_request("BadRequest",
                          f"The $filter '{flt}' is not supported. Use roleName eq '…' or type eq 'BuiltInRole'.")
    docs = [_definition_doc(r, path.subscription) for r in BUILT_IN_ROLES]
    docs += rbac.custom_definitions(ctx)
    if name:
        wanted = name.group(1).replace("''", "'").lower()
        docs = [d for d in docs if d["properties"]["roleName"].lower() == wanted]
    if kind:
        docs = [d for d in docs if d["properties"]["type"].lower() == kind.group(1).lower()]
    return docs


def _list_assignments(ctx: Ctx, path: ids.ArmPath, flt: str) -> list[Doc]:
    """At a scope: assignments there, above (inherited) and below; `atScope()` keeps only there and above."""
    principal = _FILTER_PRINCIPAL.search(flt) or _FILTER_ASSIGNED.search(flt)
    if flt and not principal and "atscope()" not in flt.lower():
        raise bad_request("BadRequest", f"The $filter '{flt}' is not supported. Use atScope(), principalId eq '…' "
                                        "or assignedTo('…').")
    return rbac.list_assignments(ctx, _scope_of(path), at_scope="atscope()" in flt.lower(),
                                 principal_id=principal.group(1) if principal else None)
