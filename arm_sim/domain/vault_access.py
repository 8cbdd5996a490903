"""Who may do what on a vault's data plane: access policies, or Azure RBAC when the vault says so.

Access-policy mode: an entry whose objectId (and tenantId, and applicationId for a compound identity) matches
the token must hold the operation's permission (`all` holds every one; names compare case-insensitively).
RBAC mode (`enableRbacAuthorization`): access policies are ignored; role assignments at the object, the vault or
above must grant the operation's data action (Owner/Contributor hold no dataActions, so they do not).
Every decision is an event with its reason; refusals use Key Vault's own 403 bodies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from arm_sim.domain import events, rbac, vaults
from arm_sim.domain.context import Ctx
from arm_sim.domain.vault_secrets import VaultError
from arm_sim.domain.vaults import VaultView

KV = "Microsoft.KeyVault/vaults"


@dataclass(frozen=True)
class Operation:
    """A data-plane operation: its access-policy permission and its RBAC data action."""

    family: str  # secrets | keys | certificates
    permission: str  # as in Azure's permission lists (get, list, set, wrapKey …)
    data_action: str


def _op(family: str, permission: str, action: str) -> Operation:
    return Operation(family, permission, f"{KV}/{family}/{action}")


# Mapping: Azure's access policy -> RBAC comparison (Azure/KeyVault-AccessPolicyToRBAC-CompareTool); the
# operation docs say which permission each call needs (e.g. Get Deleted Secret: secrets/get).
SECRET_OPS = {
    "get": _op("secrets", "get", "getSecret/action"),
    "list": _op("secrets", "list", "readMetadata/action"),
    "set": _op("secrets", "set", "setSecret/action"),
    "update": _op("secrets", "set", "update/action"),
    "delete": _op("secrets", "delete", "delete"),
    "getDeleted": _op("secrets", "get", "readMetadata/action"),
    "listDeleted": _op("secrets", "list", "readMetadata/action"),
    "recover": _op("secrets", "recover", "recover/action"),
    "purge": _op("secrets", "purge", "purge/action"),
    "backup": _op("secrets", "backup", "backup/action"),
    "restore": _op("secrets", "restore", "restore/action"),
}
KEY_OPS = {
    "create": _op("keys", "create", "create/action"),
    "import": _op("keys", "import", "import/action"),
    "get": _op("keys", "get", "read"),
    "list": _op("keys", "list", "read"),
    "update": _op("keys", "update", "update/action"),
    "delete": _op("keys", "delete", "delete"),
    "getDeleted": _op("keys", "get", "read"),
    "listDeleted": _op("keys", "list", "read"),
    "recover": _op("keys", "recover", "recover/action"),
    "purge": _op("keys", "purge", "purge/action"),
    "backup": _op("keys", "backup", "backup/action"),
    "restore": _op("keys", "restore", "restore/action"),
    "encrypt": _op("keys", "encrypt", "encrypt/action"),
    "decrypt": _op("keys", "decrypt", "decrypt/action"),
    "wrapKey": _op("keys", "wrapKey", "wrap/action"),
    "unwrapKey": _op("keys", "unwrapKey", "unwrap/action"),
    "sign": _op("keys", "sign", "sign/action"),
    "verify": _op("keys", "verify", "verify/action"),
}

# Certificates: each operation's permission as its REST page states it (merge needs create; the pending operation
# and the policy are read with get and changed with update); RBAC's data actions from Microsoft.KeyVault's
# operations list (Key Vault Certificate User holds `certificates/read`).
CERT_OPS = {
    "get": _op("certificates", "get", "read"),
    "list": _op("certificates", "list", "read"),
    "create": _op("certificates", "create", "create/action"),
    "import": _op("certificates", "import", "import/action"),
    "update": _op("certificates", "update", "update/action"),
    "delete": _op("certificates", "delete", "delete"),
    "getDeleted": _op("certificates", "get", "read"),
    "listDeleted": _op("certificates", "list", "read"),
    "recover": _op("certificates", "recover", "recover/action"),
    "purge": _op("certificates", "purge", "purge/action"),
    "backup": _op("certificates", "backup", "backup/action"),
    "restore": _op("certificates", "restore", "restore/action"),
}


def caller_text(claims: dict[str, Any]) -> str:
    appid = claims.get("appid") or claims.get("azp") or ""
    return f"appid={appid};oid={claims.get('oid', '')};iss={claims.get('iss', '')}"


def _policy_grants(entry: dict[str, Any], family: str, permission: str) -> bool:
    granted = {str(p).lower() for p in ((entry.get("permissions") or {}).get(family) or [])}
    return "all" in granted or permission.lower() in granted


def _matches(entry: dict[str, Any], claims: dict[str, Any]) -> bool:
    oid, tid = str(claims.get("oid", "")).lower(), str(claims.get("tid", "")).lower()
    groups = {str(g).lower() for g in (claims.get("groups") or [])}
    if str(entry.get("tenantId", "")).lower() != tid:
        return False
    object_id = str(entry.get("objectId", "")).lower()
    if object_id != oid and object_id not in groups:
        return False
    app = entry.get("applicationId")  # compound identity: this user through this application only
    return not app or str(app).lower() == str(claims.get("appid") or claims.get("azp") or "").lower()


def _decide_policies(ctx: Ctx, vault: VaultView, claims: dict[str, Any], op: Operation) -> tuple[bool, str]:
    matching = [e for e in vaults.access_policies(ctx, vault) if _matches(e, claims)]
    if not matching:
        return False, "no access policy entry names this principal"
    for e in matching:
        if _policy_grants(e, op.family, op.permission):
            return True, f"access policy for objectId {e.get('objectId')} grants {op.family} {op.permission}"
    held = sorted({str(p) for e in matching for p in ((e.get("permissions") or {}).get(op.family) or [])})
    return False, f"access policy entry holds {op.family} {held or 'nothing'}, not {op.permission}"


def policy_entries(ctx: Ctx, vault: VaultView, claims: dict[str, Any], op: Operation
                   ) -> list[tuple[dict[str, Any], bool, bool]]:
    """Each access-policy entry with whether it names these claims and whether it holds the operation's
    permission, by the same tests `authorize` applies (for `/_sim/explain`)."""
    return [(e, _matches(e, claims), _policy_grants(e, op.family, op.permission))
            for e in vaults.access_policies(ctx, vault)]


def decide(ctx: Ctx, vault: VaultView, claims: dict[str, Any], op: Operation, scope: str) -> tuple[bool, str, str]:
    """(allowed, reason, mode) as Key Vault decides the operation at `scope`, recording nothing: `authorize`
    enforces it, `/_sim/explain` shows it."""
    if vaults.rbac_enabled(ctx, vault):
        decision = rbac.decide(ctx, str(claims.get("oid", "")), op.data_action, scope, data=True)
        return decision.allowed, decision.reason(), "rbac"
    allowed, reason = _decide_policies(ctx, vault, claims, op)
    return allowed, reason, "accessPolicy"


def _record_allowed(ctx: Ctx, scope: str, details: dict[str, Any]) -> None:
    # Kept even when the unit rolls back: the decision stands when the operation then fails (404, 409 …).
    events.record_refusal(ctx, "access.allowed", scope, **details)


def scope_of(vault: VaultView, family: str, name: str | None) -> str:
    """RBAC scope: the object under its vault (`{vault id}/secrets/{name}`), or the vault for collection calls."""
    return f"{vault.resource_id}/{family}/{name}" if name else vault.resource_id


def authorize(ctx: Ctx, vault: VaultView, claims: dict[str, Any], op: Operation, name: str | None = None) -> None:
    """Allow (recording why) or raise Key Vault's 403 (recorded as a refusal that survives the rollback)."""
    doc = vaults.vault_document(ctx, vault)
    vault_text = f"{doc.get('name', vault.name)};location={vault.location}"
    oid = str(claims.get("oid", ""))
    scope = scope_of(vault, op.family, name)
    allowed, reason, mode = decide(ctx, vault, claims, op, scope)
    details = {"host": "keyvault", "principalId": oid, "vault": vault.resource_id, "mode": mode,
               "permission": f"{op.family}/{op.permission}", "action": op.data_action, "scope": scope,
               "reason": reason}
    if not allowed and mode == "rbac" and ctx.settings.rbac != "enforce":  # ARM_SIM_RBAC=audit|off
        if ctx.settings.rbac == "audit":
            events.record_refusal(ctx, "access.audited", scope, **details)
        allowed, details["reason"] = True, f"ARM_SIM_RBAC={ctx.settings.rbac}; RBAC alone: {reason}"
    if allowed:
        _record_allowed(ctx, scope, details)
        return
    events.record_refusal(ctx, "access.denied", scope, **details)
    if mode == "rbac":
        raise VaultError(
            403, "Forbidden",
            "Caller is not authorized to perform action on resource.\r\n"
            "If role assignments, deny assignments or role definitions were changed recently, please observe "
            "propagation time.\r\n"
            f"Caller: {caller_text(claims)}\r\n"
            f"Action: '{op.data_action}'\r\n"
            f"Resource: '{scope.lower()}'\r\n"
            "Assignment: (not found)\r\n"
            "DenyAssignmentId: null\r\n"
            "DecisionReason: 'DeniedWithNoValidRBAC' \r\n"  # Key Vault's current wording
            f"Vault: {vault_text}\r\n",
            inner="ForbiddenByRbac")
    raise VaultError(
        403, "Forbidden",
        f"The user, group or application '{caller_text(claims)}' does not have {op.family} {op.permission} "
        f"permission on key vault '{vault_text}'. For help resolving this issue, please see "
        "https://go.microsoft.com/fwlink/?linkid=2125287",
        inner="AccessDenied")
