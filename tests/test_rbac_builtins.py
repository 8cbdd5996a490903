"""Built-in role data (shape, GUIDs, lookups) and Azure's action-pattern matching over it."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import sys
import uuid
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from arm_sim.domain import rbac_builtins
from arm_sim.domain.rbac_builtins import (
    BUILT_IN_ROLES,
    BY_NAME,
    BY_ROLE_NAME,
    SOURCE,
    Permission,
    RoleDefinition,
    action_matches,
    permits,
)
from tests.simserver import Sim

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# The roles this module promises, with their published GUIDs.
REQUIRED = {
    "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    "Role Based Access Control Administrator": "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
    "Managed Identity Operator": "f1a07417-d97a-45cb-824c-7a7467783830",
    "Managed Identity Contributor": "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59",
    "Virtual Machine Contributor": "9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
    "Key Vault Administrator": "00482a5a-887f-4fb3-b363-3b7fe8e74483",
    "Key Vault Secrets Officer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Key Vault Crypto Officer": "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
    "Key Vault Crypto User": "12338af0-0e69-4776-bea7-57ae8d297424",
    "Key Vault Reader": "21090545-7ca7-4776-b22c-e363652d74d2",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "AcrPush": "8311e382-0749-4cb8-b61a-304f252e45ec",
}

UAMI = "Microsoft.ManagedIdentity/userAssignedIdentities"
KV = "Microsoft.KeyVault/vaults"
BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"

# Key Vault data actions, as listed under Microsoft.KeyVault in
# https://learn.microsoft.com/azure/role-based-access-control/permissions/security
KV_DATA_ACTIONS = (
    f"{KV}/secrets/getSecret/action",
    f"{KV}/secrets/setSecret/action",
    f"{KV}/secrets/readMetadata/action",
    f"{KV}/secrets/delete",
    f"{KV}/keys/read",
    f"{KV}/keys/create/action",
    f"{KV}/keys/encrypt/action",
    f"{KV}/keys/decrypt/action",
    f"{KV}/keys/purge/action",
    f"{KV}/certificates/read",
)


def _all_patterns(role: RoleDefinition) -> tuple[str, ...]:
    return role.actions + role.not_actions + role.data_actions + role.not_data_actions


# ------------------------------------------------------------------------------------------ data shape


@pytest.mark.parametrize("role", BUILT_IN_ROLES, ids=lambda r: r.role_name)
def test_role_is_well_formed(role: RoleDefinition) -> None:
    # Strings are kept exactly as Azure publishes them: a few carry a trailing space (the role name
    # "Azure Arc VMware Administrator role ", five descriptions, one pattern), and four roles grant nothing.
    assert GUID.match(role.name), role.name
    assert str(uuid.UUID(role.name)) == role.name
    assert role.id == f"/providers/Microsoft.Authorization/roleDefinitions/{role.name}"
    assert role.role_name.strip() and role.description.strip()
    assert role.role_type == "BuiltInRole"
    assert role.assignable_scopes and all(s.startswith("/") for s in role.assignable_scopes)
    for field in ("actions", "not_actions", "data_actions", "not_data_actions", "assignable_scopes"):
        value = getattr(role, field)
        assert isinstance(value, tuple), field
        assert all(isinstance(p, str) and p.strip() for p in value), field
    for pattern in _all_patterns(role):
        assert " " not in pattern.strip() and not pattern.startswith("/"), pattern
    if role.permissions:  # the published blocks, when kept, are what the flat lists concatenate
        for flat, part in (("actions", "actions"), ("not_actions", "not_actions"),
                           ("data_actions", "data_actions"), ("not_data_actions", "not_data_actions")):
            assert getattr(role, flat) == tuple(p for b in role.permissions for p in getattr(b, part))


def test_role_is_frozen() -> None:
    with pytest.raises(AttributeError):
        BUILT_IN_ROLES[0].role_name = "Someone"  # type: ignore[misc]


def test_guids_and_role_names_are_unique() -> None:
    names = [r.name.lower() for r in BUILT_IN_ROLES]
    role_names = [r.role_name.lower() for r in BUILT_IN_ROLES]
    assert len(set(names)) == len(names)
    assert len(set(role_names)) == len(role_names)


def test_lookup_tables_cover_every_role() -> None:
    assert len(BY_NAME) == len(BY_ROLE_NAME) == len(BUILT_IN_ROLES)
    for role in BUILT_IN_ROLES:
        assert BY_NAME[role.name.lower()] is role
        assert BY_ROLE_NAME[role.role_name.lower()] is role
    assert all(k == k.lower() for k in BY_NAME)
    assert all(k == k.lower() for k in BY_ROLE_NAME)


@pytest.mark.parametrize(("role_name", "guid"), sorted(REQUIRED.items()))
def test_required_role_present_with_published_guid(role_name: str, guid: str) -> None:
    role = BY_ROLE_NAME[role_name.lower()]
    assert role.role_name == role_name
    assert role.name == guid
    assert BY_NAME[guid] is role


def test_module_is_pure_stdlib() -> None:
    tree = ast.parse(Path(rbac_builtins.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            roots = [(node.module or "").split(".")[0]]
        else:
            continue
        for root in roots:
            assert root in sys.stdlib_module_names or root == "__future__", root


# ------------------------------------------------------------------------------------------ matching

MATCH_CASES = [
    # exact, case-insensitive
    ("Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/read", True),
    ("Microsoft.Compute/virtualMachines/read", "microsoft.compute/VIRTUALMACHINES/Read", True),
    ("Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/write", True),
    # no implicit prefix / suffix matching
    ("Microsoft.Compute/virtualMachines", "Microsoft.Compute/virtualMachines/read", False),
    ("Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/readX", False),
    ("Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines", False),
    # '*' alone and trailing '*' span any number of segments
    ("*", "Microsoft.Compute/virtualMachines/write", True),
    ("*", f"{KV}/secrets/getSecret/action", True),
    ("Microsoft.CostManagement/exports/*", "Microsoft.CostManagement/exports/run/action", True),
    ("Microsoft.CostManagement/exports/*", "Microsoft.CostManagement/exports/read", True),
    ("Microsoft.CostManagement/exports/*", "Microsoft.CostManagement/exportsX/read", False),
    ("Microsoft.CostManagement/exports/*", "Microsoft.CostManagement/exports", False),
    (f"{KV}/*", f"{KV}/secrets/getSecret/action", True),
    # leading '*/' spans providers and nested types
    ("*/read", "Microsoft.Compute/virtualMachines/read", True),
    ("*/read", "Microsoft.Network/virtualNetworks/subnets/read", True),
    ("*/read", "Microsoft.Compute/virtualMachines/write", False),
    ("*/read", f"{KV}/secrets/readMetadata/action", False),
    # a middle '/*/' spans one or more segments...
    ("Microsoft.Authorization/*/read", "Microsoft.Authorization/roleAssignments/read", True),
    ("Microsoft.Authorization/*/read", "Microsoft.Authorization/policySetDefinitions/versions/read", True),
    ("Microsoft.Authorization/*/read", "Microsoft.Authorization/roleAssignments/write", False),
    ("Microsoft.Authorization/*/read", "Microsoft.Compute/virtualMachines/read", False),
    # ...or none: the segment may be absent (Managed Identity Operator, Key Vault roles)
    (f"{UAMI}/*/assign/action", f"{UAMI}/assign/action", True),
    (f"{UAMI}/*/assign/action", f"{UAMI}/federatedIdentityCredentials/assign/action", True),
    (f"{UAMI}/*/assign/action", f"{UAMI}/write", False),
    (f"{UAMI}/*/read", f"{UAMI}/read", True),
    (f"{KV}/*/read", f"{KV}/read", True),
    (f"{KV}/*/read", f"{KV}/secrets/read", True),
    (f"{KV}/*/read", "Microsoft.KeyVault/vaultsread", False),
    # '.' and '?' are literal, not regex/glob
    ("Microsoft.Compute/virtualMachines/read", "MicrosoftXCompute/virtualMachines/read", False),
    ("Microsoft.Compute/virtualMachines/rea?", "Microsoft.Compute/virtualMachines/read", False),
    # empty strings never match
    ("", "Microsoft.Compute/virtualMachines/read", False),
    ("*", "", False),
]


@pytest.mark.parametrize(("pattern", "action", "expected"), MATCH_CASES)
def test_action_matches(pattern: str, action: str, expected: bool) -> None:
    assert action_matches(pattern, action) is expected


# ------------------------------------------------------------------------------------------ permits


def _role(role_name: str) -> RoleDefinition:
    return BY_ROLE_NAME[role_name.lower()]


CONTROL = False
DATA = True

PERMIT_CASES = [
    # Owner: everything on the control plane, including RBAC writes
    ("Owner", "Microsoft.Authorization/roleAssignments/write", CONTROL, True),
    ("Owner", "Microsoft.Authorization/roleAssignments/delete", CONTROL, True),
    ("Owner", "Microsoft.Compute/virtualMachines/write", CONTROL, True),
    ("Owner", f"{UAMI}/assign/action", CONTROL, True),
    # Contributor: everything except what NotActions subtracts
    ("Contributor", "Microsoft.Authorization/roleAssignments/write", CONTROL, False),
    ("Contributor", "Microsoft.Authorization/roleAssignments/delete", CONTROL, False),
    ("Contributor", "Microsoft.Authorization/roleDefinitions/write", CONTROL, False),
    ("Contributor", "Microsoft.Authorization/elevateAccess/action", CONTROL, False),
    ("Contributor", "Microsoft.Authorization/roleAssignments/read", CONTROL, True),
    ("Contributor", "Microsoft.Compute/virtualMachines/write", CONTROL, True),
    ("Contributor", "Microsoft.Compute/galleries/share/action", CONTROL, False),
    ("Contributor", f"{UAMI}/assign/action", CONTROL, True),
    ("Contributor", f"{KV}/write", CONTROL, True),
    # Reader: */read only
    ("Reader", "Microsoft.Compute/virtualMachines/read", CONTROL, True),
    ("Reader", "Microsoft.Resources/subscriptions/resourceGroups/read", CONTROL, True),
    ("Reader", "Microsoft.Authorization/roleAssignments/read", CONTROL, True),
    ("Reader", f"{UAMI}/read", CONTROL, True),
    ("Reader", "Microsoft.Compute/virtualMachines/write", CONTROL, False),
    ("Reader", "Microsoft.Compute/virtualMachines/delete", CONTROL, False),
    ("Reader", "Microsoft.Authorization/roleAssignments/write", CONTROL, False),
    ("Reader", f"{UAMI}/assign/action", CONTROL, False),
    ("Reader", f"{KV}/secrets/getSecret/action", DATA, False),
    # User Access Administrator / RBAC Administrator
    ("User Access Administrator", "Microsoft.Authorization/roleAssignments/write", CONTROL, True),
    ("User Access Administrator", "Microsoft.Authorization/roleDefinitions/write", CONTROL, True),
    ("User Access Administrator", "Microsoft.Compute/virtualMachines/write", CONTROL, False),
    ("Role Based Access Control Administrator", "Microsoft.Authorization/roleAssignments/write", CONTROL, True),
    ("Role Based Access Control Administrator", "Microsoft.Authorization/roleAssignments/delete", CONTROL, True),
    ("Role Based Access Control Administrator", "Microsoft.Authorization/roleDefinitions/write", CONTROL, False),
    ("Role Based Access Control Administrator", "Microsoft.Authorization/policyAssignments/write", CONTROL, False),
    ("Role Based Access Control Administrator", "Microsoft.Compute/virtualMachines/read", CONTROL, True),
    # Managed Identity Operator: read and assign, nothing else on identities
    ("Managed Identity Operator", f"{UAMI}/assign/action", CONTROL, True),
    ("Managed Identity Operator", f"{UAMI}/read", CONTROL, True),
    ("Managed Identity Operator", f"{UAMI}/federatedIdentityCredentials/read", CONTROL, True),
    ("Managed Identity Operator", f"{UAMI}/write", CONTROL, False),
    ("Managed Identity Operator", f"{UAMI}/delete", CONTROL, False),
    ("Managed Identity Operator", "Microsoft.Compute/virtualMachines/write", CONTROL, False),
    # Managed Identity Contributor (current revision: no assign/action)
    ("Managed Identity Contributor", f"{UAMI}/write", CONTROL, True),
    ("Managed Identity Contributor", f"{UAMI}/delete", CONTROL, True),
    ("Managed Identity Contributor", f"{UAMI}/federatedIdentityCredentials/write", CONTROL, True),
    ("Managed Identity Contributor", f"{UAMI}/assign/action", CONTROL, False),
    # Virtual Machine Contributor: VMs yes, identities / vnets / RBAC no
    ("Virtual Machine Contributor", "Microsoft.Compute/virtualMachines/write", CONTROL, True),
    ("Virtual Machine Contributor", "Microsoft.Compute/virtualMachines/start/action", CONTROL, True),
    ("Virtual Machine Contributor", "Microsoft.Network/virtualNetworks/subnets/join/action", CONTROL, True),
    ("Virtual Machine Contributor", "Microsoft.Network/virtualNetworks/write", CONTROL, False),
    ("Virtual Machine Contributor", f"{UAMI}/assign/action", CONTROL, False),
    ("Virtual Machine Contributor", "Microsoft.Authorization/roleAssignments/write", CONTROL, False),
    # Key Vault Secrets User: read secret values and metadata only
    ("Key Vault Secrets User", f"{KV}/secrets/getSecret/action", DATA, True),
    ("Key Vault Secrets User", f"{KV}/secrets/readMetadata/action", DATA, True),
    ("Key Vault Secrets User", f"{KV}/secrets/setSecret/action", DATA, False),
    ("Key Vault Secrets User", f"{KV}/secrets/delete", DATA, False),
    ("Key Vault Secrets User", f"{KV}/keys/read", DATA, False),
    ("Key Vault Secrets User", f"{KV}/secrets/getSecret/action", CONTROL, False),
    ("Key Vault Secrets User", f"{KV}/read", CONTROL, False),
    # Key Vault Secrets Officer: all secret data actions, nothing on keys
    ("Key Vault Secrets Officer", f"{KV}/secrets/getSecret/action", DATA, True),
    ("Key Vault Secrets Officer", f"{KV}/secrets/setSecret/action", DATA, True),
    ("Key Vault Secrets Officer", f"{KV}/secrets/delete", DATA, True),
    ("Key Vault Secrets Officer", f"{KV}/secrets/purge/action", DATA, True),
    ("Key Vault Secrets Officer", f"{KV}/keys/read", DATA, False),
    ("Key Vault Secrets Officer", f"{KV}/read", CONTROL, True),
    ("Key Vault Secrets Officer", f"{KV}/write", CONTROL, False),
    # Key Vault Administrator: all data, but no vault management and no RBAC writes
    ("Key Vault Administrator", f"{KV}/read", CONTROL, True),
    ("Key Vault Administrator", f"{KV}/write", CONTROL, False),
    ("Key Vault Administrator", "Microsoft.Authorization/roleAssignments/write", CONTROL, False),
    # Key Vault Crypto Officer / User
    ("Key Vault Crypto Officer", f"{KV}/keys/create/action", DATA, True),
    ("Key Vault Crypto Officer", f"{KV}/keys/delete", DATA, True),
    ("Key Vault Crypto Officer", f"{KV}/secrets/getSecret/action", DATA, False),
    ("Key Vault Crypto User", f"{KV}/keys/encrypt/action", DATA, True),
    ("Key Vault Crypto User", f"{KV}/keys/sign/action", DATA, True),
    ("Key Vault Crypto User", f"{KV}/keys/create/action", DATA, False),
    ("Key Vault Crypto User", f"{KV}/keys/delete", DATA, False),
    # Key Vault Reader: metadata, never values
    ("Key Vault Reader", f"{KV}/secrets/readMetadata/action", DATA, True),
    ("Key Vault Reader", f"{KV}/keys/read", DATA, True),
    ("Key Vault Reader", f"{KV}/secrets/getSecret/action", DATA, False),
    ("Key Vault Reader", f"{KV}/read", CONTROL, True),
    # Key Vault Contributor: manages vaults, no data access, no purge
    ("Key Vault Contributor", f"{KV}/write", CONTROL, True),
    ("Key Vault Contributor", "Microsoft.KeyVault/locations/deletedVaults/purge/action", CONTROL, False),
    ("Key Vault Contributor", f"{KV}/secrets/getSecret/action", DATA, False),
    # Storage blob roles
    ("Storage Blob Data Reader", f"{BLOBS}/read", DATA, True),
    ("Storage Blob Data Reader", f"{BLOBS}/write", DATA, False),
    ("Storage Blob Data Reader", f"{BLOBS}/delete", DATA, False),
    ("Storage Blob Data Reader", "Microsoft.Storage/storageAccounts/blobServices/containers/read", CONTROL, True),
    ("Storage Blob Data Reader", "Microsoft.Storage/storageAccounts/listKeys/action", CONTROL, False),
    ("Storage Blob Data Contributor", f"{BLOBS}/read", DATA, True),
    ("Storage Blob Data Contributor", f"{BLOBS}/write", DATA, True),
    ("Storage Blob Data Contributor", f"{BLOBS}/delete", DATA, True),
    ("Storage Blob Data Contributor", f"{BLOBS}/modifyPermissions/action", DATA, False),
    ("Storage Blob Data Owner", f"{BLOBS}/modifyPermissions/action", DATA, True),
    ("Owner", f"{BLOBS}/read", DATA, False),
    ("Contributor", f"{BLOBS}/read", DATA, False),
]


@pytest.mark.parametrize(("role_name", "action", "data", "expected"), PERMIT_CASES)
def test_permits(role_name: str, action: str, data: bool, expected: bool) -> None:
    assert permits(_role(role_name), action, data=data) is expected


@pytest.mark.parametrize("action", KV_DATA_ACTIONS)
def test_key_vault_administrator_allows_every_key_vault_data_action(action: str) -> None:
    assert permits(_role("Key Vault Administrator"), action, data=True)


@pytest.mark.parametrize("role_name", ["Owner", "Contributor"])
@pytest.mark.parametrize("action", KV_DATA_ACTIONS)
def test_owner_and_contributor_grant_no_key_vault_data_action(role_name: str, action: str) -> None:
    assert not permits(_role(role_name), action, data=True)


def test_permits_defaults_to_control_plane() -> None:
    secrets_user = _role("Key Vault Secrets User")
    assert not permits(secrets_user, f"{KV}/secrets/getSecret/action")
    assert permits(_role("Reader"), "Microsoft.Compute/virtualMachines/read")


# ------------------------------------------------------------------------------------------ Azure's full set


def test_the_data_is_azures_full_published_set() -> None:
    assert len(BUILT_IN_ROLES) > 500
    assert SOURCE["generator"] == "scripts/gen_builtin_roles.py"
    assert SOURCE["count"] == len(BUILT_IN_ROLES)
    for source in SOURCE["inputs"]:
        # each input names its repository and the commit that was read
        assert re.search(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40} ", source["origin"]), source
        assert re.fullmatch(r"[0-9a-f]{64}", source["sha256"])
    raw = json.loads(resources.files("arm_sim.domain").joinpath("data/builtin_roles.json").read_bytes())
    assert [r["name"] for r in raw["roles"]] == [r.name for r in BUILT_IN_ROLES]


# (GUID, roleName, a sample of actions, the exact dataActions) as Azure publishes them
WELL_KNOWN = [
    ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner", ("*",), ()),
    ("b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor", ("*",), ()),
    ("acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader", ("*/read",), ()),
    ("17d1049b-9a84-46fb-8f53-869881c3d3ab", "Storage Account Contributor",
     ("Microsoft.Storage/storageAccounts/*", "Microsoft.Authorization/*/read"), ()),
    ("4633458b-17de-408a-b874-0445c86b69e6", "Key Vault Secrets User", (),
     ("Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action")),
    ("a638d3c7-ab3a-418d-83e6-5f17a39d4fde", "Azure Event Hubs Data Receiver",
     ("Microsoft.EventHub/*/eventhubs/consumergroups/read",), ("Microsoft.EventHub/*/receive/action",)),
    ("2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", "Storage Blob Data Reader",
     ("Microsoft.Storage/storageAccounts/blobServices/containers/read",),
     ("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",)),
    ("bda0d508-adf1-4af0-9c28-88919fc3ae06", "Azure Stack HCI Administrator",
     ("Microsoft.AzureStackHCI/clusters/*",), ()),
]


@pytest.mark.parametrize(("guid", "role_name", "actions", "data_actions"), WELL_KNOWN, ids=lambda v: str(v)[:40])
def test_well_known_roles(guid: str, role_name: str, actions: tuple[str, ...], data_actions: tuple[str, ...]) -> None:
    role = BY_NAME[guid]
    assert role.role_name == role_name and BY_ROLE_NAME[role_name.lower()] is role
    assert role.id == f"/providers/Microsoft.Authorization/roleDefinitions/{guid}"
    assert set(actions) <= set(role.actions)
    assert role.data_actions == data_actions


NEW_PERMIT_CASES = [
    ("Storage Account Contributor", "Microsoft.Storage/storageAccounts/write", CONTROL, True),
    ("Storage Account Contributor", "Microsoft.Storage/storageAccounts/listKeys/action", CONTROL, True),
    ("Storage Account Contributor", "Microsoft.Storage/storageAccounts/blobServices/containers/write", CONTROL, True),
    ("Storage Account Contributor", f"{BLOBS}/read", DATA, False),
    ("Storage Account Contributor", "Microsoft.Compute/virtualMachines/write", CONTROL, False),
    ("Storage Account Contributor", "Microsoft.Authorization/roleAssignments/write", CONTROL, False),
    ("Azure Event Hubs Data Receiver", "Microsoft.EventHub/namespaces/eventhubs/messages/receive/action", DATA, True),
    ("Azure Event Hubs Data Receiver", "Microsoft.EventHub/namespaces/eventhubs/messages/send/action", DATA, False),
    ("Azure Event Hubs Data Receiver", "Microsoft.EventHub/namespaces/eventhubs/consumergroups/read", CONTROL, True),
    # a role published with two permission blocks: the second (with an ABAC condition) grants assignments
    ("Storage Actions Task Assignment Contributor", "Microsoft.Authorization/roleAssignments/write", CONTROL, True),
    ("Storage Actions Task Assignment Contributor", "Microsoft.Storage/storageAccounts/read", CONTROL, True),
    ("Storage Actions Task Assignment Contributor", "Microsoft.Storage/storageAccounts/write", CONTROL, False),
]


@pytest.mark.parametrize(("role_name", "action", "data", "expected"), NEW_PERMIT_CASES)
def test_permits_roles_from_the_full_set(role_name: str, action: str, data: bool, expected: bool) -> None:
    assert permits(_role(role_name), action, data=data) is expected


def test_blocks_are_evaluated_one_by_one() -> None:
    # a block's NotActions subtract from that block's Actions only
    role = RoleDefinition(
        name=str(uuid.uuid4()), role_name="two blocks", description="x",
        actions=("Microsoft.Storage/*", "Microsoft.Storage/storageAccounts/listKeys/action"),
        not_actions=("Microsoft.Storage/storageAccounts/listKeys/action",), data_actions=(), not_data_actions=(),
        permissions=(
            Permission(("Microsoft.Storage/*",), ("Microsoft.Storage/storageAccounts/listKeys/action",), (), ()),
            Permission(("Microsoft.Storage/storageAccounts/listKeys/action",), (), (), (), condition="true"),
        ),
    )
    assert permits(role, "Microsoft.Storage/storageAccounts/listKeys/action")
    assert permits(role, "Microsoft.Storage/storageAccounts/write")
    flat = RoleDefinition(role.name, role.role_name, role.description, role.actions, role.not_actions, (), ())
    assert not permits(flat, "Microsoft.Storage/storageAccounts/listKeys/action")


# ------------------------------------------------------------------------------------------ the generator


def _generator() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "scripts" / "gen_builtin_roles.py"
    spec = importlib.util.spec_from_file_location("gen_builtin_roles", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# Two roles of articles/role-based-access-control/built-in-roles/privileged.md (MicrosoftDocs/azure-docs at
# 0b8729eaf7eb0aabc6390cb17348d19761285f12), in the page's layout: a heading, prose, a table, the JSON.
DOCS_PAGE = """---
title: Azure built-in roles for Privileged - Azure RBAC
ms.topic: generated-reference
---

# Azure built-in roles for Privileged

## Owner

Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.

> [!div class="mx-tableFixed"]
> | Actions | Description |
> | --- | --- |
> | * | Create and manage resources of all types |

```json
{
  "assignableScopes": [
    "/"
  ],
  "description": "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
  "id": "/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
  "name": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
  "permissions": [
    {
      "actions": [
        "*"
      ],
      "notActions": [],
      "dataActions": [],
      "notDataActions": []
    }
  ],
  "roleName": "Owner",
  "roleType": "BuiltInRole",
  "type": "Microsoft.Authorization/roleDefinitions"
}
```

## Reservations Administrator

Lets one read and manage all the reservations in a tenant

```json
{
  "assignableScopes": [
    "/providers/Microsoft.Capacity"
  ],
  "description": "Lets one read and manage all the reservations in a tenant",
  "id": "/providers/Microsoft.Authorization/roleDefinitions/a8889054-8d42-49c9-bc1c-52486c10e7cd",
  "name": "a8889054-8d42-49c9-bc1c-52486c10e7cd",
  "permissions": [
    {
      "actions": [
        "Microsoft.Capacity/*/read",
        "Microsoft.Capacity/*/action",
        "Microsoft.Capacity/*/write",
        "Microsoft.Authorization/roleAssignments/read",
        "Microsoft.Authorization/roleDefinitions/read",
        "Microsoft.Authorization/roleAssignments/write",
        "Microsoft.Authorization/roleAssignments/delete"
      ],
      "notActions": [],
      "dataActions": [],
      "notDataActions": []
    }
  ],
  "roleName": "Reservations Administrator",
  "roleType": "BuiltInRole",
  "type": "Microsoft.Authorization/roleDefinitions"
}
```

## Next steps
"""


def test_generator_reads_documentation_pages() -> None:
    gen = _generator()
    roles = gen.roles_from_docs([("privileged.md", DOCS_PAGE.encode())], "docs")
    assert [r["roleName"] for r in roles] == ["Owner", "Reservations Administrator"]
    owner, reservations = roles
    assert owner["id"] == rbac_builtins.OWNER.id and owner["permissions"][0]["actions"] == ["*"]
    assert reservations["assignableScopes"] == ["/providers/Microsoft.Capacity"]
    assert reservations["permissions"][0]["actions"][-1] == "Microsoft.Authorization/roleAssignments/delete"
    assert owner["from"] == "docs:privileged.md"


def test_generator_reads_az_output_and_merges(tmp_path: Path) -> None:
    gen = _generator()
    docs = tmp_path / "built-in-roles"
    docs.mkdir()
    (docs / "privileged.md").write_text(DOCS_PAGE)
    rest = {"value": [
        {"id": f"/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/{rbac_builtins.OWNER.name}",
         "name": rbac_builtins.OWNER.name, "type": "Microsoft.Authorization/roleDefinitions",
         "properties": {"roleName": "Owner", "type": "BuiltInRole", "description": "newer", "assignableScopes": ["/"],
                        "permissions": [{"actions": ["*"], "condition": None}]}},
        {"id": "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/x", "name": str(uuid.uuid4()),
         "properties": {"roleName": "mine", "type": "CustomRole", "permissions": [{"actions": ["*"]}]}},
    ]}
    az = tmp_path / "az.json"
    az.write_text(json.dumps(rest))
    out = tmp_path / "out.json"
    assert gen.main(["--docs", str(docs), "--az", str(az), "--origin", "docs=a/b@c x", "--out", str(out),
                     "--min-count", "2"]) == 0
    data: dict[str, Any] = json.loads(out.read_text())
    assert [i["kind"] for i in data["source"]["inputs"]] == ["docs", "az"]
    assert data["source"]["inputs"][0]["origin"] == "a/b@c x"
    by_name = {r["roleName"]: r for r in data["roles"]}
    assert sorted(by_name) == ["Owner", "Reservations Administrator"]  # the custom role is not kept
    assert by_name["Owner"]["description"] == "newer" and by_name["Owner"]["from"] == "az"  # the later input wins
    assert gen.main(["--docs", str(docs), "--out", str(tmp_path / "few.json")]) == 1  # fewer than 500: refused


# ------------------------------------------------------------------------------------------ through ARM

STORAGE_ACCOUNT_CONTRIBUTOR = "17d1049b-9a84-46fb-8f53-869881c3d3ab"
EVENT_HUBS_DATA_RECEIVER = "a638d3c7-ab3a-418d-83e6-5f17a39d4fde"
STACK_HCI_ADMINISTRATOR = "bda0d508-adf1-4af0-9c28-88919fc3ae06"
API = "api-version=2022-04-01"


def _definition_id(sim: Sim, guid: str) -> str:
    return f"/subscriptions/{sim.subscription}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def test_roles_beyond_the_old_subset_are_assignable_and_enforced(sim: Sim, rg_name: str) -> None:
    rg = f"/subscriptions/{sim.subscription}/resourceGroups/{rg_name}"
    with sim.http() as c:
        assert c.put(f"{rg}?api-version=2025-04-01", json={"location": "eastus"}).status_code in (200, 201)
        got = c.get(f"{_definition_id(sim, STORAGE_ACCOUNT_CONTRIBUTOR)}?{API}")
        assert got.status_code == 200 and got.json()["properties"]["roleName"] == "Storage Account Contributor"
        listed = c.get(f"/subscriptions/{sim.subscription}/providers/Microsoft.Authorization/roleDefinitions",
                       params={"api-version": "2022-04-01", "$filter": "type eq 'BuiltInRole'"}).json()["value"]
        assert len(listed) == len(BUILT_IN_ROLES)
        app = c.post("/_sim/applications", json={"displayName": f"sac-{uuid.uuid4().hex[:8]}"}).json()
        principal = app["servicePrincipalObjectId"]
        for guid in (STORAGE_ACCOUNT_CONTRIBUTOR, EVENT_HUBS_DATA_RECEIVER, STACK_HCI_ADMINISTRATOR):
            r = c.put(f"{rg}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}?{API}",
                      json={"properties": {"roleDefinitionId": _definition_id(sim, guid), "principalId": principal,
                                           "principalType": "ServicePrincipal"}})
            assert r.status_code == 201, r.text
            assert r.json()["properties"]["roleDefinitionId"].lower().endswith(guid)
    token = httpx.post(f"{sim.url}/{sim.tenant}/oauth2/v2.0/token", verify=sim.ca, data={
        "grant_type": "client_credentials", "client_id": app["appId"], "client_secret": app["clientSecret"],
        "scope": "https://management.azure.com/.default"}).json()["access_token"]
    account = f"{rg}/providers/Microsoft.Storage/storageAccounts/sac{uuid.uuid4().hex[:10]}?api-version=2023-01-01"
    identity = f"{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/denied?api-version=2024-11-30"
    with httpx.Client(base_url=sim.url, verify=sim.ca, headers={"Authorization": f"Bearer {token}"}) as c:
        assert c.put(account, json={"location": "eastus"}).status_code == 200  # Microsoft.Storage/storageAccounts/*
        r = c.put(identity, json={"location": "eastus"})
        assert r.status_code == 403
        assert "Microsoft.ManagedIdentity/userAssignedIdentities/write" in r.json()["error"]["message"]
