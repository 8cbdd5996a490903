"""`/_sim/explain` for Key Vault's data plane: why the vault allows or refuses an operation to a principal, by the
very decision the data plane enforces (vault_access.decide, vault_access.policy_entries), with what it considered,
what matched, what would grant it, and the near misses a learner trips on: an entry naming a deleted principal,
above all the previous identity of the same resource ("this entry names web1's previous system identity")."""

from __future__ import annotations

from typing import Any

from arm_sim.domain import vault_access, vaults
from arm_sim.domain.context import Ctx
from arm_sim.domain.identity_graph import principal_info
from arm_sim.domain.rbac_builtins import BUILT_IN_ROLES, permits
from arm_sim.domain.vault_access import Operation

_VAULTS = "/providers/microsoft.keyvault/vaults/"


def operation_for(action: str) -> Operation | None:
    """The data-plane operation an action names: a data action (`Microsoft.KeyVault/vaults/secrets/getSecret/
    action`) or an access-policy permission (`secrets/get`)."""
    wanted = action.strip().lower()
    tables = (vault_access.SECRET_OPS, vault_access.KEY_OPS, getattr(vault_access, "CERT_OPS", {}))
    for table in tables:
        for op in table.values():
            if wanted in (op.data_action.lower(), f"{op.family}/{op.permission}".lower()):
                return op
    return None


def _vault_name(scope: str) -> str | None:
    low = scope.lower()
    at = low.find(_VAULTS)
    if at < 0:
        return None
    return low[at + len(_VAULTS):].split("/", 1)[0] or None


def explain(ctx: Ctx, principal_id: str, action: str, scope: str) -> dict[str, Any] | None:
    """None when `action` at `scope` is no vault data-plane operation (RBAC alone answers it)."""
    op = operation_for(action)
    name = _vault_name(scope)
    if op is None or name is None:
        return None
    vault = vaults.vault_for_name(ctx, name)
    if vault is None:
        return {"allowed": False, "mode": "none", "reason": f"no active vault named '{name}'", "entries": [],
                "nearMisses": [], "wouldGrant": f"a vault named '{name}'"}
    who = principal_info(ctx, principal_id)
    claims = {"oid": principal_id.lower(), "tid": vault.tenant_id, "appid": who.get("appId") or ""}
    scope = scope if "/" + op.family + "/" in scope.lower() else vault.resource_id
    allowed, reason, mode = vault_access.decide(ctx, vault, claims, op, scope)
    out: dict[str, Any] = {"allowed": allowed, "mode": mode, "reason": reason, "vault": vault.resource_id,
                           "permission": f"{op.family} {op.permission}", "dataAction": op.data_action,
                           "principal": who, "entries": [], "nearMisses": []}
    if mode == "accessPolicy":
        for entry, matches, grants in vault_access.policy_entries(ctx, vault, claims, op):
            named = principal_info(ctx, str(entry.get("objectId", "")))
            out["entries"].append({"objectId": entry.get("objectId"), "tenantId": entry.get("tenantId"),
                                   "permissions": (entry.get("permissions") or {}).get(op.family) or [],
                                   "principal": named, "matches": matches, "grants": grants})
            if matches and not grants:
                out["nearMisses"].append(f"the entry for this principal holds {op.family} "
                                         f"{(entry.get('permissions') or {}).get(op.family) or []}, not "
                                         f"{op.permission}")
            elif grants and not matches and not named.get("exists"):
                out["nearMisses"].append(_deleted_entry(who, named, op))
        out["wouldGrant"] = (f"an access policy entry for objectId {principal_id} (tenant {vault.tenant_id}) "
                             f"holding {op.family} {op.permission}")
    else:
        roles = [r.role_name for r in BUILT_IN_ROLES
                 if r.role_name.startswith("Key Vault") and permits(r, op.data_action, True)]
        out["wouldGrant"] = (f"a role assignment at {scope} or above of a role with the data action "
                             f"{op.data_action}" + (f", e.g. {', '.join(roles[:3])}" if roles else ""))
    if not who.get("exists"):
        out["nearMisses"].insert(0, f"principal {principal_id} does not exist" + (
            f" (deleted at {who['deletedAt']}, it was {who.get('resourceId')}'s identity)"
            if who.get("deletedAt") else ""))
    return out


def _deleted_entry(who: dict[str, Any], named: dict[str, Any], op: Operation) -> str:
    grants = f"{op.family} {op.permission}"
    gone, resource = named.get("deletedAt"), named.get("resourceId")
    if resource and who.get("resourceId") and str(resource).lower() == str(who["resourceId"]).lower():
        return (f"an entry grants {grants} to {named['objectId']}: {named.get('displayName')}'s previous identity, "
                f"deleted at {gone}; you are its new one (old grants do not follow a re-created resource)")
    if gone:
        return f"an entry grants {grants} to {named['objectId']}, a principal deleted at {gone} (of {resource})"
    return f"an entry grants {grants} to {named['objectId']}, which is no principal (anymore)"
