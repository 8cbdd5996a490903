"""`POST /v1.0/directoryObjects/getByIds`: what the Azure CLI asks to show a role assignment's principal
(`az role assignment list --assignee …`, `-o table`)."""

from __future__ import annotations

from typing import Any

from arm_sim.core.errors import bad_request
from arm_sim.domain import graph, graph_permissions
from arm_sim.domain.context import Caller, Ctx

INVALID_JSON = ("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of "
                "valid JSON format.")


def get_by_ids(ctx: Ctx, caller: Caller, body: Any, body_error: str | None, base: str) -> dict[str, object]:
    if caller.claims.get("idtyp") == "app" or "scp" not in caller.claims:
        # app-only: the directory objects arm-sim has are applications and service principals, which any of
        # these permissions reads (Graph documents Directory.Read.All as the least privileged for getByIds)
        graph_permissions.require_any(caller.claims.get("roles"), graph_permissions.READ_APPLICATIONS)
    if body_error or not isinstance(body, dict):
        raise bad_request("BadRequest", INVALID_JSON)
    value = graph.get_by_ids(ctx, caller.tenant_id, body.get("ids"), body.get("types"))
    return {"@odata.context": f"{base}/v1.0/$metadata#directoryObjects", "value": value}
