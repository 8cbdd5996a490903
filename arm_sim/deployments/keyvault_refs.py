"""Key Vault parameter references: `{"reference": {"keyVault": {"id": …}, "secretName": …, "secretVersion": …}}`
resolved from the simulated vault at deployment start. The vault must have `enabledForTemplateDeployment`
and the deploying principal needs `Microsoft.KeyVault/vaults/deploy/action` on it, as in Azure.
"""

from __future__ import annotations

from typing import Any

from arm_sim.core import ids
from arm_sim.core.errors import DomainError
from arm_sim.domain import rbac, vault_secrets, vaults
from arm_sim.domain.context import Ctx
from arm_sim.resources import service

_VAULT_TYPE = "microsoft.keyvault/vaults"
_HELP = "Please see https://aka.ms/arm-keyvault for usage details."


def _failed(name: str, status: str, message: str) -> DomainError:
    return DomainError(400, "KeyVaultParameterReferenceSecretRetrieveFailed",
                       f"The secret of KeyVault parameter '{name}' cannot be retrieved. Http status code: '{status}'. "
                       f"Error message: '{message}'. {_HELP}")


def resolve(ctx: Ctx, name: str, reference: Any) -> str:
    if not isinstance(reference, dict):
        raise _failed(name, "BadRequest", "The parameter reference must be an object")
    vault_id = (reference.get("keyVault") or {}).get("id")
    secret = reference.get("secretName")
    version = reference.get("secretVersion")
    if not isinstance(vault_id, str) or not isinstance(secret, str):
        raise _failed(name, "BadRequest", "The reference needs keyVault.id and secretName")
    path = ids.parse(vault_id)
    if not path.parts or path.resource_type.lower() != _VAULT_TYPE:
        raise _failed(name, "BadRequest", f"'{vault_id}' is not a Key Vault resource id")
    try:
        doc = service.get(ctx, path)
    except DomainError as e:
        raise _failed(name, "NotFound", e.message) from None
    if (doc.get("properties") or {}).get("enabledForTemplateDeployment") is not True:
        raise _failed(name, "Forbidden", f"The key vault '{path.name}' is not enabled for template deployment: set "
                      "properties.enabledForTemplateDeployment to true")
    rbac.enforce(ctx, "Microsoft.KeyVault/vaults/deploy/action", doc["id"])
    vault = vaults.vault_by_name(ctx, path.name)
    if vault is None:
        raise _failed(name, "NotFound", f"The vault '{path.name}' was not found")
    try:
        row = vault_secrets.get_row(ctx, vault_secrets.SECRETS, vault, secret, version)
    except DomainError as e:
        raise _failed(name, "NotFound", e.message) from None
    return str(row.value)
