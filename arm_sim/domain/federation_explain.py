"""`/_sim/explain?identity=…`: why the federated token exchanges of a user-assigned identity, or of an application
registration with federated credentials, were refused.

Each `federation.refused` event (written by domain/federation.py at the refusal) names the credential that came
closest and the field that differed; this puts the presented claim beside what that credential holds now, as
`arm-sim oidc explain` does on the terminal. Read-only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from arm_sim.core import ids
from arm_sim.core.errors import not_found
from arm_sim.db.models import Resource, ServicePrincipal
from arm_sim.domain import events, federation
from arm_sim.domain.context import Ctx

UAI_TYPE = "microsoft.managedidentity/userassignedidentities"
_FIELDS = ("issuer", "subject", "audiences")


def _identity(ctx: Ctx, identity: str) -> ServicePrincipal | None:
    """By the identity's resource id, its clientId (an application's appId), its principal's object id, or its name
    (when only one identity has it)."""
    text = identity.strip()
    if text.startswith("/"):
        return ctx.session.scalars(select(ServicePrincipal).where(
            ServicePrincipal.resource_key == ids.key(text).rstrip("/"))).first()
    low = text.lower()
    sp = ctx.session.get(ServicePrincipal, low) or ctx.session.scalars(
        select(ServicePrincipal).where(ServicePrincipal.app_id == low)).first()
    if sp is not None:
        return sp
    named = ctx.session.scalars(select(Resource.key).where(Resource.type_key == UAI_TYPE,
                                                           Resource.name == text).limit(2)).all()
    if len(named) != 1:
        return None
    return ctx.session.scalars(select(ServicePrincipal).where(ServicePrincipal.resource_key == named[0])).first()


def _credentials(ctx: Ctx, sp: ServicePrincipal) -> dict[str, dict[str, Any]]:
    """The principal's federated credentials by (lower-cased) id: an identity's ARM ones, an application's Graph
    ones (the ids `federation.refused` events name as the closest)."""
    if sp.service_principal_type == "ManagedIdentity":
        return {r.id.lower(): {"id": r.id, "name": r.name, **{k: (r.properties or {}).get(k) for k in _FIELDS}}
                for r in federation.credentials(ctx, sp)}
    return {c.id.lower(): {"id": c.id, "name": c.name, "issuer": c.issuer, "subject": c.subject,
                           "audiences": list(c.audiences)}
            for c in federation.application_credentials(ctx, sp.application_object_id or "")}


def explain(ctx: Ctx, identity: str, last: int = 10) -> dict[str, Any]:
    sp = _identity(ctx, identity)
    explicit = sp is not None and (sp.alternative_names[:1] == ["isExplicit=True"]
                                   if sp.service_principal_type == "ManagedIdentity" else
                                   bool(sp.application_object_id))
    if sp is None or not explicit:
        raise not_found("IdentityNotFound", f"No user-assigned identity or application is '{identity}' (give the "
                                            "identity's resource id, clientId, principal id or name, or the "
                                            "application's appId or principal id).")
    creds = _credentials(ctx, sp)
    seen = events.query(ctx, kind="federation.*", principal=sp.object_id, limit=5000)[-last:]
    rows: list[dict[str, Any]] = []
    for e in reversed(seen):  # newest first
        d = e["details"] or {}
        row: dict[str, Any] = {"time": e["time"], "kind": e["kind"], "reason": d.get("reason"),
                               "presented": {"issuer": d.get("issuer"), "subject": d.get("subject"),
                                             "audience": d.get("audience")}}
        if e["kind"] == "federation.exchanged":
            row["credential"] = d.get("credential")
        else:
            closest, field = d.get("closestCredential"), d.get("differingField")
            row |= {"closestCredential": closest, "differingField": field}
            fic = creds.get(str(closest or "").lower())
            if fic is not None and field in _FIELDS:
                row["credentialHas"] = fic.get(field)
            elif closest and fic is None:
                row["credentialDeleted"] = True
        rows.append(row)
    managed = sp.service_principal_type == "ManagedIdentity"
    return {"identity": {"resourceId": (sp.alternative_names[1] if managed and len(sp.alternative_names) > 1
                                        else None),
                         "principalId": sp.object_id, "clientId": sp.app_id, "displayName": sp.display_name,
                         "kind": "userAssignedIdentity" if managed else "application"},
            "federatedCredentials": list(creds.values()), "exchanges": rows}
