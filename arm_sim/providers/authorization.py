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
from arm_sim.domain.rbac_builtins import BY_NAME
from arm_sim.providers import role_definitions
from arm_sim.providers.base import Doc, Provider

ASSIGNMENT = "microsoft.authorization/roleassignments"
LOCK = "microsoft.authorization/locks"
LOCK_LEVELS = ("CanNotDelete", "ReadOnly")
DEFINITION = "microsoft.authorization/roledefinitions"
PRINCIPAL_TYPES = ("User", "Group", "ServicePrincipal", "ForeignGroup", "Device")
_FILTER_PRINCIPAL = re.compile(r"principalId\s+eq\s+'([^']+)'", re.IGNORECASE)
_FILTER_ASSIGNED = re.compile(r"assignedTo\('([^']+)'\)", re.IGNORECASE)


def _scope_of(path: ids.ArmPath) -> str:
    return path.prefix(len(path.parts) - 1) or "/"


def _principal_visible(ctx: Ctx, principal_id: str, tenant: str | None) -> bool:
    """Whether the principal is in the subscription's directory, and has been long enough to be replicated."""
    sp = ctx.session.get(ServicePrincipal, principal_id)
    return sp is not None and sp.tenant_id == tenant and ctx.now - sp.created_at >= ctx.settings.directory_delay


def _assignable_role(ctx: Ctx, role_id: str, scope: str, tenant: str | None) -> None:
    """The definition `role_id` names, in the assignment's tenant, must be assignable at `scope`.

    A role definition's GUID is unique in its directory: one of another tenant is not found; one whose
    assignableScopes do not cover `scope` is found but not available there.
    """
    missing = bad_request("RoleDefinitionDoesNotExist",
                          f"The specified role definition with ID '{rbac.role_guid(role_id)}' does not exist.")
    try:
        named = ids.parse(role_id).subscription if role_id.startswith("/") else None
    except DomainError:
        raise missing from None
    if named is not None and tenancy.subscription_tenant(ctx, named) != tenant:
        raise missing
    role = rbac.role_definition(ctx, role_id, tenant)
    if role is None:
        raise missing
    if not rbac.assignable_at(role, scope):
        raise bad_request("RoleAssignmentScopeNotAssignableToRoleDefinition",
                          f"The role {role.role_name} is not available for assignment at the requested scope.")


class AuthorizationProvider(Provider):
    namespace = "Microsoft.Authorization"
    delete_returns_body = True

    def put_status(self, type_key: str, created: bool) -> int:
        # ARM answers every role definition PUT, an update too, with 201 (the Azure CLI's recordings show it)
        return 201 if type_key == DEFINITION else super().put_status(type_key, created)

    def validate(self, ctx: Ctx, path: ids.ArmPath, doc: Doc, before: Doc | None) -> None:
        kind = path.resource_type.lower()
        if kind == ASSIGNMENT:
            self._validate_assignment(ctx, path, doc, before)
        elif kind == DEFINITION:
            role_definitions.validate_definition(ctx, path, doc, before)
        elif kind == LOCK:  # what a lock refuses is enforced on every write (resources/locks.py)
            level = (doc.get("properties") or {}).get("level")
            if level not in LOCK_LEVELS:  # no recording of Azure's refusal found: the code is arm-sim's
                raise bad_request("InvalidLockLevel", f"The lock level '{level}' is not valid: properties.level "
                                                      f"must be one of {', '.join(LOCK_LEVELS)}.")

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
        if not isinstance(role_id, str) or not isinstance(principal, str):
            raise bad_request("InvalidRequestContent",
                              "properties.roleDefinitionId and properties.principalId must be strings.")
        scope = _scope_of(path)
        tenant = tenancy.subscription_tenant(ctx, path.subscription or "")
        _assignable_role(ctx, role_id, scope, tenant)
        ptype = props.get("principalType")
        if ptype is not None and ptype not in PRINCIPAL_TYPES:
            raise bad_request("InvalidPrincipalType", f"The principal type '{ptype}' is not valid.")
        old = (before or {}).get("properties") or {}
        if before is not None and (old.get("principalId") != principal or ids.key(old.get("scope", "")) !=
                                   ids.key(scope) or _guid(old.get("roleDefinitionId")) != _guid(role_id)):
            raise bad_request("RoleAssignmentUpdateNotPermitted",
                              "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.")
        # Without principalType ARM looks the principal up in the subscription's own directory (after the
        # replication delay); with it, ARM does not wait for the directory, so an id it cannot see (another
        # tenant's principal among them) is stored as given and binds no one who can sign in to this tenant.
        if ptype is None and not _principal_visible(ctx, principal, tenant):
            raise bad_request(
                "PrincipalNotFound",
                f"Principal {principal.replace('-', '')} does not exist in the directory {tenant or ''}. Check that "
                "you have the correct principal ID. If you are creating this principal and then immediately "
                "assigning a role, this error might be related to a replication delay. In this case, set the role "
                "assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See "
                "https://aka.ms/docs-principaltype")
        existing = rbac.find_assignment(ctx, principal, _guid(role_id), scope)
        if existing is not None and ids.key(existing.id) != ids.key(path.id):
            raise DomainError(409, "RoleAssignmentExists",
                              f"The role assignment already exists. The ID of the existing role assignment is "
                              f"{existing.name.replace('-', '')}.")
        caller = ctx.caller.object_id if ctx.caller else None
        written = {
            "roleDefinitionId": role_id, "principalId": principal, "principalType": ptype or "ServicePrincipal",
            "scope": scope, "condition": props.get("condition"), "conditionVersion": props.get("conditionVersion"),
            "description": props.get("description"),
            "delegatedManagedIdentityResourceId": props.get("delegatedManagedIdentityResourceId"),
        }
        # the same assignment written again is no update: it keeps its updatedOn (what-if shows no change)
        same = before is not None and all(old.get(k) == v for k, v in written.items())
        doc["properties"] = {
            **written, "createdOn": old.get("createdOn") or iso(ctx.now),
            "updatedOn": old.get("updatedOn") if same else iso(ctx.now),
            "createdBy": old.get("createdBy") or caller, "updatedBy": old.get("updatedBy") if same else caller,
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
        elif kind == DEFINITION:
            role_definitions.check_delete(ctx, doc)
            if rbac.assignments_of_role(ctx, doc["name"]):
                raise DomainError(409, "RoleDefinitionHasAssignments",
                                  "There are existing role assignments referencing role "
                                  f"(code: RoleDefinitionHasAssignments) '{doc['name']}'.")

    def render(self, ctx: Ctx, doc: Doc, api_version: str) -> Doc:
        return {k: v for k, v in doc.items() if k not in ("location", "tags", "etag", "systemData")} | {
            "properties": {k: v for k, v in doc["properties"].items() if k != "provisioningState"}}

    def virtual_get(self, ctx: Ctx, path: ids.ArmPath) -> Doc | None:
        if path.resource_type.lower() != DEFINITION:
            return None
        role = BY_NAME.get(path.name.lower())  # a custom definition is a stored resource
        return role_definitions.definition_doc(role, path.subscription) if role is not None else None

    def virtual_list(self, ctx: Ctx, path: ids.ArmPath, query: dict[str, str]) -> list[Doc] | None:
        kind = path.resource_type.lower()
        flt = query.get("$filter") or ""
        if kind == DEFINITION:
            return role_definitions.list_definitions(ctx, path, flt)
        if kind == ASSIGNMENT:
            return _list_assignments(ctx, path, flt)
        return None


def _guid(role_id: Any) -> str:
    return str(role_id or "").rstrip("/").rsplit("/", 1)[-1].lower()


def _list_assignments(ctx: Ctx, path: ids.ArmPath, flt: str) -> list[Doc]:
    """At a scope: assignments there, above (inherited) and below; `atScope()` keeps only there and above."""
    principal = _FILTER_PRINCIPAL.search(flt) or _FILTER_ASSIGNED.search(flt)
    if flt and not principal and "atscope()" not in flt.lower():
        raise bad_request("BadRequest", f"The $filter '{flt}' is not supported. Use atScope(), principalId eq '…' "
                                        "or assignedTo('…').")
    return rbac.list_assignments(ctx, _scope_of(path), at_scope="atscope()" in flt.lower(),
                                 principal_id=principal.group(1) if principal else None)
