"""Azure's built-in role definitions, as Azure publishes them, and its action-pattern matching.

Standard library only, nothing from the rest of arm_sim.

Provenance
----------
The roles are data, not code: ``data/builtin_roles.json`` (next to this module) holds every built-in role
definition -- id, name (the GUID), roleName, description, assignableScopes and the permission blocks with
actions, notActions, dataActions, notDataActions and any ABAC condition -- exactly as published. It is written
by ``scripts/gen_builtin_roles.py`` from the built-in roles reference of the Azure documentation
(MicrosoftDocs/azure-docs, ``articles/role-based-access-control/built-in-roles/*.md``) and/or from the roles API's
own answer (``az role definition list``); the file's ``source`` (also :data:`SOURCE`) names the inputs, their
repositories and commits. Nothing here is typed by hand: to change a role, regenerate the file.

The file is read once, when this module is imported; every lookup after that is a dict look-up
(:data:`BY_NAME`, :data:`BY_ROLE_NAME`) and :func:`permits` compiles each pattern once (cached).

Shape
-----
:class:`RoleDefinition` keeps the flat lists callers render (``actions`` … ``not_data_actions``: the
concatenation of the published permission blocks, in order, duplicates kept). A role published with more than
one block, or with one block that carries an ABAC condition, also keeps its blocks in ``permissions`` (16 roles
have several blocks, each time because one carries a condition), and :func:`permits` then evaluates the blocks
one by one: a block's NotActions subtract only from that block's Actions. ABAC conditions are recorded but not
evaluated: a block with a condition grants as if it had none (as before the data was generated).

Matching
--------
See :func:`action_matches` for the wildcard rule and the sources it rests on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

_DATA_FILE = "data/builtin_roles.json"


@dataclass(frozen=True)
class Permission:
    """One entry of a role definition's ``permissions``."""

    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    data_actions: tuple[str, ...]
    not_data_actions: tuple[str, ...]
    condition: str | None = None  # ABAC condition, recorded only (not evaluated)
    condition_version: str | None = None


@dataclass(frozen=True)
class RoleDefinition:
    name: str  # the GUID
    role_name: str
    description: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    data_actions: tuple[str, ...]
    not_data_actions: tuple[str, ...]
    assignable_scopes: tuple[str, ...] = ("/",)
    role_type: str = "BuiltInRole"
    # The published permission blocks when there are several (or one with a condition); empty: a single block,
    # the flat lists above.
    permissions: tuple[Permission, ...] = ()

    @property
    def id(self) -> str:
        """The tenant-independent definition id, as in the published JSON's ``id``."""
        return f"/providers/Microsoft.Authorization/roleDefinitions/{self.name}"


# --------------------------------------------------------------------------------------------
# The published data
# --------------------------------------------------------------------------------------------


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value or ())


def _role(raw: dict[str, Any]) -> RoleDefinition:
    blocks = tuple(
        Permission(
            actions=_strings(p.get("actions")), not_actions=_strings(p.get("notActions")),
            data_actions=_strings(p.get("dataActions")), not_data_actions=_strings(p.get("notDataActions")),
            condition=p.get("condition"), condition_version=p.get("conditionVersion"),
        )
        for p in raw["permissions"]
    )
    return RoleDefinition(
        name=str(raw["name"]).lower(),
        role_name=str(raw["roleName"]),
        description=str(raw.get("description") or ""),
        actions=tuple(a for b in blocks for a in b.actions),
        not_actions=tuple(a for b in blocks for a in b.not_actions),
        data_actions=tuple(a for b in blocks for a in b.data_actions),
        not_data_actions=tuple(a for b in blocks for a in b.not_data_actions),
        assignable_scopes=_strings(raw.get("assignableScopes")) or ("/",),
        role_type=str(raw.get("roleType") or "BuiltInRole"),
        permissions=blocks if len(blocks) > 1 or blocks[0].condition else (),
    )


def _load() -> tuple[dict[str, Any], tuple[RoleDefinition, ...]]:
    data = json.loads(resources.files(__package__ or "arm_sim.domain").joinpath(_DATA_FILE).read_bytes())
    return dict(data["source"]), tuple(_role(r) for r in data["roles"])


SOURCE: dict[str, Any]
"""The data file's ``source``: generator, date, and each input (kind, origin: repository, path, commit; sha256)."""

BUILT_IN_ROLES: tuple[RoleDefinition, ...]
"""Every built-in role, ordered by roleName (case-insensitively)."""

SOURCE, BUILT_IN_ROLES = _load()

BY_NAME: dict[str, RoleDefinition] = {r.name.lower(): r for r in BUILT_IN_ROLES}
BY_ROLE_NAME: dict[str, RoleDefinition] = {r.role_name.lower(): r for r in BUILT_IN_ROLES}

# Roles the simulator and its tests name directly (looked up in the data: a regenerated file that lost one of
# them fails at import rather than at the first request that needs it).
OWNER = BY_NAME["8e3af657-a8ff-443c-a75c-2fe8c4bcb635"]
CONTRIBUTOR = BY_NAME["b24988ac-6180-42a0-ab88-20f7382dd24c"]
USER_ACCESS_ADMINISTRATOR = BY_NAME["18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"]
ROLE_BASED_ACCESS_CONTROL_ADMINISTRATOR = BY_NAME["f58310d9-a9f6-439a-9e8d-f62e7b41a168"]
READER = BY_NAME["acdd72a7-3385-48ef-bd42-f606fba81ae7"]
MANAGED_IDENTITY_OPERATOR = BY_NAME["f1a07417-d97a-45cb-824c-7a7467783830"]
MANAGED_IDENTITY_CONTRIBUTOR = BY_NAME["e40ec5ca-96e0-45a2-b4ff-59039f2c2b59"]
VIRTUAL_MACHINE_CONTRIBUTOR = BY_NAME["9980e02c-c2be-4d73-94e8-173b1dc7cf3c"]
KEY_VAULT_ADMINISTRATOR = BY_NAME["00482a5a-887f-4fb3-b363-3b7fe8e74483"]
KEY_VAULT_CERTIFICATES_OFFICER = BY_NAME["a4417e6f-fecd-4de8-b567-7b0420556985"]
KEY_VAULT_CERTIFICATE_USER = BY_NAME["db79e9a7-68ee-4b58-9aeb-b90e7c24fcba"]
KEY_VAULT_CONTRIBUTOR = BY_NAME["f25e0fa2-a7c8-4377-a976-54943a77a395"]
KEY_VAULT_CRYPTO_OFFICER = BY_NAME["14b46e9e-c2b7-41b4-b07b-48a6ebf60603"]
KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER = BY_NAME["e147488a-f6f5-4113-8e2d-b22465e65bf6"]
KEY_VAULT_CRYPTO_SERVICE_RELEASE_USER = BY_NAME["08bbd89e-9f13-488c-ac41-acfcb10c90ab"]
KEY_VAULT_CRYPTO_USER = BY_NAME["12338af0-0e69-4776-bea7-57ae8d297424"]
KEY_VAULT_DATA_ACCESS_ADMINISTRATOR = BY_NAME["8b54135c-b56d-4d72-a534-26097cfdc8d8"]
KEY_VAULT_READER = BY_NAME["21090545-7ca7-4776-b22c-e363652d74d2"]
KEY_VAULT_SECRETS_OFFICER = BY_NAME["b86a8fe4-44ce-4948-aee5-eccb2c155cd7"]
KEY_VAULT_SECRETS_USER = BY_NAME["4633458b-17de-408a-b874-0445c86b69e6"]
STORAGE_ACCOUNT_CONTRIBUTOR = BY_NAME["17d1049b-9a84-46fb-8f53-869881c3d3ab"]
STORAGE_BLOB_DATA_CONTRIBUTOR = BY_NAME["ba92f5b4-2d11-453d-a403-e96b0029c9fe"]
STORAGE_BLOB_DATA_OWNER = BY_NAME["b7e6dc6d-f1e8-4753-8033-0f276bb0955b"]
STORAGE_BLOB_DATA_READER = BY_NAME["2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"]
AZURE_MAPS_DATA_READER = BY_NAME["423170ca-a8f6-4b0f-8487-9e4eb8f49bfa"]
AZURE_MAPS_DATA_CONTRIBUTOR = BY_NAME["8f5e0ce6-4f7b-4dcf-bddf-e6f48634a204"]
STORAGE_BLOB_DELEGATOR = BY_NAME["db58b8e5-c6ad-4a2a-8342-4190687cbf4a"]
ACR_PULL = BY_NAME["7f951dda-4ed3-4680-a7ca-43fe172d538d"]
ACR_PUSH = BY_NAME["8311e382-0749-4cb8-b61a-304f252e45ec"]


# --------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=16384)
def _compile(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern[i] != "*":
            out.append(re.escape(pattern[i]))
            i += 1
            continue
        j = i
        while j < n and pattern[j] == "*":  # a run of '*' is one wildcard
            j += 1
        if i > 0 and pattern[i - 1] == "/" and j < n and pattern[j] == "/":
            # "/*/": the wildcard segment may be absent altogether ("a/*/b" matches "a/b").
            out.append("(?:.*/)?")
            i = j + 1
        else:
            out.append(".*")
            i = j
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    """Whether an Actions/NotActions/DataActions/NotDataActions ``pattern`` covers ``action``.

    The rule implemented:

    * Case-insensitive, whole-string comparison. "Permission strings are case-insensitive"
      (https://learn.microsoft.com/azure/role-based-access-control/custom-roles, just above "Wildcard permissions").
      Built-in roles rely on it: Contributor's ``Microsoft.Authorization/*/Write`` must exclude
      ``Microsoft.Authorization/roleAssignments/write``.
    * ``*`` matches any run of characters, ``/`` included: "A wildcard (*) extends a permission to everything
      that matches the action string you provide" — ``Microsoft.CostManagement/exports/*`` covers
      ``Microsoft.CostManagement/exports/run/action`` (same page, "Wildcard permissions"); ``*/read`` is
      "read operations of all Azure resource providers" (New-AzRoleDefinition reference).
    * A ``*`` that fills a whole middle segment (``/*/``) may also match *no* segment, so
      ``Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action`` covers
      ``Microsoft.ManagedIdentity/userAssignedIdentities/assign/action``. No Microsoft page states this
      in words; it is inferred from Azure's own data: the real operation is
      ``userAssignedIdentities/assign/action``
      (https://learn.microsoft.com/azure/role-based-access-control/permissions/identity#microsoftmanagedidentity),
      the Managed Identity Operator role grants it only through ``userAssignedIdentities/*/assign/action``,
      and "Managed identities for Azure resources frequently asked questions" ("Which Azure RBAC permissions
      are required to use a managed identity on a resource?") names that pattern as the action needed, while
      Azure/aad-pod-identity#443 shows the ``.../assign/action`` LinkedAuthorizationFailed being resolved by
      assigning Managed Identity Operator. Likewise the Key Vault data roles read the vault itself
      (``Microsoft.KeyVault/vaults/read``) only through ``Microsoft.KeyVault/vaults/*/read``.
    * Nothing else is special: ``.`` and ``?`` are literal, and there is no implicit prefix match
      (``Microsoft.Compute/virtualMachines`` does not cover ``Microsoft.Compute/virtualMachines/read``).
    """
    if not pattern or not action:
        return False
    return _compile(pattern).fullmatch(action) is not None


def permits(role: RoleDefinition, action: str, data: bool = False) -> bool:
    """Whether ``role`` grants ``action``: some Actions (``data``: DataActions) pattern matches it and no
    NotActions (NotDataActions) pattern does -- of the same permission block, where the role has several.

    Control-plane and data-plane lists never mix: Actions/NotActions govern control-plane operations,
    DataActions/NotDataActions data-plane ones, and the Not* lists only subtract from their own plane's
    grants ("Understand Azure role definitions",
    https://learn.microsoft.com/azure/role-based-access-control/role-definitions). So Owner's ``*`` grants
    no Key Vault secret reads. ABAC conditions are not evaluated (a conditioned block grants unconditionally).
    """
    if role.permissions:
        return any(_block_permits(b.data_actions, b.not_data_actions, action) if data
                   else _block_permits(b.actions, b.not_actions, action) for b in role.permissions)
    allow, deny = (role.data_actions, role.not_data_actions) if data else (role.actions, role.not_actions)
    return _block_permits(allow, deny, action)


def _block_permits(allow: tuple[str, ...], deny: tuple[str, ...], action: str) -> bool:
    return any(action_matches(p, action) for p in allow) and not any(action_matches(p, action) for p in deny)
