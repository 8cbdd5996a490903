"""Host names: Azure's own, that arm-sim answers for through its proxy, and the local names of vaults."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

# The main listener's planes under Azure's names (ARM, Entra ID, Graph); vaults are `{name}.vault.azure.net`.
MANAGEMENT, LOGIN, GRAPH = "management.azure.com", "login.microsoftonline.com", "graph.microsoft.com"
AZURE_HOSTS = frozenset({MANAGEMENT, LOGIN, GRAPH})
VAULT_DOMAIN = "vault.azure.net"
# External OIDC issuers arm-sim plays (domain/oidc_issuers.py), served under their real names through the proxy:
# GitHub Actions' token service, and every AKS cluster's issuer (`{region}.oic.prod-aks.azure.com/{tenant}/{id}/`).
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
AKS_OIDC_DOMAIN = "oic.prod-aks.azure.com"
IMDS_ADDRESS = "169.254.169.254"


@lru_cache(maxsize=64)  # asked on every request with the same few listener hosts
def name_host(public_host: str) -> str:
    """The domain vault names go under on the main listener (`{name}.vault.{this}`): the public host, or
    `localhost` when that is an address (a name cannot go under an address)."""
    try:
        ipaddress.ip_address(public_host.strip("[]"))
    except ValueError:
        return public_host.lower()
    return "localhost"


def is_issuer_host(host: str) -> bool:
    """Whether a (lower-case, port-less) host name is one of the OIDC issuers' that arm-sim answers for."""
    if host == GITHUB_OIDC_HOST:
        return True
    region, dot, domain = host.partition(".")
    return bool(dot) and domain == AKS_OIDC_DOMAIN and region.isascii() and region.replace("-", "").isalnum()
