"""Microsoft.AzureStackHCI: the cluster resource and the read-only state templates read from it (`cloudId`).

What Azure shows right after the resource is created, before any node registers (azure-rest-api-specs
Microsoft.AzureStackHCI/StackHCI/stable/2024-04-01/examples/CreateCluster.json): `status` and `connectivityStatus`
`NotYetRegistered`, a new `cloudId`, a 30-day trial, the region's `serviceEndpoint`, empty `reportedProperties`.
No node ever registers here, so the status stays so.
"""

from __future__ import annotations

from arm_sim.core import ids
from arm_sim.domain.context import Ctx
from arm_sim.providers.base import Doc
from arm_sim.providers.computed import TypedProvider, kind_of, new_guid, props

CLUSTER = "microsoft.azurestackhci/clusters"
# ClusterProperties marked readOnly in the spec: a client echoing them back cannot change them
_READ_ONLY = ("cloudId", "status", "connectivityStatus", "trialDaysRemaining", "billingModel", "serviceEndpoint",
              "reportedProperties", "registrationTimestamp", "lastSyncTimestamp", "lastBillingTimestamp",
              "resourceProviderObjectId")
_NOT_REGISTERED = "NotYetRegistered"
_TRIAL_DAYS = 30


class AzureStackHciProvider(TypedProvider):
    namespace = "Microsoft.AzureStackHCI"
    types = frozenset({CLUSTER})

    def validate(self, ctx: Ctx, path: ids.ArmPath, doc: Doc, before: Doc | None) -> None:
        if path.resource_type.lower() != CLUSTER:
            return
        old = (before or {}).get("properties") or {}
        kept = {f: old[f] for f in _READ_ONLY if f in old}  # read first: on PATCH `doc` may share `before`'s dict
        p = props(doc)
        for field in _READ_ONLY:
            p.pop(field, None)
        p.update(kept)

    def on_put(self, ctx: Ctx, before: Doc | None, after: Doc) -> None:
        if kind_of(after) != CLUSTER:
            return
        p = props(after)
        p.setdefault("cloudId", new_guid())  # kept for life by `validate`; new when the name is created again
        p.setdefault("status", _NOT_REGISTERED)
        p.setdefault("connectivityStatus", _NOT_REGISTERED)
        p.setdefault("trialDaysRemaining", _TRIAL_DAYS)
        p.setdefault("billingModel", "Trial")
        p.setdefault("reportedProperties", {})
        desired = p.get("desiredProperties")
        desired = dict(desired) if isinstance(desired, dict) else {}
        desired.setdefault("windowsServerSubscription", "Disabled")
        desired.setdefault("diagnosticLevel", "Basic")
        p["desiredProperties"] = desired
        # the example's form, `https://azurestackhci.azurefd.net/{region}`
        p.setdefault("serviceEndpoint", f"https://azurestackhci.azurefd.net/{after.get('location') or ''}")
