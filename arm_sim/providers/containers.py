"""Container services: registries (`Microsoft.ContainerRegistry`), container groups (`Microsoft.ContainerInstance`),
container apps and their environments (`Microsoft.App`, in containers_apps.py) and AKS clusters
(`Microsoft.ContainerService`, in containers_aks.py). Other types of these namespaces are stored as written.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import secrets
from typing import Any

from sqlalchemy import func, select

from arm_sim.core import ids
from arm_sim.core.errors import DomainError, bad_request
from arm_sim.db.models import Resource
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx
from arm_sim.providers import containers_aks, containers_apps
from arm_sim.providers.base import ActionResult, Doc, Effect
from arm_sim.providers.computed import TypedProvider, kind_of, props, public_ip, require_object, sim_state
from arm_sim.providers.network import find_subnet

REGISTRY = "microsoft.containerregistry/registries"
GROUP = "microsoft.containerinstance/containergroups"
_REGISTRY_NAME = re.compile(r"^[A-Za-z0-9]{5,50}$")
_PASSWORDS = ("password", "password2")
_GROUP_STATES = {"stop": "Stopped", "start": "Running", "restart": "Running"}


def _password() -> str:
    return base64.b64encode(secrets.token_bytes(39)).decode()  # 52 characters, as ACR's admin passwords


def _registry_taken(ctx: Ctx, name: str, resource_id: str) -> bool:
    return ctx.session.scalars(select(Resource.id).where(
        Resource.type_key == REGISTRY, func.lower(Resource.name) == name.lower(),
        Resource.key != ids.key(resource_id)).limit(1)).first() is not None


class ContainerRegistryProvider(TypedProvider):
    namespace = "Microsoft.ContainerRegistry"
    types = frozenset({REGISTRY})
    provider_namespaces = frozenset({"microsoft.containerregistry"})

    def validate(self, ctx: Ctx, path: ids.ArmPath, doc: Doc, before: Doc | None) -> None:
        if path.resource_type.lower() != REGISTRY or before is not None:
            return
        if not _REGISTRY_NAME.match(path.name):
            raise bad_request("InvalidResourceName",
                              f"The registry name '{path.name}' is invalid: it is 5 to 50 letters and digits.",
                              target="name")
        if _registry_taken(ctx, path.name, path.id):
            raise DomainError(409, "AlreadyInUse",
                              f"The registry DNS name {path.name.lower()}.azurecr.io is already in use.")

    def on_put(self, ctx: Ctx, before: Doc | None, after: Doc) -> None:
        if kind_of(after) != REGISTRY:
            return
        p, state = props(after), sim_state(after)
        state.setdefault("creationDate", iso(ctx.now))
        state.setdefault("passwords", {n: _password() for n in _PASSWORDS})
        p.update(loginServer=f"{after['name'].lower()}.azurecr.io", creationDate=state["creationDate"])
        p.setdefault("adminUserEnabled", False)
        p.setdefault("dataEndpointEnabled", False)
        p.setdefault("dataEndpointHostNames", [])
        p.setdefault("publicNetworkAccess", "Enabled")
        p.setdefault("networkRuleBypassOptions", "AzureServices")
        p.setdefault("zoneRedundancy", "Disabled")
        p.setdefault("anonymousPullEnabled", False)
        p.setdefault("encryption", {"status": "disabled"})
        p.setdefault("policies", {"quarantinePolicy": {"status": "disabled"},
                                  "trustPolicy": {"type": "Notary", "status": "disabled"},
                                  "retentionPolicy": {"days": 7, "status": "disabled"}})

    def action(self, ctx: Ctx, doc: Doc, action: str, body: Any, api_version: str,
               query: dict[str, str] | None = None) -> ActionResult:
        verb = action.lower()
        if kind_of(doc) != REGISTRY or verb not in ("listcredentials", "regeneratecredential"):
            return super().action(ctx, doc, action, body, api_version)
        if not props(doc).get("adminUserEnabled"):
            raise bad_request("UnAuthorizedForCredentialOperations",
                              f"Cannot perform credential operations for {doc['id']} as admin user is disabled. "
                              "Kindly enable admin user as per docs: https://docs.microsoft.com/azure/"
                              "container-registry/container-registry-authentication#admin-account")
        passwords = sim_state(doc).setdefault("passwords", {n: _password() for n in _PASSWORDS})
        if verb == "regeneratecredential":
            which = str(require_object(body, action).get("name") or "").lower()
            if which not in _PASSWORDS:
                raise bad_request("InvalidRequestContent",
                                  "The password name must be 'password' or 'password2'.", target="name")
            passwords[which] = _password()
        return ActionResult(200, {"username": doc["name"],
                                  "passwords": [{"name": n, "value": passwords[n]} for n in _PASSWORDS]})

    def provider_call(self, ctx: Ctx, method: str, subscription_id: str, segments: tuple[str, ...], body: Any,
                      api_version: str) -> tuple[int, Any] | None:
        if method != "POST" or [s.lower() for s in segments] != ["checknameavailability"]:
            return None
        name = require_object(body, "checkNameAvailability").get("name")
        if not isinstance(name, str) or not _REGISTRY_NAME.match(name):
            return 200, {"nameAvailable": False, "reason": "Invalid",
                         "message": "The specified resource name is disallowed: it is 5 to 50 letters and digits."}
        if _registry_taken(ctx, name, ""):
            return 200, {"nameAvailable": False, "reason": "AlreadyExists",
                         "message": f"The registry {name} is already in use."}
        return 200, {"nameAvailable": True}


def _private_ip(ctx: Ctx, doc: Doc, subnet_ids: Any) -> str:
    first = next((s.get("id") for s in subnet_ids or [] if isinstance(s, dict) and s.get("id")), None)
    subnet = find_subnet(ctx, str(first)) if first else None
    prefix = (subnet or {}).get("addressPrefix") or next(iter((subnet or {}).get("addressPrefixes") or []), None)
    try:
        net = ipaddress.ip_network(str(prefix or "10.0.0.0/24"), strict=False)
    except ValueError:
        net = ipaddress.ip_network("10.0.0.0/24")
    span = max(net.num_addresses - 5, 1)
    return str(net.network_address + 4 + int(sim_state(doc)["seed"][:8], 16) % span)


class ContainerInstanceProvider(TypedProvider):
    namespace = "Microsoft.ContainerInstance"
    types = frozenset({GROUP})

    def validate(self, ctx: Ctx, path: ids.ArmPath, doc: Doc, before: Doc | None) -> None:
        if path.resource_type.lower() != GROUP:
            return
        # secure environment values are write-only: GET never shows them
        secure = sim_state(doc).setdefault("secureValues", {})
        for container in props(doc).get("containers") or []:
            cp = (container or {}).get("properties") if isinstance(container, dict) else None
            for var in (cp or {}).get("environmentVariables") or []:
                if isinstance(var, dict) and "secureValue" in var:
                    secure[f"{container.get('name')}/{var.get('name')}"] = var.pop("secureValue")

    def on_put(self, ctx: Ctx, before: Doc | None, after: Doc) -> None:
        if kind_of(after) != GROUP:
            return
        p, state = props(after), sim_state(after)
        state.setdefault("seed", secrets.token_hex(8))
        started = state.setdefault("startTime", iso(ctx.now))
        address = p.get("ipAddress")
        if isinstance(address, dict):
            private = str(address.get("type", "Public")).lower() == "private"
            address["ip"] = _private_ip(ctx, after, p.get("subnetIds")) if private else public_ip(state["seed"])
            if address.get("dnsNameLabel"):
                address["fqdn"] = f"{address['dnsNameLabel']}.{after.get('location', '')}.azurecontainer.io"
        p.setdefault("sku", "Standard")
        p.setdefault("restartPolicy", "Always")
        running = (((before or {}).get("properties") or {}).get("instanceView") or {}).get("state", "Running")
        p["instanceView"] = {"state": running, "events": []}
        for container in p.get("containers") or []:
            if isinstance(container, dict) and isinstance(container.get("properties"), dict):
                container["properties"]["instanceView"] = {
                    "restartCount": 0, "events": [],
                    "currentState": {"state": running, "startTime": started, "detailStatus": ""}}

    def action(self, ctx: Ctx, doc: Doc, action: str, body: Any, api_version: str,
               query: dict[str, str] | None = None) -> ActionResult:
        state = _GROUP_STATES.get(action.lower())
        if kind_of(doc) != GROUP or state is None:
            return super().action(ctx, doc, action, body, api_version)
        p = props(doc)
        sim_state(doc)["startTime"] = iso(ctx.now)
        p["instanceView"] = dict(p.get("instanceView") or {}, state=state)
        for container in p.get("containers") or []:
            view = ((container or {}).get("properties") or {}).get("instanceView")
            if isinstance(view, dict):
                view["currentState"] = {"state": state, "startTime": iso(ctx.now), "detailStatus": ""}
        # stop and restart answer at once; start is a long-running operation, as in Azure
        return ActionResult(202, long_running=True) if action.lower() == "start" else ActionResult(204)


class ContainerAppsProvider(TypedProvider):
    namespace = "Microsoft.App"
    types = frozenset({containers_apps.ENVIRONMENT, containers_apps.APP})

    def validate(self, ctx: Ctx, path: ids.ArmPath, doc: Doc, before: Doc | None) -> None:
        if path.resource_type.lower() == containers_apps.APP:
            containers_apps.app_validate(doc)

    def on_put(self, ctx: Ctx, before: Doc | None, after: Doc) -> None:
        if kind_of(after) == containers_apps.ENVIRONMENT:
            containers_apps.environment_on_put(after)
        elif kind_of(after) == containers_apps.APP:
            containers_apps.app_on_put(ctx, before, after)

    def action(self, ctx: Ctx, doc: Doc, action: str, body: Any, api_version: str,
               query: dict[str, str] | None = None) -> ActionResult:
        result = containers_apps.app_action(doc, action) if kind_of(doc) == containers_apps.APP else None
        return result if result is not None else super().action(ctx, doc, action, body, api_version)


class ManagedClustersProvider(TypedProvider):
    namespace = "Microsoft.ContainerService"
    types = frozenset({containers_aks.CLUSTER})

    def on_put(self, ctx: Ctx, before: Doc | None, after: Doc) -> list[Effect] | None:
        return containers_aks.on_put(ctx, before, after) if kind_of(after) == containers_aks.CLUSTER else None

    def on_delete(self, ctx: Ctx, doc: Doc) -> list[Effect] | None:
        return containers_aks.on_delete(ctx, doc) if kind_of(doc) == containers_aks.CLUSTER else None

    def action(self, ctx: Ctx, doc: Doc, action: str, body: Any, api_version: str,
               query: dict[str, str] | None = None) -> ActionResult:
        result = containers_aks.credentials(doc, action) if kind_of(doc) == containers_aks.CLUSTER else None
        return result if result is not None else super().action(ctx, doc, action, body, api_version)
