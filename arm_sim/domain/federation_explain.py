"""`/_sim/explain?identity=…`: why a user-assigned identity's federated token exchanges were refused.

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
    """By the identity's resource id, its clientId, its principal's object id, or its name (when only one has it)."""
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


def _credential(r: Resource) -> dict[str, Any]:
    props = r.properties or {}
    return {"id": r.id, "name": r.name, **{k: props.get(k) for k in _FIELDS}}


def explain(ctx: Ctx, identity: str, last: int = 10) -> dict[str, Any]:
    sp = _identity(ctx, identity)
    if sp is None or sp.service_principal_type != "ManagedIdentity":
        raise not_found("IdentityNotFound", f"No user-assigned identity is '{identity}' (give its resource id, "
                                            "clientId, principal id or name).")
    creds = {r.id.lower(): r for r in federation.credentials(ctx, sp)}
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
                row["credentialHas"] = (fic.properties or {}).get(field)
            elif closest and fic is None:
                row["credentialDeleted"] = True
        rows.append(row)
    return {"identity": {"resourceId": (sp.alternative_names[1] if len(sp.alternative_names) > 1 else None),
                         "principalId": sp.object_id, "clientId": sp.app_id, "displayName": sp.display_name},
            "federatedCredentials": [_credential(r) for r in creds.values()], "exchanges": rows}
