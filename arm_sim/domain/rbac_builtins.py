"""Azure's built-in role definitions, as Azure publishes them, and its action-pattern matching.

Pure data plus two pure functions; standard library only, nothing from the rest of arm_sim.

Provenance
----------
Every role below was transcribed from the JSON block ("assignableScopes", "description", "name",
"permissions", "roleName") of the generated reference pages "Azure built-in roles for <category>":

    https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/<category>#<role-anchor>

whose source is MicrosoftDocs/azure-docs, ``articles/role-based-access-control/built-in-roles/<category>.md``.
Each role carries a comment naming the page and the commit that was read. ``description`` is the
JSON ``description`` (what the REST API returns), which for a few roles differs from the page's prose
heading. Lists keep Azure's order, casing and even its duplicates (Key Vault Data Access Administrator
lists ``Microsoft.Resources/deployments/*`` twice). Roles whose permissions carry an ABAC ``condition``
are recorded by their permissions only; the condition is noted in a comment.

Matching
--------
See :func:`action_matches` for the wildcard rule and the sources it rests on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


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

    @property
    def id(self) -> str:
        """The tenant-independent definition id, as in the published JSON's ``id``."""
        return f"/providers/Microsoft.Authorization/roleDefinitions/{self.name}"


# --------------------------------------------------------------------------------------------
# Privileged — https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/privileged
# MicrosoftDocs/azure-docs articles/role-based-access-control/built-in-roles/privileged.md
# @ 0b8729eaf7eb0aabc6390cb17348d19761285f12 (ms.date 07/01/2026)
# --------------------------------------------------------------------------------------------

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/privileged#owner
OWNER = RoleDefinition(
    name="8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    role_name="Owner",
    description="Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
    actions=("*",),
    not_actions=(),
    data_actions=(),
    not_data_actions=(),
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/privileged#contributor
CONTRIBUTOR = RoleDefinition(
    name="b24988ac-6180-42a0-ab88-20f7382dd24c",
    role_name="Contributor",
    description=(
        "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, "
        "manage assignments in Azure Blueprints, or share image galleries."
    ),
    actions=("*",),
    not_actions=(
        "Microsoft.Authorization/*/Delete",
        "Microsoft.Authorization/*/Write",
        "Microsoft.Authorization/elevateAccess/Action",
        "Microsoft.Blueprint/blueprintAssignments/write",
        "Microsoft.Blueprint/blueprintAssignments/delete",
        "Microsoft.Compute/galleries/share/action",
        "Microsoft.Purview/consents/write",
        "Microsoft.Purview/consents/delete",
        "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
        "Microsoft.Subscription/cancel/action",
        "Microsoft.Subscription/enable/action",
    ),
    data_actions=(),
    not_data_actions=(),
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/privileged#user-access-administrator
USER_ACCESS_ADMINISTRATOR = RoleDefinition(
    name="18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    role_name="User Access Administrator",
    description="Lets you manage user access to Azure resources.",
    actions=(
        "*/read",
        "Microsoft.Authorization/*",
        "Microsoft.Support/*",
    ),
    not_actions=(),
    data_actions=(),
    not_data_actions=(),
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/privileged#role-based-access-control-administrator
# The page shows no condition on the role definition itself; Azure recommends (and the portal
# defaults to) constraining its *assignments* with a condition. Only the permissions are recorded.
ROLE_BASED_ACCESS_CONTROL_ADMINISTRATOR = RoleDefinition(
    name="f58310d9-a9f6-439a-9e8d-f62e7b41a168",
    role_name="Role Based Access Control Administrator",
    description=(
        "Manage access to Azure resources by assigning roles using Azure RBAC. This role does not allow you to "
        "manage access using other ways, such as Azure Policy."
    ),
    actions=(
        "Microsoft.Authorization/roleAssignments/write",
        "Microsoft.Authorization/roleAssignments/delete",
        "*/read",
        "Microsoft.Support/*",
    ),
    not_actions=(),
    data_actions=(),
    not_data_actions=(),
)

# --------------------------------------------------------------------------------------------
# General — https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/general
# MicrosoftDocs/azure-docs articles/role-based-access-control/built-in-roles/general.md
# @ 03e5750af10b23b5ba437d5b333ec5e9437844f9 (ms.date 02/23/2026)
# --------------------------------------------------------------------------------------------

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/general#reader
READER = RoleDefinition(
    name="acdd72a7-3385-48ef-bd42-f606fba81ae7",
    role_name="Reader",
    description="View all resources, but does not allow you to make any changes.",
    actions=("*/read",),
    not_actions=(),
    data_actions=(),
    not_data_actions=(),
)

# --------------------------------------------------------------------------------------------
# Identity — https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/identity
# MicrosoftDocs/azure-docs articles/role-based-access-control/built-in-roles/identity.md
# @ 1b4e136a1da731e1ed16444eb6ce5701bcd8c0f4 (ms.date 07/01/2026)
# --------------------------------------------------------------------------------------------

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/identity#managed-identity-operator
MANAGED_IDENTITY_OPERATOR = RoleDefinition(
    name="f1a07417-d97a-45cb-824c-7a7467783830",
    role_name="Managed Identity Operator",
    description="Read and Assign User Assigned Identity",
    actions=(
        "Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
        "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
        "Microsoft.Authorization/*/read",
        "Microsoft.Insights/alertRules/*",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.Resources/deployments/*",
        "Microsoft.Support/*",
    ),
    not_actions=(),
    data_actions=(),
    not_data_actions=(),
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/identity#managed-identity-contributor
# This revision lists explicit userAssignedIdentities operations and no assign/action (older revisions
# used userAssignedIdentities/*/read|write|delete|assign/action); recorded as read.
MANAGED_IDENTITY_CONTRIBUTOR = RoleDefinition(
    name="e40ec5ca-96e0-45a2-b4ff-59039f2c2b59",
    role_name="Managed Identity Contributor",
    description="Create, Read, Update, and Delete User Assigned Identity",
    actions=(
        "Microsoft.ManagedIdentity/userAssignedIdentities/read",
        "Microsoft.ManagedIdentity/userAssignedIdentities/write",
        "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete",
        "Microsoft.ManagedIdentity/userAssignedIdentities/revokeTokens/action",
        "Microsoft.Authorization/*/read",
        "Microsoft.Insights/alertRules/*",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.Resources/deployments/*",
        "Microsoft.Support/*",
    ),
    not_actions=(),
    data_actions=(),
    not_data_actions=(),
)

# --------------------------------------------------------------------------------------------
# Compute — https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/compute
# MicrosoftDocs/azure-docs articles/role-based-access-control/built-in-roles/compute.md
# @ 064f7ba29b923d4ec86a135614d256690fe0ac73 (ms.date 09/03/2025)
# --------------------------------------------------------------------------------------------

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/compute#virtual-machine-contributor
# (The page's prose describes the role at length; the JSON description, used here, is the short one.)
VIRTUAL_MACHINE_CONTRIBUTOR = RoleDefinition(
    name="9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
    role_name="Virtual Machine Contributor",
    description=(
        "Lets you manage virtual machines, but not access to them, and not the virtual network or storage account "
        "they're connected to."
    ),
    actions=(
        "Microsoft.Authorization/*/read",
        "Microsoft.Compute/availabilitySets/*",
        "Microsoft.Compute/locations/*",
        "Microsoft.Compute/virtualMachines/*",
        "Microsoft.Compute/virtualMachineScaleSets/*",
        "Microsoft.Compute/cloudServices/*",
        "Microsoft.Compute/disks/write",
        "Microsoft.Compute/disks/read",
        "Microsoft.Compute/disks/delete",
        "Microsoft.Compute/hostgroups/write",
        "Microsoft.Compute/hostgroups/hosts/write",
        "Microsoft.DevTestLab/schedules/*",
        "Microsoft.Insights/alertRules/*",
        "Microsoft.Network/applicationGateways/backendAddressPools/join/action",
        "Microsoft.Network/loadBalancers/backendAddressPools/join/action",
        "Microsoft.Network/loadBalancers/inboundNatPools/join/action",
        "Microsoft.Network/loadBalancers/inboundNatRules/join/action",
        "Microsoft.Network/loadBalancers/probes/join/action",
        "Microsoft.Network/loadBalancers/read",
        "Microsoft.Network/locations/*",
        "Microsoft.Network/networkInterfaces/*",
        "Microsoft.Network/networkSecurityGroups/join/action",
        "Microsoft.Network/networkSecurityGroups/read",
        "Microsoft.Network/publicIPAddresses/join/action",
        "Microsoft.Network/publicIPAddresses/read",
        "Microsoft.Network/virtualNetworks/read",
        "Microsoft.Network/virtualNetworks/subnets/join/action",
        "Microsoft.RecoveryServices/locations/*",
        "Microsoft.RecoveryServices/Vaults/backupFabrics/backupProtectionIntent/write",
        "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/*/read",
        "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/read",
        "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/write",
        "Microsoft.RecoveryServices/Vaults/backupPolicies/read",
        "Microsoft.RecoveryServices/Vaults/backupPolicies/write",
        "Microsoft.RecoveryServices/Vaults/read",
        "Microsoft.RecoveryServices/Vaults/usages/read",
        "Microsoft.RecoveryServices/Vaults/write",
        "Microsoft.ResourceHealth/availabilityStatuses/read",
        "Microsoft.Resources/deployments/*",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.SerialConsole/serialPorts/connect/action",
        "Microsoft.SqlVirtualMachine/*",
        "Microsoft.Storage/storageAccounts/listKeys/action",
        "Microsoft.Storage/storageAccounts/read",
        "Microsoft.Support/*",
    ),
    not_actions=(),
    data_actions=(),
    not_data_actions=(),
)

# --------------------------------------------------------------------------------------------
# Security (Key Vault) — https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security
# MicrosoftDocs/azure-docs articles/role-based-access-control/built-in-roles/security.md
# @ 03e5750af10b23b5ba437d5b333ec5e9437844f9 (ms.date 02/23/2026)
# --------------------------------------------------------------------------------------------

# The control-plane actions shared verbatim (same order) by the Key Vault data-plane "officer",
# "administrator" and "reader" roles on that page.
_KV_DATA_ROLE_ACTIONS = (
    "Microsoft.Authorization/*/read",
    "Microsoft.Insights/alertRules/*",
    "Microsoft.Resources/deployments/*",
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    "Microsoft.Support/*",
    "Microsoft.KeyVault/checkNameAvailability/read",
    "Microsoft.KeyVault/deletedVaults/read",
    "Microsoft.KeyVault/locations/*/read",
    "Microsoft.KeyVault/vaults/*/read",
    "Microsoft.KeyVault/operations/read",
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security#key-vault-administrator
KEY_VAULT_ADMINISTRATOR = RoleDefinition(
    name="00482a5a-887f-4fb3-b363-3b7fe8e74483",
    role_name="Key Vault Administrator",
    description=(
        "Perform all data plane operations on a key vault and all objects in it, including certificates, keys, and "
        "secrets. Cannot manage key vault resources or manage role assignments. "
        "Only works for key vaults that use the 'Azure role-based access control' permission model."
    ),
    actions=_KV_DATA_ROLE_ACTIONS,
    not_actions=(),
    data_actions=("Microsoft.KeyVault/vaults/*",),
    not_data_actions=(),
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security#key-vault-certificates-officer
KEY_VAULT_CERTIFICATES_OFFICER = RoleDefinition(
    name="a4417e6f-fecd-4de8-b567-7b0420556985",
    role_name="Key Vault Certificates Officer",
    description=(
        "Perform any action on the certificates of a key vault, except manage permissions. "
        "Only works for key vaults that use the 'Azure role-based access control' permission model."
    ),
    actions=_KV_DATA_ROLE_ACTIONS,
    not_actions=(),
    data_actions=(
        "Microsoft.KeyVault/vaults/certificatecas/*",
        "Microsoft.KeyVault/vaults/certificates/*",
        "Microsoft.KeyVault/vaults/certificatecontacts/write",
    ),
    not_data_actions=(),
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security#key-vault-certificate-user
KEY_VAULT_CERTIFICATE_USER = RoleDefinition(
    name="db79e9a7-68ee-4b58-9aeb-b90e7c24fcba",
    role_name="Key Vault Certificate User",
    description=(
        "Read certificate contents. "
        "Only works for key vaults that use the 'Azure role-based access control' permission model."
    ),
    actions=(),
    not_actions=(),
    data_actions=(
        "Microsoft.KeyVault/vaults/certificates/read",
        "Microsoft.KeyVault/vaults/secrets/getSecret/action",
        "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        "Microsoft.KeyVault/vaults/keys/read",
    ),
    not_data_actions=(),
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security#key-vault-contributor
# (The page's prose differs; the JSON description, used here, is "Lets you manage key vaults, but not access to them.")
KEY_VAULT_CONTRIBUTOR = RoleDefinition(
    name="f25e0fa2-a7c8-4377-a976-54943a77a395",
    role_name="Key Vault Contributor",
    description="Lets you manage key vaults, but not access to them.",
    actions=(
        "Microsoft.Authorization/*/read",
        "Microsoft.Insights/alertRules/*",
        "Microsoft.KeyVault/*",
        "Microsoft.Resources/deployments/*",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.Support/*",
    ),
    not_actions=(
        "Microsoft.KeyVault/locations/deletedVaults/purge/action",
        "Microsoft.KeyVault/hsmPools/*",
        "Microsoft.KeyVault/managedHsms/*",
    ),
    data_actions=(),
    not_data_actions=(),
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security#key-vault-crypto-officer
KEY_VAULT_CRYPTO_OFFICER = RoleDefinition(
    name="14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
    role_name="Key Vault Crypto Officer",
    description=(
        "Perform any action on the keys of a key vault, except manage permissions. "
        "Only works for key vaults that use the 'Azure role-based access control' permission model."
    ),
    actions=_KV_DATA_ROLE_ACTIONS,
    not_actions=(),
    data_actions=(
        "Microsoft.KeyVault/vaults/keys/*",
        "Microsoft.KeyVault/vaults/keyrotationpolicies/*",
    ),
    not_data_actions=(),
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security#key-vault-crypto-service-encryption-user
KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER = RoleDefinition(
    name="e147488a-f6f5-4113-8e2d-b22465e65bf6",
    role_name="Key Vault Crypto Service Encryption User",
    description=(
        "Read metadata of keys and perform wrap/unwrap operations. "
        "Only works for key vaults that use the 'Azure role-based access control' permission model."
    ),
    actions=(
        "Microsoft.EventGrid/eventSubscriptions/write",
        "Microsoft.EventGrid/eventSubscriptions/read",
        "Microsoft.EventGrid/eventSubscriptions/delete",
    ),
    not_actions=(),
    data_actions=(
        "Microsoft.KeyVault/vaults/keys/read",
        "Microsoft.KeyVault/vaults/keys/wrap/action",
        "Microsoft.KeyVault/vaults/keys/unwrap/action",
    ),
    not_data_actions=(),
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security#key-vault-crypto-service-release-user
KEY_VAULT_CRYPTO_SERVICE_RELEASE_USER = RoleDefinition(
    name="08bbd89e-9f13-488c-ac41-acfcb10c90ab",
    role_name="Key Vault Crypto Service Release User",
    description=(
        "Release keys. Only works for key vaults that use the 'Azure role-based access control' permission model."
    ),
    actions=(),
    not_actions=(),
    data_actions=("Microsoft.KeyVault/vaults/keys/release/action",),
    not_data_actions=(),
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security#key-vault-crypto-user
KEY_VAULT_CRYPTO_USER = RoleDefinition(
    name="12338af0-0e69-4776-bea7-57ae8d297424",
    role_name="Key Vault Crypto User",
    description=(
        "Perform cryptographic operations using keys. "
        "Only works for key vaults that use the 'Azure role-based access control' permission model."
    ),
    actions=(),
    not_actions=(),
    data_actions=(
        "Microsoft.KeyVault/vaults/keys/read",
        "Microsoft.KeyVault/vaults/keys/update/action",
        "Microsoft.KeyVault/vaults/keys/backup/action",
        "Microsoft.KeyVault/vaults/keys/encrypt/action",
        "Microsoft.KeyVault/vaults/keys/decrypt/action",
        "Microsoft.KeyVault/vaults/keys/wrap/action",
        "Microsoft.KeyVault/vaults/keys/unwrap/action",
        "Microsoft.KeyVault/vaults/keys/sign/action",
        "Microsoft.KeyVault/vaults/keys/verify/action",
    ),
    not_data_actions=(),
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security#key-vault-data-access-administrator
# The published permissions carry conditionVersion "2.0" and a condition restricting
# roleAssignments/write|delete to the eight Key Vault data roles (Administrator, Certificates Officer,
# Crypto Officer, Crypto Service Encryption User, Crypto User, Reader, Secrets Officer, Secrets User).
# The condition is NOT modelled here: only the permissions are recorded.
KEY_VAULT_DATA_ACCESS_ADMINISTRATOR = RoleDefinition(
    name="8b54135c-b56d-4d72-a534-26097cfdc8d8",
    role_name="Key Vault Data Access Administrator",
    description=(
        "Manage access to Azure Key Vault by adding or removing role assignments for the Key Vault Administrator, "
        "Key Vault Certificates Officer, Key Vault Crypto Officer, Key Vault Crypto Service Encryption User, "
        "Key Vault Crypto User, Key Vault Reader, Key Vault Secrets Officer, or Key Vault Secrets User roles. "
        "Includes an ABAC condition to constrain role assignments."
    ),
    actions=(
        "Microsoft.Authorization/roleAssignments/write",
        "Microsoft.Authorization/roleAssignments/delete",
        "Microsoft.Authorization/*/read",
        "Microsoft.Resources/deployments/*",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.Resources/subscriptions/read",
        "Microsoft.Management/managementGroups/read",
        "Microsoft.Resources/deployments/*",  # listed twice by Azure
        "Microsoft.Support/*",
        "Microsoft.KeyVault/vaults/*/read",
    ),
    not_actions=(),
    data_actions=(),
    not_data_actions=(),
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security#key-vault-reader
KEY_VAULT_READER = RoleDefinition(
    name="21090545-7ca7-4776-b22c-e363652d74d2",
    role_name="Key Vault Reader",
    description=(
        "Read metadata of key vaults and its certificates, keys, and secrets. Cannot read sensitive values such as "
        "secret contents or key material. "
        "Only works for key vaults that use the 'Azure role-based access control' permission model."
    ),
    actions=_KV_DATA_ROLE_ACTIONS,
    not_actions=(),
    data_actions=(
        "Microsoft.KeyVault/vaults/*/read",
        "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    ),
    not_data_actions=(),
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security#key-vault-secrets-officer
KEY_VAULT_SECRETS_OFFICER = RoleDefinition(
    name="b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    role_name="Key Vault Secrets Officer",
    description=(
        "Perform any action on the secrets of a key vault, except manage permissions. "
        "Only works for key vaults that use the 'Azure role-based access control' permission model."
    ),
    actions=_KV_DATA_ROLE_ACTIONS,
    not_actions=(),
    data_actions=("Microsoft.KeyVault/vaults/secrets/*",),
    not_data_actions=(),
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security#key-vault-secrets-user
KEY_VAULT_SECRETS_USER = RoleDefinition(
    name="4633458b-17de-408a-b874-0445c86b69e6",
    role_name="Key Vault Secrets User",
    description=(
        "Read secret contents. "
        "Only works for key vaults that use the 'Azure role-based access control' permission model."
    ),
    actions=(),
    not_actions=(),
    data_actions=(
        "Microsoft.KeyVault/vaults/secrets/getSecret/action",
        "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    ),
    not_data_actions=(),
)

# --------------------------------------------------------------------------------------------
# Storage — https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage
# MicrosoftDocs/azure-docs articles/role-based-access-control/built-in-roles/storage.md
# @ 1b4e136a1da731e1ed16444eb6ce5701bcd8c0f4
# --------------------------------------------------------------------------------------------

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage#storage-blob-data-contributor
STORAGE_BLOB_DATA_CONTRIBUTOR = RoleDefinition(
    name="ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    role_name="Storage Blob Data Contributor",
    description="Allows for read, write and delete access to Azure Storage blob containers and data",
    actions=(
        "Microsoft.Storage/storageAccounts/blobServices/containers/delete",
        "Microsoft.Storage/storageAccounts/blobServices/containers/read",
        "Microsoft.Storage/storageAccounts/blobServices/containers/write",
        "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
    ),
    not_actions=(),
    data_actions=(
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
    ),
    not_data_actions=(),
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage#storage-blob-data-owner
STORAGE_BLOB_DATA_OWNER = RoleDefinition(
    name="b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    role_name="Storage Blob Data Owner",
    description=(
        "Allows for full access to Azure Storage blob containers and data, including assigning POSIX access control."
    ),
    actions=(
        "Microsoft.Storage/storageAccounts/blobServices/containers/*",
        "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
    ),
    not_actions=(),
    data_actions=("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*",),
    not_data_actions=(),
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage#storage-blob-data-reader
STORAGE_BLOB_DATA_READER = RoleDefinition(
    name="2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    role_name="Storage Blob Data Reader",
    description="Allows for read access to Azure Storage blob containers and data",
    actions=(
        "Microsoft.Storage/storageAccounts/blobServices/containers/read",
        "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
    ),
    not_actions=(),
    data_actions=("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",),
    not_data_actions=(),
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/web-and-mobile#azure-maps-data-reader
AZURE_MAPS_DATA_READER = RoleDefinition(
    name="423170ca-a8f6-4b0f-8487-9e4eb8f49bfa",
    role_name="Azure Maps Data Reader",
    description="Grants access to read map related data from an Azure maps account.",
    actions=(),
    not_actions=(),
    data_actions=("Microsoft.Maps/accounts/*/read",),
    not_data_actions=(),
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/web-and-mobile#azure-maps-data-contributor
AZURE_MAPS_DATA_CONTRIBUTOR = RoleDefinition(
    name="8f5e0ce6-4f7b-4dcf-bddf-e6f48634a204",
    role_name="Azure Maps Data Contributor",
    description="Grants access to read, write, and delete access to map related data from an Azure maps account.",
    actions=(),
    not_actions=(),
    data_actions=("Microsoft.Maps/accounts/*/read", "Microsoft.Maps/accounts/*/write",
                  "Microsoft.Maps/accounts/*/delete", "Microsoft.Maps/accounts/*/action"),
    not_data_actions=(),
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage#storage-blob-delegator
STORAGE_BLOB_DELEGATOR = RoleDefinition(
    name="db58b8e5-c6ad-4a2a-8342-4190687cbf4a",
    role_name="Storage Blob Delegator",
    description="Allows for generation of a user delegation key which can be used to sign SAS tokens",
    actions=("Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",),
    not_actions=(),
    data_actions=(),
    not_data_actions=(),
)


# --------------------------------------------------------------------------------------------
# Containers — https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/containers
# MicrosoftDocs/azure-docs articles/role-based-access-control/built-in-roles/containers.md
# (the roles templates grant AKS kubelet identities and build agents on a registry)
# --------------------------------------------------------------------------------------------

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/containers#acrpull
ACR_PULL = RoleDefinition(
    name="7f951dda-4ed3-4680-a7ca-43fe172d538d",
    role_name="AcrPull",
    description="acr pull",
    actions=("Microsoft.ContainerRegistry/registries/pull/read",),
    not_actions=(),
    data_actions=(),
    not_data_actions=(),
)

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/containers#acrpush
ACR_PUSH = RoleDefinition(
    name="8311e382-0749-4cb8-b61a-304f252e45ec",
    role_name="AcrPush",
    description="acr push",
    actions=("Microsoft.ContainerRegistry/registries/pull/read", "Microsoft.ContainerRegistry/registries/push/write"),
    not_actions=(),
    data_actions=(),
    not_data_actions=(),
)

BUILT_IN_ROLES: tuple[RoleDefinition, ...] = (
    OWNER,
    CONTRIBUTOR,
    READER,
    USER_ACCESS_ADMINISTRATOR,
    ROLE_BASED_ACCESS_CONTROL_ADMINISTRATOR,
    MANAGED_IDENTITY_OPERATOR,
    MANAGED_IDENTITY_CONTRIBUTOR,
    VIRTUAL_MACHINE_CONTRIBUTOR,
    KEY_VAULT_ADMINISTRATOR,
    KEY_VAULT_CERTIFICATES_OFFICER,
    KEY_VAULT_CERTIFICATE_USER,
    KEY_VAULT_CONTRIBUTOR,
    KEY_VAULT_CRYPTO_OFFICER,
    KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER,
    KEY_VAULT_CRYPTO_SERVICE_RELEASE_USER,
    KEY_VAULT_CRYPTO_USER,
    KEY_VAULT_DATA_ACCESS_ADMINISTRATOR,
    KEY_VAULT_READER,
    KEY_VAULT_SECRETS_OFFICER,
    KEY_VAULT_SECRETS_USER,
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    STORAGE_BLOB_DATA_OWNER,
    STORAGE_BLOB_DATA_READER,
    STORAGE_BLOB_DELEGATOR,
    AZURE_MAPS_DATA_READER,
    AZURE_MAPS_DATA_CONTRIBUTOR,
    ACR_PULL,
    ACR_PUSH,
)

BY_NAME: dict[str, RoleDefinition] = {r.name.lower(): r for r in BUILT_IN_ROLES}
BY_ROLE_NAME: dict[str, RoleDefinition] = {r.role_name.lower(): r for r in BUILT_IN_ROLES}


# --------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=2048)
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
    NotActions (NotDataActions) pattern does.

    Control-plane and data-plane lists never mix: Actions/NotActions govern control-plane operations,
    DataActions/NotDataActions data-plane ones, and the Not* lists only subtract from their own plane's
    grants ("Understand Azure role definitions",
    https://learn.microsoft.com/azure/role-based-access-control/role-definitions). So Owner's ``*`` grants
    no Key Vault secret reads. ABAC conditions are not evaluated.
    """
    allow, deny = (role.data_actions, role.not_data_actions) if data else (role.actions, role.not_actions)
    return any(action_matches(p, action) for p in allow) and not any(action_matches(p, action) for p in deny)
