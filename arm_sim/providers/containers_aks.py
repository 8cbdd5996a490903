"""AKS (`Microsoft.ContainerService/managedClusters`): API server FQDNs, the OIDC issuer, the node resource group
and the identities AKS creates in it: the kubelet identity (`{cluster}-agentpool`) and one per identity-using
add-on (`{addon}-{cluster}`), user-assigned identities the cluster's templates grant roles to.

The node resource group and those identities are resources the AKS RP creates on its own: the hook returns them as
effects (providers.base), which the service writes through THE write path after it, then runs the hook again to
read the identities' principals.
"""

from __future__ import annotations

import base64
import re
import secrets
from typing import Any

from arm_sim.core import ids
from arm_sim.core.errors import bad_request
from arm_sim.core.identity_types import parse_type
from arm_sim.db.models import Resource
from arm_sim.domain import oidc_issuers, tenancy
from arm_sim.domain.context import Ctx
from arm_sim.providers.base import ActionResult, DeleteResourceGroup, Doc, Effect, PutResource, PutResourceGroup
from arm_sim.providers.computed import member, new_guid, props, sim_state

CLUSTER = "microsoft.containerservice/managedclusters"
DEFAULT_KUBERNETES_VERSION = "1.31.2"
# what the RP picks when a pool names no size (`az aks create` sends "" and leaves it to the server; az's help names
# these defaults)
DEFAULT_VM_SIZE = {"Linux": "Standard_DS2_v2", "Windows": "Standard_D2s_v3"}
UAI_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"
UAI_API = "2023-01-31"
# add-ons that AKS gives a user-assigned identity of their own in the node resource group
_ADDON_IDENTITIES = frozenset({"omsagent", "azurekeyvaultsecretsprovider", "ingressapplicationgateway",
                               "aciconnectorlinux", "azurepolicy", "openservicemesh"})
_CREDENTIALS = {"listclusterusercredential": "clusterUser", "listclusteradmincredential": "clusterAdmin",
                "listclustermonitoringusercredential": "clusterMonitoringUser"}


def _dns_prefix(name: str, rg: str, subscription: str) -> str:
    """What `az aks create` picks when no dnsPrefix is given."""
    def clean(s: str) -> str:
        return re.sub(r"[^A-Za-z0-9-]", "", s)
    return f"{clean(name)[:10]}-{clean(rg)[:16]}-{subscription[:6]}".strip("-")


def _uses_managed_identity(doc: Doc, p: dict[str, Any]) -> bool:
    sp = member(p, "servicePrincipalProfile")
    if sp.get("clientId") and str(sp["clientId"]).lower() != "msi":
        return False  # a service-principal cluster has no kubelet identity
    system, user = parse_type((doc.get("identity") or {}).get("type"))
    return system or user


def _identity_fields(ctx: Ctx, resource_id: str) -> dict[str, str] | None:
    row = ctx.session.get(Resource, ids.key(resource_id))
    if row is None or row.type_key != UAI_TYPE.lower():
        return None
    p = row.properties or {}
    return {"resourceId": row.id, "clientId": p.get("clientId", ""), "objectId": p.get("principalId", "")}


def on_put(ctx: Ctx, before: Doc | None, after: Doc) -> list[Effect]:
    p, state = props(after), sim_state(after)
    old = (before or {}).get("properties") or {}
    path = ids.parse(after["id"])
    sub, rg, name, location = path.subscription or "", path.resource_group or "", after["name"], after["location"]
    if not p.get("dnsPrefix") and not p.get("fqdnSubdomain"):
        p["dnsPrefix"] = old.get("dnsPrefix") or _dns_prefix(name, rg, sub)
    label = f"{p.get('dnsPrefix') or p.get('fqdnSubdomain')}-{state.setdefault('fqdnHash', secrets.token_hex(4))}"
    access = member(p, "apiServerAccessProfile")
    for stale in ("fqdn", "privateFQDN"):
        p.pop(stale, None)
    if access.get("enablePrivateCluster"):
        p["privateFQDN"] = f"{label}.{state.setdefault('privateHash', new_guid())}.privatelink.{location}.azmk8s.io"
        if access.get("enablePrivateClusterPublicFQDN", True):
            p["fqdn"] = f"{label}.hcp.{location}.azmk8s.io"
    else:
        p["fqdn"] = f"{label}.hcp.{location}.azmk8s.io"
    p["azurePortalFQDN"] = f"{label}.portal.hcp.{location}.azmk8s.io"
    # the node resource group cannot change once the cluster exists
    p["nodeResourceGroup"] = old.get("nodeResourceGroup") or p.get("nodeResourceGroup") or f"MC_{rg}_{name}_{location}"
    if not p.get("kubernetesVersion"):  # `az aks create` sends "" for the RP's default version
        p["kubernetesVersion"] = old.get("kubernetesVersion") or DEFAULT_KUBERNETES_VERSION
    p["currentKubernetesVersion"] = p["kubernetesVersion"]
    p["powerState"] = old.get("powerState") or {"code": "Running"}
    p.setdefault("maxAgentPools", 100)
    p.setdefault("enableRBAC", True)
    _agent_pools(p)
    oidc = p.get("oidcIssuerProfile")
    if isinstance(oidc, dict) and oidc.get("enabled"):
        tenant = tenancy.subscription_tenant(ctx, sub) or ""
        oidc["issuerURL"] = (f"https://{location}.oic.prod-aks.azure.com/{tenant}/"
                             f"{state.setdefault('oidcId', new_guid())}/")
    old_issuer = (old.get("oidcIssuerProfile") or {}).get("issuerURL")
    if old_issuer and old_issuer != (oidc.get("issuerURL") if isinstance(oidc, dict) else None):
        oidc_issuers.forget(ctx, old_issuer, after["id"])  # the issuer (domain/oidc_issuers.py) ends with its profile
    effects: list[Effect] = []
    if _uses_managed_identity(after, p):
        _kubelet_identity(ctx, after, p, state, effects)
        _addon_identities(ctx, after, p, state, effects)
    else:
        p.pop("identityProfile", None)
    return effects


def _agent_pools(p: dict[str, Any]) -> None:
    pools = [a for a in p.get("agentPoolProfiles") or [] if isinstance(a, dict)]
    for i, pool in enumerate(pools):
        pool.setdefault("mode", "System" if i == 0 else "User")
        pool.setdefault("osType", "Linux")
        pool.setdefault("type", "VirtualMachineScaleSets")
        # az sends "" for both: the server's choice
        pool["vmSize"] = pool.get("vmSize") or DEFAULT_VM_SIZE.get(str(pool["osType"]), DEFAULT_VM_SIZE["Linux"])
        pool["orchestratorVersion"] = pool.get("orchestratorVersion") or p["kubernetesVersion"]
        pool["currentOrchestratorVersion"] = pool["orchestratorVersion"]
        pool["provisioningState"] = "Succeeded"
        pool["powerState"] = {"code": "Running"}
        pool.setdefault("nodeImageVersion", "AKSUbuntu-2204gen2containerd-202501.12.0")


def _rp_identity(ctx: Ctx, doc: Doc, p: dict[str, Any], state: dict[str, Any], uai_name: str,
                 effects: list[Effect]) -> dict[str, str] | None:
    """The user-assigned identity AKS keeps in the node resource group (kubelet, add-ons) as {resourceId, clientId,
    objectId}; None while it does not exist: then the effects that make it (again) are added."""
    path = ids.parse(doc["id"])
    sub, location = path.subscription or "", doc["location"]
    own_id = f"/subscriptions/{sub}/resourceGroups/{p['nodeResourceGroup']}/providers/{UAI_TYPE}/{uai_name}"
    fields = _identity_fields(ctx, own_id)
    if fields is None:
        if not effects:
            effects.append(PutResourceGroup(sub, p["nodeResourceGroup"], {"location": location,
                                                                          "managedBy": doc["id"]}))
        effects.append(PutResource(own_id, {"location": location}, UAI_API))
        state["nodeResourceGroupCreated"] = True
    return fields


def _kubelet_identity(ctx: Ctx, doc: Doc, p: dict[str, Any], state: dict[str, Any], effects: list[Effect]) -> None:
    profile = member(p, "identityProfile")
    asked = member(profile, "kubeletidentity")
    own = f"{doc['name']}-agentpool"
    if asked.get("resourceId") and not str(asked["resourceId"]).lower().endswith(f"/{own.lower()}"):
        fields = _identity_fields(ctx, str(asked["resourceId"]))  # bring-your-own kubelet identity
        if fields is None:
            raise bad_request("CustomKubeletIdentityNotFound",
                              f"The kubelet identity '{asked['resourceId']}' was not found.",
                              target="properties.identityProfile.kubeletidentity")
    else:
        fields = _rp_identity(ctx, doc, p, state, own, effects)
    if fields is not None:
        p["identityProfile"] = dict(profile, kubeletidentity=fields)


def _addon_identities(ctx: Ctx, doc: Doc, p: dict[str, Any], state: dict[str, Any], effects: list[Effect]) -> None:
    """Enabled add-ons that act as themselves get an identity of their own (`{addon}-{cluster}`)."""
    for key, addon in (p.get("addonProfiles") or {}).items():
        if not isinstance(addon, dict) or key.lower() not in _ADDON_IDENTITIES:
            continue
        enabled = bool(addon.get("enabled"))
        fields = _rp_identity(ctx, doc, p, state, f"{key.lower()}-{doc['name']}", effects) if enabled else None
        if fields is None:
            addon.pop("identity", None)
        else:
            addon["identity"] = fields


def on_delete(ctx: Ctx, doc: Doc) -> list[Effect]:
    """Deleting a cluster deletes its node resource group (and so the kubelet identity and its principal), and ends
    its OIDC issuer: assertions it signed no longer verify."""
    issuer = ((doc.get("properties") or {}).get("oidcIssuerProfile") or {}).get("issuerURL")
    if issuer:
        oidc_issuers.forget(ctx, issuer, doc["id"])
    node_rg = (doc.get("properties") or {}).get("nodeResourceGroup")
    if node_rg and sim_state(doc).get("nodeResourceGroupCreated"):
        return [DeleteResourceGroup(ids.parse(doc["id"]).subscription or "", node_rg)]
    return []


def credentials(doc: Doc, action: str) -> ActionResult | None:
    """`listClusterUserCredential` & co.: a kubeconfig for the cluster's API server (which nothing serves)."""
    kind = _CREDENTIALS.get(action.lower())
    if kind is None:
        return None
    p, name = doc.get("properties") or {}, doc["name"]
    server = p.get("fqdn") or p.get("privateFQDN")
    user = f"{kind}_{ids.parse(doc['id']).resource_group}_{name}"
    token = sim_state(doc).setdefault("kubeToken", secrets.token_hex(32))
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\narm-sim\n-----END CERTIFICATE-----\n").decode()
    kubeconfig = (f"apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n"
                  f"    server: https://{server}:443\n  name: {name}\ncontexts:\n- context:\n    cluster: {name}\n"
                  f"    user: {user}\n  name: {name}\ncurrent-context: {name}\nkind: Config\npreferences: {{}}\n"
                  f"users:\n- name: {user}\n  user:\n    token: {token}\n")
    return ActionResult(200, {"kubeconfigs": [{"name": kind, "value": base64.b64encode(kubeconfig.encode()).decode()}]})
