"""The explicit provider registry: the first provider that handles a type wins; generic is last."""

from __future__ import annotations

from arm_sim.providers.authorization import AuthorizationProvider
from arm_sim.providers.azure_stack_hci import AzureStackHciProvider
from arm_sim.providers.base import Provider
from arm_sim.providers.compute import ComputeProvider
from arm_sim.providers.containers import (
    ContainerAppsProvider,
    ContainerInstanceProvider,
    ContainerRegistryProvider,
    ManagedClustersProvider,
)
from arm_sim.providers.deployment_scripts import DeploymentScriptsProvider
from arm_sim.providers.generic import GenericProvider
from arm_sim.providers.keyvault import KeyVaultProvider
from arm_sim.providers.managed_identity import ManagedIdentityProvider
from arm_sim.providers.monitoring import ApplicationInsightsProvider, LogAnalyticsProvider
from arm_sim.providers.network import NetworkProvider
from arm_sim.providers.sql import SqlProvider
from arm_sim.providers.storage import StorageProvider
from arm_sim.providers.web import WebProvider

PROVIDERS: tuple[Provider, ...] = (
    ManagedIdentityProvider(),
    AuthorizationProvider(),
    ComputeProvider(),
    WebProvider(),
    KeyVaultProvider(),
    # runtime state that templates read (issue 6 point 4); each handles only its own types
    StorageProvider(),
    NetworkProvider(),
    LogAnalyticsProvider(),
    ApplicationInsightsProvider(),
    SqlProvider(),
    ContainerRegistryProvider(),
    ContainerInstanceProvider(),
    ContainerAppsProvider(),
    ManagedClustersProvider(),
    DeploymentScriptsProvider(),
    AzureStackHciProvider(),
    GenericProvider(),
)


_CHOSEN: dict[str, Provider] = {}  # type key -> provider: the choice is fixed, and asked several times a request


def provider_for(type_key: str) -> Provider:
    found = _CHOSEN.get(type_key)
    if found is None:
        found = next(p for p in PROVIDERS if p.handles(type_key))  # the generic provider handles everything
        if len(_CHOSEN) > 4096:  # callers may name any type: stay bounded
            _CHOSEN.clear()
        _CHOSEN[type_key] = found
    return found
