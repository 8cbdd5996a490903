"""`EvalContext`: everything an expression can ask of the deployment around it.

The expression language is pure; the deployment engine subclasses this and overrides the hooks that are
legal where it evaluates (parameter defaults, variables, resource properties, outputs…). Every hook raises
ARM's "not expected at this location" `InvalidTemplate` by default, so a forgotten override fails loudly
instead of inventing a value. Only `environment()` has a real default (Azure public cloud metadata).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from arm_sim.templates.dotnet_datetime import format_datetime
from arm_sim.templates.errors import not_expected, not_implemented

DEPLOYMENT_SCOPES = ("resourceGroup", "subscription", "managementGroup", "tenant")

_ONLY_IN_PARAMETER_DEFAULTS = "The function can only be used with parameter default value."


def azure_cloud_environment() -> dict[str, Any]:
    """`environment()` of the Azure public cloud, as ARM answers it."""
    return {
        "name": "AzureCloud",
        "gallery": "https://gallery.azure.com/",
        "graph": "https://graph.windows.net/",
        "portal": "https://portal.azure.com",
        "graphAudience": "https://graph.windows.net/",
        "activeDirectoryDataLake": "https://datalake.azure.net/",
        "batch": "https://batch.core.windows.net/",
        "media": "https://rest.media.azure.net",
        "sqlManagement": "https://management.core.windows.net:8443/",
        "vmImageAliasDoc": (
            "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/main/arm-compute/quickstart-templates/"
            "aliases.json"
        ),
        "resourceManager": "https://management.azure.com/",
        "authentication": {
            "loginEndpoint": "https://login.microsoftonline.com/",
            "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "suffixes": {
            "acrLoginServer": ".azurecr.io",
            "azureDatalakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
            "azureDatalakeStoreFileSystem": "azuredatalakestore.net",
            "azureFrontDoorEndpointSuffix": "azurefd.net",
            "keyvaultDns": ".vault.azure.net",
            "sqlServerHostname": ".database.windows.net",
            "storage": "core.windows.net",
        },
    }


class EvalContext:
    """The deployment-side hooks of the expression language. Subclass and override what is legal.

    Scope facts used by resourceId() and friends are plain attributes:
    `current_subscription_id`, `current_resource_group` (None above resource-group scope),
    `current_management_group`, `deployment_scope` (one of DEPLOYMENT_SCOPES).

    `utcNow()`/`newGuid()` are only legal in parameter default values: set `allow_nondeterministic` while
    evaluating those. `fixed_utc_now` / `fixed_new_guid` pin their results (reproducible tests); otherwise
    `now()` (override it with the simulated clock) and `random_guid()` supply them.
    """

    def __init__(
        self,
        *,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        management_group: str | None = None,
        deployment_scope: str = "resourceGroup",
        fixed_utc_now: datetime | None = None,
        fixed_new_guid: str | None = None,
        allow_nondeterministic: bool = False,
    ) -> None:
        if deployment_scope not in DEPLOYMENT_SCOPES:
            raise ValueError(f"deployment_scope must be one of {DEPLOYMENT_SCOPES}, not {deployment_scope!r}")
        self.current_subscription_id = subscription_id
        self.current_resource_group = resource_group
        self.current_management_group = management_group
        self.deployment_scope = deployment_scope
        self.fixed_utc_now = fixed_utc_now
        self.fixed_new_guid = fixed_new_guid
        self.allow_nondeterministic = allow_nondeterministic

    # -- values the template defines ------------------------------------------------------------------------
    def parameter(self, name: str) -> Any:
        raise not_expected("parameters")

    def variable(self, name: str) -> Any:
        raise not_expected("variables")

    def copy_index(self, loop: str | None) -> int:
        """The current index of the named copy loop (None: the innermost resource/property loop)."""
        raise not_expected("copyIndex", "The function can only be used in a resource with copy specified.")

    def user_function(self, namespace: str, name: str) -> tuple[list[Any], Any]:
        """A user-defined function: its parameter declarations ([{name, type}] as the template wrote them:
        unvalidated JSON) and its output value."""
        raise not_expected(f"{namespace}.{name}")

    # -- deployment and scope ---------------------------------------------------------------------------------
    def resource_group(self) -> dict[str, Any]:
        raise not_expected("resourceGroup")

    def subscription(self) -> dict[str, Any]:
        raise not_expected("subscription")

    def tenant(self) -> dict[str, Any]:
        raise not_expected("tenant")

    def management_group(self) -> dict[str, Any]:
        raise not_expected("managementGroup")

    def deployment(self) -> dict[str, Any]:
        raise not_expected("deployment")

    def environment(self) -> dict[str, Any]:
        return azure_cloud_environment()

    def deployer(self) -> dict[str, Any]:
        raise not_expected("deployer")

    # -- runtime state of resources ----------------------------------------------------------------------------
    def reference(self, target: str, api_version: str | None, full: bool) -> Any:
        raise not_expected("reference")

    def references(self, target: str, full: bool) -> list[Any]:
        raise not_expected("references")

    def list_call(self, function_name: str, target: str, api_version: str, body: Any) -> Any:
        raise not_expected(function_name)

    def providers(self, namespace: str, resource_type: str | None) -> Any:
        raise not_implemented("the template function 'providers' (deprecated in ARM)")

    # -- non-deterministic values ------------------------------------------------------------------------------
    def now(self) -> datetime:
        """The current UTC time. The deployment engine overrides this with the simulated clock."""
        return datetime.now(UTC)

    def random_guid(self) -> str:
        return str(uuid.uuid4())

    def utc_now(self, fmt: str) -> str:
        if not self.allow_nondeterministic:
            raise not_expected("utcNow", _ONLY_IN_PARAMETER_DEFAULTS)
        now = self.fixed_utc_now if self.fixed_utc_now is not None else self.now()
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return format_datetime(now.astimezone(UTC), fmt)

    def new_guid(self) -> str:
        if not self.allow_nondeterministic:
            raise not_expected("newGuid", _ONLY_IN_PARAMETER_DEFAULTS)
        return self.fixed_new_guid if self.fixed_new_guid is not None else self.random_guid()
