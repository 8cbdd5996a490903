"""Microsoft.Web: App Service and Function apps (sites) with their identity endpoint; plans stored generically.

Every site gets an App Service identity endpoint when it is created: a per-site key (the path of its
IDENTITY_ENDPOINT, kept in the site's simulator state for life) and a per-site IDENTITY_HEADER secret,
both in the identity-endpoint table. Deleting the site removes the endpoint in the same transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from arm_sim.core import ids
from arm_sim.core.errors import bad_request, conflict, not_found
from arm_sim.core.identity_types import BOTH_WITH_SPACE
from arm_sim.db.models import Resource
from arm_sim.domain import events, identity_endpoints
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx
from arm_sim.providers import provider_data, web_answers, web_calls, web_config, web_publishing, web_stacks
from arm_sim.providers.base import ActionResult, Doc, Effect, Provider, PutResource
from arm_sim.providers.web_calls import check_name_availability, geo_regions, valid_site_name

SITE = "microsoft.web/sites"
SERVER_FARM = "microsoft.web/serverfarms"
SIM_STATE = "_sim"  # resources.documents.SIM_STATE: the simulator's own state, never rendered
HOST_SUFFIX = "azurewebsites.net"
# Set by App Service, whatever the client sends back (GET, edit, PUT).
_READ_ONLY = ("state", "hostNames", "enabledHostNames", "defaultHostName", "repositorySiteName", "usageState",
              "availabilityState", "hostNameSslStates", "lastModifiedTimeUtc", "resourceGroup",
              "outboundIpAddresses", "possibleOutboundIpAddresses", "inProgressOperationId", "sku")
_STATES = {"start": "Running", "stop": "Stopped", "restart": "Running"}
# App Service's pricing tiers in its own spelling (SkuDescription.tier in the Microsoft.Web REST specs)
_TIERS = ("Free", "Shared", "Basic", "Standard", "Premium", "PremiumV2", "PremiumV3", "PremiumV4", "Isolated",
          "IsolatedV2", "Dynamic", "ElasticPremium", "FlexConsumption", "WorkflowStandard", "PremiumContainer")


def check_site_name(name: str) -> None:
    if not valid_site_name(name):
        raise bad_request(
            "InvalidResourceName",
            f"The site name '{name}' is invalid: the host name {name}.{HOST_SUFFIX} is invalid. A site name is "
            "2 to 60 characters of letters, digits and hyphens, and does not start or end with a hyphen.",
            target="name")


def _check_unique(ctx: Ctx, site_id: str, name: str) -> None:
    """Site names are global: they are host names under azurewebsites.net."""
    other = ctx.session.scalars(select(Resource.id).where(
        Resource.type_key == SITE, func.lower(Resource.name) == name.lower(),
        Resource.key != ids.key(site_id)).limit(1)).first()
    if other is not None:
        raise conflict("Conflict", f"Website with given name {name} already exists.")


def _server_farm(ctx: Ctx, farm_id: Any) -> Resource | None:
    """The plan a site names (None without one); 404 as App Service answers when it does not exist."""
    if farm_id is None:
        return None
    if not isinstance(farm_id, str):
        raise bad_request("BadRequest", "'serverFarmId' must be the resource id of an App Service plan.")
    row = ctx.session.get(Resource, ids.key(farm_id))
    if row is None or row.type_key != SERVER_FARM:
        raise not_found("NotFound", f"Cannot find ServerFarm with name {farm_id.rstrip('/').rsplit('/', 1)[-1]}.")
    return row


def _tier(plan: Resource) -> str:
    """The plan's pricing tier as App Service spells it on a site's `sku` (`Basic`, `PremiumV3`, `Dynamic` …),
    whatever case the plan was written in."""
    tier = str((plan.sku or {}).get("tier") or "")
    known = {t.lower(): t for t in _TIERS}
    return known.get(tier.lower(), tier)


def _consumption_plan(site_id: str, location: Any, linux: bool) -> str:
    """The plan App Service makes for a function app created without one (`az functionapp create
    --consumption-plan-location`): a Consumption plan (Y1, Dynamic) in the site's group, named after the region's
    display name as Azure names it (`EastUSLinuxDynamicPlan`, `EastUSPlan` on Windows)."""
    loc = provider_data.location(provider_data.normalize_location(str(location or "")))
    region = (loc.display_name if loc else str(location or "")).replace(" ", "")
    site = ids.parse(site_id)
    return (f"/subscriptions/{site.subscription}/resourceGroups/{site.resource_group}/providers/Microsoft.Web/"
            f"serverfarms/{region}{'LinuxDynamicPlan' if linux else 'Plan'}")


def _host_name_ssl_states(host: str, scm: str) -> list[Doc]:
    return [{"name": h, "sslState": "Disabled", "ipBasedSslResult": None, "virtualIP": None, "thumbprint": None,
             "toUpdate": None, "toUpdateIpBasedSsl": None, "ipBasedSslState": "NotConfigured", "hostType": t}
            for h, t in ((host, "Standard"), (scm, "Repository"))]


class WebProvider(Provider):
    namespace = "Microsoft.Web"
    system_data = False  # Azure's answers have none, and no `tags` until some are set (recorded: az webapp create)
    empty_tags = False  # (the properties App Service answers as null come from providers/web_answers)
    identity_both = BOTH_WITH_SPACE
    # App Service answers a PUT that creates a site or plan with 200, not 201: azure-mgmt-web accepts only 200/202
    created_status = 200

    def validate(self, ctx: Ctx, path: ids.ArmPath, doc: Doc, before: Doc | None) -> None:
        if path.resource_type.lower() == SERVER_FARM and not isinstance(doc.get("sku"), dict):
            raise bad_request("BadRequest", "The parameter SKU cannot be null.")
        if path.resource_type.lower() != SITE:
            return  # site children are stored as written
        check_site_name(path.name)
        if before is None:
            _check_unique(ctx, path.id, path.name)
        props: dict[str, Any] = doc.setdefault("properties", {})
        old = (before or {}).get("properties") or {}
        for field in _READ_ONLY:
            props.pop(field, None)
            if field in old:
                props[field] = old[field]
        if not props.get("serverFarmId") and old.get("serverFarmId"):
            props["serverFarmId"] = old["serverFarmId"]  # a site stays on its plan until moved to another
        linux = "linux" in str(doc.get("kind") or "").lower() or props.get("reserved") is True
        new_consumption = (before is None and not props.get("serverFarmId")
                           and "functionapp" in str(doc.get("kind") or "").lower())
        if new_consumption:
            props["serverFarmId"] = _consumption_plan(path.id, doc.get("location"), linux)
        if not props.get("serverFarmId"):
            raise bad_request("BadRequest", "Parameter ServerFarmId is null or empty.")
        farm_changed = before is None or props.get("serverFarmId") != old.get("serverFarmId")
        plan = _server_farm(ctx, props.get("serverFarmId")) if farm_changed and not new_consumption else None
        if new_consumption:
            plan = ctx.session.get(Resource, ids.key(props["serverFarmId"]))
            if plan is None:  # made by on_put, with the site
                props["sku"] = "Dynamic"
                props["reserved"] = linux
                doc.setdefault(SIM_STATE, {})["newConsumptionPlan"] = True
        if plan is not None:
            props["sku"] = _tier(plan)  # the Azure CLI reads it (is_flex_functionapp)
            if "linux" in str(plan.kind or "").lower():
                props["reserved"] = True  # a site on a Linux plan is a Linux site
        kind = doc.get("kind") or (before or {}).get("kind") or "app"
        if not isinstance(kind, str):
            raise bad_request("BadRequest", "'kind' must be a string such as 'app', 'app,linux' or 'functionapp'.",
                              target="kind")
        doc["kind"] = kind

    def on_put(self, ctx: Ctx, before: Doc | None, after: Doc) -> list[Effect] | None:
        if after["type"].lower() != SITE:
            return None
        name, props = after["name"], after["properties"]
        host, scm = f"{name}.{HOST_SUFFIX}".lower(), f"{name}.scm.{HOST_SUFFIX}".lower()
        props.setdefault("state", "Running")
        props.update(defaultHostName=host, hostNames=[host], enabledHostNames=[host, scm],
                     hostNameSslStates=_host_name_ssl_states(host, scm), repositorySiteName=name,
                     resourceGroup=ids.parse(after["id"]).resource_group, lastModifiedTimeUtc=iso(ctx.now))
        props.setdefault("usageState", "Normal")
        props.setdefault("availabilityState", "Normal")
        props.setdefault("enabled", True)
        props.setdefault("reserved", "linux" in str(after.get("kind", "")).lower())
        props.setdefault("httpsOnly", False)
        props.setdefault("clientAffinityEnabled", True)
        state = after.setdefault(SIM_STATE, {})
        if not state.get("identityKey"):  # once per site, kept for life: it is the site's IDENTITY_ENDPOINT
            state["identityKey"] = uuid.uuid4().hex
            identity_endpoints.register(ctx, state["identityKey"], "site", after["id"])
        web_publishing.ensure_password(state)
        if before is not None:
            return None
        made: list[Effect] = []
        if state.pop("newConsumptionPlan", False):
            made.append(PutResource(props["serverFarmId"], {
                "location": after.get("location"), "kind": "functionapp",
                "sku": {"name": "Y1", "tier": "Dynamic", "size": "Y1", "family": "Y", "capacity": 0},
                "properties": {"reserved": bool(props.get("reserved"))}}, web_config.API))
        return made + web_config.initial(after)

    def on_delete(self, ctx: Ctx, doc: Doc) -> None:
        if doc["type"].lower() == SITE:
            identity_endpoints.unregister(ctx, doc["id"])

    def provider_call(self, ctx: Ctx, method: str, subscription_id: str, segments: tuple[str, ...], body: Any,
                      api_version: str) -> tuple[int, Any] | None:
        if method == "POST" and [s.lower() for s in segments] == ["checknameavailability"]:
            return check_name_availability(ctx, body)
        if method == "GET" and [s.lower() for s in segments] == ["georegions"]:
            return geo_regions(subscription_id)
        return None

    def render(self, ctx: Ctx, doc: Doc, api_version: str) -> Doc:
        if doc["type"].lower() in (SITE, web_answers.PLAN):
            return web_answers.render(doc)
        return doc

    def group_call(self, ctx: Ctx, method: str, subscription_id: str, resource_group: str,
                   segments: tuple[str, ...], body: Any, api_version: str) -> tuple[int, Any] | None:
        if method == "POST" and segments[0].lower() == "validate":
            return web_calls.validate(ctx, subscription_id, resource_group, body)
        return None

    def tenant_call(self, ctx: Ctx, method: str, segments: tuple[str, ...], query: dict[str, str],
                    api_version: str) -> tuple[int, Any] | None:
        """Tenant-level reads (`GET /providers/Microsoft.Web/webAppStacks` …): see web_stacks."""
        return web_stacks.tenant_read(segments, query) if method == "GET" else None

    def action(self, ctx: Ctx, doc: Doc, action: str, body: Any, api_version: str,
               query: dict[str, str] | None = None) -> ActionResult:
        if doc["type"].lower() == web_config.CONFIG and (listed := web_config.list_action(doc, action)):
            return listed
        if doc["type"].lower() == SITE and action.lower() == "publishxml":
            state = doc.setdefault(SIM_STATE, {})
            web_publishing.ensure_password(state)  # (a site written before sites had one)
            return ActionResult(200, web_publishing.publish_xml(doc, state), media_type="application/xml")
        if doc["type"].lower() != SITE or action.lower() not in _STATES:
            return super().action(ctx, doc, action, body, api_version)
        props = doc["properties"]  # the service saves what the action changed in `doc`
        before = props.get("state")
        props.update(state=_STATES[action.lower()], lastModifiedTimeUtc=iso(ctx.now))
        events.record(ctx, "site.stateChanged", doc["id"], action=action.lower(), fromState=before,
                      toState=props["state"])
        return ActionResult(status=200, body=None)
