"""An independent Azure RBAC evaluator for the authorization matrix (tests/test_authz_matrix.py).

Nothing here comes from arm_sim: the rules are Azure's, as its documentation states them.

* A role assignment grants an action at a scope when it is assigned at that scope or at one of its ancestors
  (resource -> resource group -> subscription), and its role definition permits the action
  ("Understand scope for Azure RBAC": https://learn.microsoft.com/azure/role-based-access-control/scope-overview).
* A role definition permits an action when some permission block has an `actions` pattern matching it and no
  `notActions` pattern of that block does; data-plane operations use `dataActions` / `notDataActions` the same
  way, and the two planes never mix: Owner's `*` holds no data action
  ("Understand Azure role definitions": https://learn.microsoft.com/azure/role-based-access-control/role-definitions).
* Patterns compare case-insensitively and `*` matches any run of characters, `/` included (`*/read` covers
  every provider's reads) ("Azure custom roles", "Wildcard permissions":
  https://learn.microsoft.com/azure/role-based-access-control/custom-roles).
* Key Vault in access-policy mode ignores Azure RBAC on its data plane: an access policy entry whose tenantId
  and objectId are the caller's must list the permission (or `all`)
  ("Azure Key Vault security", https://learn.microsoft.com/azure/key-vault/general/security-features;
  "Assign a Key Vault access policy", https://learn.microsoft.com/azure/key-vault/general/assign-access-policy).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Block:
    """One `permissions` entry of a role definition."""

    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Role:
    """A role definition as the Authorization API returns it."""

    guid: str
    name: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Grant:
    """A role assignment: this role at this scope."""

    scope: str
    role: Role


def pattern_matches(pattern: str, action: str) -> bool:
    """Whether an Actions/NotActions/DataActions/NotDataActions pattern covers `action`."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, action, re.IGNORECASE) is not None


def _any(patterns: Iterable[str], action: str) -> bool:
    return any(pattern_matches(p, action) for p in patterns)


def role_permits(role: Role, action: str, data: bool = False) -> bool:
    for b in role.blocks:
        allow, deny = (b.data_actions, b.not_data_actions) if data else (b.actions, b.not_actions)
        if _any(allow, action) and not _any(deny, action):
            return True
    return False


def _key(scope: str) -> str:
    return "/" + scope.strip("/").lower()


def at_or_above(assigned: str, target: str) -> bool:
    """Whether an assignment at `assigned` reaches `target` (the same scope or one inside it)."""
    a, t = _key(assigned), _key(target)
    return t == a or t.startswith(a.rstrip("/") + "/")


def at_above_or_below(assigned: str, target: str) -> bool:
    """Whether an assignment sits at, above or anywhere below `target`."""
    return at_or_above(assigned, target) or at_or_above(target, assigned)


def permitted(grants: Sequence[Grant], action: str, scope: str, data: bool = False) -> bool:
    """Whether some assignment at `scope` or above grants `action` (control or data plane)."""
    return any(at_or_above(g.scope, scope) and role_permits(g.role, action, data) for g in grants)


def policy_permits(policies: Sequence[tuple[str, str, tuple[str, ...]]], tenant: str, object_id: str,
                   permission: str) -> bool:
    """Key Vault access-policy mode: (tenantId, objectId, secret permissions) entries."""
    return any(t.lower() == tenant.lower() and o.lower() == object_id.lower()
               and {p.lower() for p in perms} & {"all", permission.lower()}
               for t, o, perms in policies)
