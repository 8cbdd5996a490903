"""Microsoft.KeyVault/vaults PUT/PATCH: name rules, properties with Key Vault's defaults and its irreversible
flags, and `createMode: recover` (the soft-deleted vault's snapshot comes back, same port, same secrets)."""

from __future__ import annotations

import re
from typing import Any

from arm_sim.core import ids
from arm_sim.core.errors import DomainError, bad_request, not_found
from arm_sim.domain import tenancy, vaults
from arm_sim.domain.context import Ctx
from arm_sim.providers import keyvault_policies as policies
from arm_sim.providers.base import Doc

_VAULT_NAME = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{1,22}[A-Za-z0-9]$")
FLAGS = ("enabledForDeployment", "enabledForDiskEncryption", "enabledForTemplateDeployment", "enableRbacAuthorization")
READ_ONLY = ("vaultUri", "hsmPoolResourceId", "privateEndpointConnections", "provisioningState")
SKU_NAMES = ("standard", "premium")


def name_problem(name: str) -> str | None:
    """Key Vault's message for an invalid vault name, None when the name is valid."""
    if _VAULT_NAME.match(name):
        return None
    return (f"The vault name '{name}' is invalid. A vault's name must be between 3-24 alphanumeric characters. "
            "The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens.")


def check_name(name: str) -> None:
    problem = name_problem(name)
    if problem:
        raise bad_request("VaultNameNotValid", problem)


def _invalid(prop: str) -> DomainError:
    return bad_request("BadRequest", f"An invalid value was provided for '{prop}'.")


def _not_specified(prop: str) -> DomainError:
    return bad_request("BadRequest", f"The parameter {prop} is not specified.")


def _tenant(ctx: Ctx, props: dict[str, Any]) -> str:
    tenant = props.get("tenantId")
    if tenant is None:
        raise _not_specified("tenantId")
    if not isinstance(tenant, str) or not tenancy.tenant_exists(ctx, tenant.lower()):
        raise bad_request("BadRequest", f"An invalid value was provided for 'tenantId': arm-sim knows no tenant "
                          f"'{tenant}'.")
    return tenant.lower()


def _sku(props: dict[str, Any]) -> dict[str, str]:
    sku = props.get("sku")
    if sku is None:
        raise _not_specified("sku")
    if (not isinstance(sku, dict) or str(sku.get("family", "")).upper() != "A"
            or str(sku.get("name", "")).lower() not in SKU_NAMES):
        raise _invalid("sku")
    return {"family": "A", "name": str(sku["name"]).lower()}


def _bool(props: dict[str, Any], name: str) -> bool | None:
    value = props.get(name)
    if value is not None and not isinstance(value, bool):
        raise _invalid(name)
    return value


def _soft_delete(props: dict[str, Any], old: dict[str, Any], updating: bool) -> None:
    soft = _bool(props, "enableSoftDelete")
    if soft is False and updating and old.get("enableSoftDelete", True) is not False:
        raise bad_request("BadRequest", 'The property "enableSoftDelete" can be set to false only for creating new '
                          "vault. Enabling the 'soft delete' functionality is an irreversible action.")
    props["enableSoftDelete"] = soft if soft is not None else old.get("enableSoftDelete", True)
    days = props.get("softDeleteRetentionInDays")
    if days is None:
        days = old.get("softDeleteRetentionInDays", 90)
    elif isinstance(days, bool) or not isinstance(days, int) or not 7 <= days <= 90:
        raise bad_request("BadRequest", f"The value '{days}' of 'softDeleteRetentionInDays' is invalid: it must be "
                          "an integer from 7 to 90.")
    elif updating and days != old.get("softDeleteRetentionInDays", 90):
        raise bad_request("BadRequest",
                          'The property "softDeleteRetentionInDays" has been set already and it can\'t be modified.')
    props["softDeleteRetentionInDays"] = days
    purge = _bool(props, "enablePurgeProtection")
    if purge is False:
        raise bad_request("BadRequest", 'The property "enablePurgeProtection" cannot be set to false. Enabling the '
                          "purge protection for a vault is an irreversible action.")
    if purge or old.get("enablePurgeProtection"):
        if props["enableSoftDelete"] is False:
            raise bad_request("BadRequest", 'The property "enablePurgeProtection" can be set to true only when '
                              '"enableSoftDelete" is true.')
        props["enablePurgeProtection"] = True
    else:
        props.pop("enablePurgeProtection", None)


def _network(props: dict[str, Any], old: dict[str, Any]) -> None:
    access = props.get("publicNetworkAccess")
    if access is None or access == "":  # Key Vault takes "" as unset (a template's empty default): the vault keeps
        access = old.get("publicNetworkAccess", "Enabled")  # what it had, Enabled when new
    if not isinstance(access, str) or access.lower() not in ("enabled", "disabled"):
        raise _invalid("publicNetworkAccess")
    props["publicNetworkAccess"] = access.capitalize()
    acls = props.get("networkAcls", old.get("networkAcls"))
    if acls is None:
        props.pop("networkAcls", None)
        return
    if (not isinstance(acls, dict)
            or str(acls.get("bypass", "AzureServices")).lower() not in ("azureservices", "none")
            or str(acls.get("defaultAction", "Allow")).lower() not in ("allow", "deny")
            or not all(isinstance(r, dict) and isinstance(r.get("value"), str) for r in acls.get("ipRules") or [])
            or not all(isinstance(r, dict) and isinstance(r.get("id"), str)
                       for r in acls.get("virtualNetworkRules") or [])):
        raise _invalid("networkAcls")
    bypass = "None" if str(acls.get("bypass", "AzureServices")).lower() == "none" else "AzureServices"
    action = "Deny" if str(acls.get("defaultAction", "Allow")).lower() == "deny" else "Allow"
    ip_rules = list(acls.get("ipRules") or [])
    # Azure stores subnet ids lower-case (test_keyvault_network_rule.yaml: a rule sent with resourceGroups/…/
    # Microsoft.Network/virtualNetworks comes back all lower-case)
    vnet_rules = [{**r, "id": r["id"].lower()} for r in acls.get("virtualNetworkRules") or []]
    if action == "Allow" and bypass == "AzureServices" and not ip_rules and not vnet_rules:
        # the default ACL is not shown: test_keyvault_public_network_access.yaml sends {AzureServices, Allow} and
        # the vault comes back without networkAcls
        props.pop("networkAcls", None)
        return
    # otherwise both rule lists are always shown, empty ones too (`az keyvault update --default-action Deny`)
    props["networkAcls"] = {**acls, "bypass": bypass, "defaultAction": action, "ipRules": ip_rules,
                            "virtualNetworkRules": vnet_rules}


def prepare(ctx: Ctx, path: ids.ArmPath, doc: Doc, before: Doc | None) -> None:
    """Validate and complete a vault PUT/PATCH document in place (nothing is written here)."""
    check_name(path.name)
    props: dict[str, Any] = doc["properties"]
    mode = props.pop("createMode", None) or "default"
    if not isinstance(mode, str) or mode.lower() not in ("default", "recover"):
        raise _invalid("createMode")
    if mode.lower() == "recover":
        _prepare_recover(ctx, path, doc, before)
        return
    vaults.check_available(ctx, path.name, path.id)
    old: dict[str, Any] = (before or {}).get("properties") or {}
    for field in READ_ONLY:
        props.pop(field, None)
    props["provisioningState"] = "Succeeded"
    tenant = props["tenantId"] = _tenant(ctx, props)
    props["sku"] = _sku(props)
    if props.get("accessPolicies") is None:
        if props.get("enableRbacAuthorization") is not True:  # an RBAC vault needs no access policies
            raise _not_specified("accessPolicies")
        props["accessPolicies"] = []
    props["accessPolicies"] = policies.normalize(props["accessPolicies"], tenant)
    for flag in FLAGS:  # kept as sent: Key Vault answers only the flags a request set (recorded: az keyvault create)
        value = _bool(props, flag)
        if value is not None:
            props[flag] = value
        elif flag in old or flag == "enabledForDeployment":  # the one flag answered unset, as false
            props[flag] = bool(old.get(flag, False))
    _soft_delete(props, old, updating=before is not None)
    _network(props, old)


def _prepare_recover(ctx: Ctx, path: ids.ArmPath, doc: Doc, before: Doc | None) -> None:
    vault = vaults.vault_by_name(ctx, path.name)
    if vault is None:
        raise not_found("ResourceNotFound", f"There is no deleted vault named '{path.name}' to recover in "
                        f"subscription '{path.subscription}'.")
    if vault.state != vaults.DELETED:
        if before is None:
            vaults.check_available(ctx, path.name, path.id)  # another vault's name: VaultAlreadyExists
        raise DomainError(409, "ConflictError", f"The vault '{path.name}' is not in a deleted state, so there is "
                          "nothing to recover.")
    snapshot = vault.snapshot or {}
    if ids.key(vault.resource_id) != ids.key(path.id):
        raise bad_request("BadRequest", f"The deleted vault '{path.name}' was '{vault.resource_id}'; a vault can "
                          "only be recovered into its original subscription and resource group.")
    if doc.get("location") and doc["location"] != vault.location:
        raise bad_request("BadRequest", f"The deleted vault '{path.name}' is in location '{vault.location}', not "
                          f"'{doc['location']}'.")
    props = {k: v for k, v in (snapshot.get("properties") or {}).items() if k not in READ_ONLY}
    props["provisioningState"] = "Succeeded"
    doc["properties"] = props
    doc["location"] = vault.location
    if not doc.get("tags"):
        doc["tags"] = dict(snapshot.get("tags") or {})
