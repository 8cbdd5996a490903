"""Microsoft.Web's provider-level calls under a subscription: `checknameavailability` (what `az webapp create`
asks first; site names are global host names under azurewebsites.net) and `geoRegions` (where `az functionapp
create --consumption-plan-location` checks its region)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from arm_sim.core.errors import bad_request
from arm_sim.db.models import Resource
from arm_sim.domain.context import Ctx
from arm_sim.providers import provider_data
from arm_sim.providers.computed import require_object

SITE = "microsoft.web/sites"
# The `type` values of ResourceNameAvailabilityRequest that name a site (Azure's CheckNameResourceTypes).
_SITE_TYPES = ("site", "slot", "microsoft.web/sites", "microsoft.web/sites/slots")
_SITE_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,58}[A-Za-z0-9])?$")


def valid_site_name(name: str) -> bool:
    return 2 <= len(name) <= 60 and bool(_SITE_NAME.match(name))


def check_name_availability(ctx: Ctx, body: Any) -> tuple[int, Any]:
    """POST .../providers/Microsoft.Web/checknameavailability {"name", "type"}: App Service's answer shape."""
    request = require_object(body, "checknameavailability")
    name, kind = request.get("name"), request.get("type")
    if not isinstance(name, str) or not name:
        raise bad_request("BadRequest", "The parameter 'name' is required.", target="name")
    if not isinstance(kind, str) or not kind:
        raise bad_request("BadRequest", "The parameter 'type' is required.", target="type")
    if kind.lower() not in _SITE_TYPES:  # plans, environments, publishing users: names not simulated as global
        return 200, {"nameAvailable": True}
    if not valid_site_name(name):
        return 200, {"nameAvailable": False, "reason": "Invalid",
                     "message": f"The name '{name}' is invalid. Site names are 2 to 60 characters of letters, "
                                "digits and hyphens, and do not start or end with a hyphen."}
    taken = ctx.session.scalars(select(Resource.id).where(
        Resource.type_key == SITE, func.lower(Resource.name) == name.lower()).limit(1)).first()
    if taken is not None:
        return 200, {"nameAvailable": False, "reason": "AlreadyExists",
                     "message": f"Hostname '{name}' already exists. Please select a different name."}
    return 200, {"nameAvailable": True}


def geo_regions(subscription_id: str) -> tuple[int, Any]:
    """GET .../providers/Microsoft.Web/geoRegions: the regions that offer sites, named by display name as App
    Service names them (`East US`). Every such region is listed whatever `sku` asks: arm-sim has no per-SKU data."""
    info = provider_data.resource_type("Microsoft.Web", "sites")
    value = []
    for name in info.locations if info else ():
        loc = provider_data.location(name)
        display = loc.display_name if loc else name
        value.append({"id": f"/subscriptions/{subscription_id}/providers/Microsoft.Web/geoRegions/{display}",
                      "name": display, "type": "Microsoft.Web/geoRegions",
                      "properties": {"name": display, "displayName": display, "description": "",
                                     "orgDomain": "PUBLIC"}})
    return 200, {"value": value}
