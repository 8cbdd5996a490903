"""Microsoft.Web's provider-level calls: `checknameavailability` (what `az webapp create` asks first; site names are
global host names under azurewebsites.net), `geoRegions` (where `az functionapp create
--consumption-plan-location` checks its region), and a resource group's `validate` (what `az appservice plan
create` and `az webapp create` ask before they PUT)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from arm_sim.core import ids
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
    available = {"nameAvailable": True, "reason": "", "message": ""}  # App Service's answer (recorded)
    if kind.lower() not in _SITE_TYPES:  # plans, environments, publishing users: names not simulated as global
        return 200, available
    if not valid_site_name(name):
        return 200, {"nameAvailable": False, "reason": "Invalid",
                     "message": f"The name '{name}' is invalid. Site names are 2 to 60 characters of letters, "
                                "digits and hyphens, and do not start or end with a hyphen."}
    taken = ctx.session.scalars(select(Resource.id).where(
        Resource.type_key == SITE, func.lower(Resource.name) == name.lower()).limit(1)).first()
    if taken is not None:
        return 200, {"nameAvailable": False, "reason": "AlreadyExists",
                     "message": f"Hostname '{name}' already exists. Please select a different name."}
    return 200, available


# ValidateResourceTypes of the App Service spec, and the type names az sends
_VALIDATED = {"site": SITE, "microsoft.web/sites": SITE, "serverfarm": "microsoft.web/serverfarms",
              "microsoft.web/serverfarms": "microsoft.web/serverfarms"}


def validate(ctx: Ctx, subscription_id: str, resource_group: str, body: Any) -> tuple[int, Any]:
    """POST {group}/providers/Microsoft.Web/validate {name, type, location, properties}: whether a PUT of that
    plan or site would be accepted. A failure is answered 200 with `status: Failure` (the spec's
    ValidateResponse); the error codes for a taken or invalid site name are arm-sim's guess (none recorded)."""
    request = require_object(body, "validate")
    name, kind, location = request.get("name"), request.get("type"), request.get("location")
    for field, value in (("name", name), ("type", kind), ("location", location)):
        if not isinstance(value, str) or not value:
            raise bad_request("BadRequest", f"The parameter '{field}' is required.", target=field)
    type_key = _VALIDATED.get(str(kind).lower())
    if type_key is None:
        raise bad_request("BadRequest", f"The validation of resource type '{kind}' is not supported. Supported "
                          "types are Site and ServerFarm.", target="type")
    if provider_data.location(str(location)) is None:
        return 200, _failure("InvalidLocation", f"The location '{location}' is not a known Azure region.")
    if type_key == SITE:
        if not valid_site_name(str(name)):
            return 200, _failure("InvalidSiteName", f"The site name '{name}' is invalid.")
        own = f"/subscriptions/{subscription_id}/resourcegroups/{resource_group}/providers/microsoft.web/sites/{name}"
        taken = ctx.session.scalars(select(Resource.id).where(
            Resource.type_key == SITE, func.lower(Resource.name) == str(name).lower(),
            Resource.key != ids.key(own)).limit(1)).first()
        if taken is not None:
            return 200, _failure("Conflict", f"Website with given name {name} already exists.")
    return 200, {"status": "Success", "error": None}


def _failure(code: str, message: str) -> dict[str, Any]:
    return {"status": "Failure", "error": {"code": code, "message": message}}


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
