"""Log Analytics workspaces (`Microsoft.OperationalInsights/workspaces`) and Application Insights components
(`Microsoft.Insights/components`): the ids and keys templates read from them.

Only these two types are modelled; every other type of both namespaces (diagnostic settings, action groups,
saved searches …) stays generic. Identifiers (`customerId`, `InstrumentationKey`, `AppId`) and shared keys are
random once per resource and stable for its life; a re-created resource gets new ones.
"""

from __future__ import annotations

from typing import Any

from arm_sim.core import ids
from arm_sim.core.errors import bad_request
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx
from arm_sim.providers.base import ActionResult, Doc
from arm_sim.providers.computed import TypedProvider, account_key, kind_of, member, new_guid, props, sim_state

WORKSPACE = "microsoft.operationalinsights/workspaces"
COMPONENT = "microsoft.insights/components"
# `sharedKeys` is the REST operation (2020-08-01); templates call `listKeys(workspaceId, api)`, which ARM posts
# to `{id}/listKeys` and the RP answers the same way.
_SHARED_KEYS = ("sharedkeys", "listkeys")


def _shared_keys(ctx: Ctx, doc: Doc) -> dict[str, str]:
    state = sim_state(doc)
    if not state.get("sharedKeys"):
        state["sharedKeys"] = {"primarySharedKey": account_key(), "secondarySharedKey": account_key()}
    return dict(state["sharedKeys"])


class LogAnalyticsProvider(TypedProvider):
    namespace = "Microsoft.OperationalInsights"
    types = frozenset({WORKSPACE})

    def on_put(self, ctx: Ctx, before: Doc | None, after: Doc) -> None:
        if kind_of(after) != WORKSPACE:
            return
        p, state = props(after), sim_state(after)
        state.setdefault("customerId", new_guid())
        state.setdefault("createdDate", iso(ctx.now))
        _shared_keys(ctx, after)
        p.update(customerId=state["customerId"], createdDate=state["createdDate"])
        sku = member(p, "sku")
        p["sku"] = dict(sku, name=sku.get("name") or "PerGB2018", lastSkuUpdate=state["createdDate"])
        p.setdefault("retentionInDays", 30)
        p.setdefault("features", {"legacy": 0, "searchVersion": 1, "enableLogAccessUsingOnlyResourcePermissions": True})
        p.setdefault("workspaceCapping", {"dailyQuotaGb": -1.0, "dataIngestionStatus": "RespectQuota"})
        p.setdefault("publicNetworkAccessForIngestion", "Enabled")
        p.setdefault("publicNetworkAccessForQuery", "Enabled")
        # modified only when something changed: re-applying the same definition leaves the workspace as it was
        old = dict((before or {}).get("properties") or {})
        p["modifiedDate"] = old.pop("modifiedDate", None) or state["createdDate"]
        if before is not None and old != {k: v for k, v in p.items() if k != "modifiedDate"}:
            p["modifiedDate"] = iso(ctx.now)

    def action(self, ctx: Ctx, doc: Doc, action: str, body: Any, api_version: str,
               query: dict[str, str] | None = None) -> ActionResult:
        verb = action.lower()
        if kind_of(doc) == WORKSPACE and verb in _SHARED_KEYS:
            return ActionResult(200, _shared_keys(ctx, doc))
        if kind_of(doc) == WORKSPACE and verb == "regeneratesharedkey":
            sim_state(doc)["sharedKeys"] = {}
            return ActionResult(200, _shared_keys(ctx, doc))
        return super().action(ctx, doc, action, body, api_version)


class ApplicationInsightsProvider(TypedProvider):
    """Only `components`: diagnostic settings and the rest of Microsoft.Insights stay generic."""

    namespace = "Microsoft.Insights"
    types = frozenset({COMPONENT})

    def validate(self, ctx: Ctx, path: ids.ArmPath, doc: Doc, before: Doc | None) -> None:
        # Microsoft.Insights is a location-less namespace for the service (diagnostic settings are extension
        # resources), but components are tracked resources and need one.
        if path.resource_type.lower() == COMPONENT and not doc.get("location"):
            raise bad_request("LocationRequired", "The location property is required for this definition.")

    def on_put(self, ctx: Ctx, before: Doc | None, after: Doc) -> None:
        if kind_of(after) != COMPONENT:
            return
        p, state, name = props(after), sim_state(after), after["name"]
        state.setdefault("instrumentationKey", new_guid())
        state.setdefault("appId", new_guid())
        state.setdefault("creationDate", iso(ctx.now))
        location = after.get("location", "")
        connection = (f"InstrumentationKey={state['instrumentationKey']};IngestionEndpoint=https://{location}-0.in."
                      f"applicationinsights.azure.com/;LiveEndpoint=https://{location}.livediagnostics.monitor."
                      f"azure.com/;ApplicationId={state['appId']}")
        p.update(ApplicationId=name, AppId=state["appId"], InstrumentationKey=state["instrumentationKey"],
                 ConnectionString=connection, Name=name, CreationDate=state["creationDate"],
                 TenantId=ids.parse(after["id"]).subscription or "")
        p.setdefault("Application_Type", "web")
        p.setdefault("Request_Source", "rest")
        p.setdefault("RetentionInDays", 90)
        p["IngestionMode"] = "LogAnalytics" if p.get("WorkspaceResourceId") else p.get("IngestionMode",
                                                                                        "ApplicationInsights")
        p.setdefault("publicNetworkAccessForIngestion", "Enabled")
        p.setdefault("publicNetworkAccessForQuery", "Enabled")
        p.setdefault("Ver", "v2")
