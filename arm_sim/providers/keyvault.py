"""Microsoft.KeyVault, the management plane: vaults (global names reached by host name, soft delete,
recover, purge), access policies and the `vaults/secrets` and `vaults/keys` child resources.

The vault's ARM row holds its properties; `domain.vaults` keeps the global name, a lent port and the soft-delete
state, which outlive the row until purge. Deleting a principal never touches access policies (orphans stay,
as in Azure; `/_sim/audit` lists them).
"""

from __future__ import annotations

from typing import Any

from arm_sim.core import ids
from arm_sim.core.errors import DomainError, bad_request
from arm_sim.domain import events, vaults
from arm_sim.domain.context import Ctx
from arm_sim.providers import (
    keyvault_deleted,
    keyvault_keys,
    keyvault_policies,
    keyvault_secrets,
    keyvault_vaults,
    operations_lists,
)
from arm_sim.providers.base import ActionResult, Doc, Provider

VAULTS = "microsoft.keyvault/vaults"
ACCESS_POLICIES = VAULTS + "/accesspolicies"
SECRETS = VAULTS + "/secrets"
KEYS = VAULTS + "/keys"


class KeyVaultProvider(Provider):
    namespace = "Microsoft.KeyVault"

    def put_status(self, type_key: str, created: bool) -> int:
        # Vaults_CreateOrUpdate documents 200 and 201, but Azure answers a vault's creation with 200 (the az CLI's
        # recordings: test_keyvault_public_network_access, test_keyvault_network_rule); a recovery (createMode
        # recover) is taken to answer the same, a guess: no recording of one was read
        return 200 if type_key == VAULTS else super().put_status(type_key, created)

    # --- vaults ---------------------------------------------------------------------------------------------
    def validate(self, ctx: Ctx, path: ids.ArmPath, doc: Doc, before: Doc | None) -> None:
        if path.resource_type.lower() == VAULTS:
            vaults.purge_expired(ctx)  # retention runs on the simulated clock: free names and ports first
            keyvault_vaults.prepare(ctx, path, doc, before)

    def on_put(self, ctx: Ctx, before: Doc | None, after: Doc) -> None:
        if after["type"].lower() != VAULTS:
            return
        props = after["properties"]
        vault = vaults.vault_by_name(ctx, after["name"])
        if vault is None:
            subscription = ids.parse(after["id"]).subscription or ""
            vault = vaults.create(ctx, after["name"], after["id"], subscription, after["location"],
                                  props["tenantId"])
        elif vault.state == vaults.DELETED:  # validate allowed this only for createMode recover
            vaults.recover(ctx, vault, after["id"])
        props["vaultUri"] = vaults.local_uri(ctx, vault)
        vaults.sync(vault, props, props["tenantId"], after["location"])

    def on_delete(self, ctx: Ctx, doc: Doc) -> None:
        if doc["type"].lower() != VAULTS:
            return
        vault = vaults.vault_by_name(ctx, doc["name"])
        if vault is None or vault.state != vaults.ACTIVE or vault.resource_key != ids.key(doc["id"]):
            return
        if doc["properties"].get("enableSoftDelete", True) is False:
            vaults.purge(ctx, vault, reason="deleted with soft delete disabled")
        else:
            vaults.soft_delete(ctx, vault, doc)

    # --- access policies: an operation on the vault, written by the service as a PATCH of the vault ------------
    parent_operations = frozenset({ACCESS_POLICIES})

    def parent_operation(self, ctx: Ctx, path: ids.ArmPath, body: Doc, parent: Doc) -> tuple[Doc, Doc]:
        operation = path.name.lower()
        if operation not in keyvault_policies.OPERATIONS:
            raise bad_request("BadRequest", f"The access policy operation '{path.name}' is invalid: use 'add', "
                              "'replace' or 'remove'.")
        props = body.get("properties")
        if not isinstance(props, dict) or props.get("accessPolicies") is None:
            raise bad_request("BadRequest", "The parameter accessPolicies is not specified.")
        current = parent.get("properties") or {}
        given = keyvault_policies.normalize(props["accessPolicies"], str(current.get("tenantId") or ""))
        merged = keyvault_policies.apply(operation, list(current.get("accessPolicies") or []), given)
        events.record(ctx, "vault.accessPolicies." + operation, parent["id"], entries=len(merged))
        answer = {"id": f"{parent['id']}/accessPolicies/{operation}", "name": operation,
                  "type": "Microsoft.KeyVault/vaults/accessPolicies", "properties": {"accessPolicies": merged}}
        return {"properties": {"accessPolicies": merged}}, answer

    # --- secrets and keys (answered without rows of their own) -------------------------------------------------
    def virtual_put(self, ctx: Ctx, path: ids.ArmPath, body: Any, api_version: str) -> tuple[Doc, bool] | None:
        kind = path.resource_type.lower()
        if kind == SECRETS:
            vaults.purge_expired(ctx)
            return keyvault_secrets.put(ctx, path, body)
        if kind == KEYS:
            vaults.purge_expired(ctx)
            doc, _ = keyvault_keys.put(ctx, path, body)
            return doc, False  # Keys_CreateIfNotExist answers 200 whether or not it created the key
        return None

    def virtual_patch(self, ctx: Ctx, path: ids.ArmPath, body: Any, api_version: str) -> Doc | None:
        kind = path.resource_type.lower()
        if kind == SECRETS:
            vaults.purge_expired(ctx)
            return keyvault_secrets.patch(ctx, path, body)
        if kind in (KEYS, ACCESS_POLICIES):  # Keys_* and the access-policy operations have no PATCH in ARM
            raise DomainError(405, "MethodNotAllowed", "The requested resource does not support http method 'PATCH'.")
        return None

    def virtual_delete(self, ctx: Ctx, path: ids.ArmPath) -> bool | None:
        """ARM has no DELETE for a vault's keys and secrets: they are deleted through the vault's own endpoint."""
        if path.resource_type.lower() in (SECRETS, KEYS):
            raise DomainError(405, "MethodNotAllowed", "The requested resource does not support http method 'DELETE'.")
        return None

    def render(self, ctx: Ctx, doc: Doc, api_version: str) -> Doc:
        if not ctx.azure_names or doc.get("type", "").lower() != VAULTS:
            return doc
        # a client that came through the proxy is shown Azure's own address (the stored one is the local form)
        return {**doc, "properties": {**doc["properties"], "vaultUri": vaults.azure_uri(doc["name"])}}

    def virtual_get(self, ctx: Ctx, path: ids.ArmPath) -> Doc | None:
        kind = path.resource_type.lower()
        if kind == SECRETS:
            return keyvault_secrets.get(ctx, path)
        if kind == KEYS:
            return keyvault_keys.get(ctx, path)
        if kind == VAULTS:
            vaults.purge_expired(ctx)
        return None

    def virtual_list(self, ctx: Ctx, path: ids.ArmPath, query: dict[str, str]) -> list[Doc] | None:
        kind = path.resource_type.lower()
        if kind == SECRETS:
            return keyvault_secrets.list_(ctx, path)
        if kind == KEYS:
            return keyvault_keys.list_(ctx, path)
        if kind == VAULTS:
            vaults.purge_expired(ctx)
        return None

    # --- subscription-level endpoints ------------------------------------------------------------------------
    def provider_call(self, ctx: Ctx, method: str, subscription_id: str, segments: tuple[str, ...], body: Any,
                      api_version: str) -> tuple[int, Any] | ActionResult | None:
        return keyvault_deleted.call(ctx, method, subscription_id, segments, body)

    def tenant_call(self, ctx: Ctx, method: str, segments: tuple[str, ...], query: dict[str, str],
                    api_version: str) -> tuple[int, Any] | None:
        return operations_lists.answer(self.namespace, method, segments)
