"""Cloud metadata (`/metadata/endpoints`): how the Azure CLI and SDKs discover a cloud's endpoints.

Served without authentication, as ARM does. The single-object form answers `/metadata/endpoints`; the
list form (what `ARM_CLOUD_METADATA_URL` expects) lives at `/metadata/endpoints/list`.
"""

from __future__ import annotations

from typing import Any


def cloud(base: str) -> dict[str, Any]:
    return {
        "portal": base,
        "authentication": {
            "loginEndpoint": base,
            # the cloud's own management URL too: a client may ask for `{resourceManager}/.default`
            "audiences": list(dict.fromkeys(["https://management.core.windows.net/", "https://management.azure.com/",
                                             base + "/"])),
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "media": base,
        "graphAudience": "https://graph.windows.net/",
        "graph": "https://graph.windows.net/",
        "name": "ArmSimCloud",
        "suffixes": {
            "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
            "acrLoginServer": "azurecr.io",
            "sqlServerHostname": "database.windows.net",
            "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
            "keyVaultDns": "vault.azure.net",
            "storage": "core.windows.net",
            "azureFrontDoorEndpointSuffix": "azurefd.net",
            "storageSyncEndpointSuffix": "afs.azure.net",
            "mhsmDns": "managedhsm.azure.net",
            "mysqlServerEndpoint": "mysql.database.azure.com",
            "postgresqlServerEndpoint": "postgres.database.azure.com",
            "mariadbServerEndpoint": "mariadb.database.azure.com",
            "synapseAnalytics": "dev.azuresynapse.net",
            "attestationEndpoint": "attest.azure.net",
        },
        "batch": "https://batch.core.windows.net/",
        "resourceManager": base + "/",
        "vmImageAliasDoc": base + "/vmImageAliases.json",
        "activeDirectoryDataLake": "https://datalake.azure.net/",
        "sqlManagement": "https://management.core.windows.net:8443/",
        "gallery": base + "/",
        "microsoftGraphResourceId": base + "/",
        "appInsightsResourceId": "https://api.applicationinsights.io",
        "appInsightsTelemetryChannelResourceId": "https://dc.applicationinsights.azure.com/v2/track",
        "attestationResourceId": "https://attest.azure.net",
        "synapseAnalyticsResourceId": "https://dev.azuresynapse.net",
        "logAnalyticsResourceId": "https://api.loganalytics.io",
        "ossrDbmsResourceId": "https://ossrdbms-aad.database.windows.net",
    }
