"""Provider-level Key Vault endpoints under a subscription: checkNameAvailability and deleted vaults
(list, get, purge). Recover is a vault PUT with `createMode: recover` (keyvault_vaults)."""

from __future__ import annotations

from typing import Any

from arm_sim.core.errors import DomainError, bad_request, not_found
from arm_sim.db.models import Vault
from arm_sim.domain import vaults
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx
from arm_sim.providers.base import ActionResult
from arm_sim.providers.catalog import normalize_location
from arm_sim.providers.keyvault_vaults import name_problem

VAULT_TYPE = "microsoft.keyvault/vaults"


def check_name_availability(ctx: Ctx, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        raise bad_request("BadRequest", "The request needs a 'name' (string) and 'type': "
                          "'Microsoft.KeyVault/vaults'.")
    if str(body.get("type", "")).lower() != VAULT_TYPE:
        raise bad_request("BadRequest", f"An invalid value was provided for 'type': '{body.get('type')}'. The only "
                          "supported type is 'Microsoft.KeyVault/vaults'.")
    name = body["name"]
    problem = name_problem(name)
    if problem:
        return {"nameAvailable": False, "reason": "AccountNameInvalid", "message": problem}
    taken = vaults.name_conflict(ctx, name)
    if taken is not None:
        return {"nameAvailable": False, "reason": "AlreadyExists", "message": taken.message}
    return {"nameAvailable": True}


def deleted_doc(vault: Vault) -> dict[str, Any]:
    snapshot = vault.snapshot or {}
    name = snapshot.get("name") or vault.name
    return {
        "id": f"/subscriptions/{vault.subscription_id}/providers/Microsoft.KeyVault/locations/{vault.location}"
              f"/deletedVaults/{name}",
        "name": name,
        "type": "Microsoft.KeyVault/deletedVaults",
        "properties": {
            "vaultId": vault.resource_id,
            "location": vault.location,
            "deletionDate": iso(vault.deleted_at or 0),
            "scheduledPurgeDate": iso(vault.scheduled_purge_at or 0),
            "tags": dict(snapshot.get("tags") or {}),
            "purgeProtectionEnabled": vault.purge_protection,
        },
    }


def find_deleted(ctx: Ctx, subscription_id: str, location: str, name: str) -> Vault:
    vault = vaults.vault_by_name(ctx, name)
    if (vault is None or vault.state != vaults.DELETED or vault.subscription_id != subscription_id.lower()
            or vault.location != normalize_location(location)):
        raise not_found("ResourceNotFound", f"The Resource 'Microsoft.KeyVault/locations/{location}/deletedVaults/"
                        f"{name}' was not found. For more details please go to "
                        "https://aka.ms/ARMResourceNotFoundFix")
    return vault


def purge(ctx: Ctx, subscription_id: str, location: str, name: str) -> None:
    vault = find_deleted(ctx, subscription_id, location, name)
    if vault.purge_protection:
        raise DomainError(409, "Conflict", f"Operation \"purge\" is not allowed for vault '{name}' because purge "
                          "protection is enabled for this vault. Key Vault service will automatically purge it "
                          "after the retention period has passed.")
    vaults.purge(ctx, vault)


def call(ctx: Ctx, method: str, subscription_id: str, segments: tuple[str, ...],
         body: Any) -> tuple[int, Any] | ActionResult | None:
    """Route `/subscriptions/{s}/providers/Microsoft.KeyVault/{segments…}`; None for what is not ours."""
    segs = [s.lower() for s in segments]
    if segs == ["checknameavailability"]:
        _method(method, "POST")
        vaults.purge_expired(ctx)
        return 200, check_name_availability(ctx, body)
    if segs == ["deletedvaults"]:
        _method(method, "GET")
        vaults.purge_expired(ctx)
        return 200, {"value": [deleted_doc(v) for v in vaults.deleted_vaults(ctx, subscription_id)]}
    if len(segs) in (4, 5) and segs[0] == "locations" and segs[2] == "deletedvaults":
        vaults.purge_expired(ctx)
        location, name = segments[1], segments[3]
        if len(segs) == 4:
            _method(method, "GET")
            return 200, deleted_doc(find_deleted(ctx, subscription_id, location, name))
        if segs[4] == "purge":
            _method(method, "POST")
            purge(ctx, subscription_id, location, name)
            return ActionResult(200, None, long_running=True)  # 202 + Location in async mode, as ARM answers
    return None


def _method(method: str, allowed: str) -> None:
    if method != allowed:
        raise DomainError(405, "MethodNotAllowed", f"The method '{method}' is not allowed here; use {allowed}.")
