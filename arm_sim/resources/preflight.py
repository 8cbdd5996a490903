"""ARM's preflight: what it refuses before a write reaches the resource provider, for a REST PUT and for every
resource of a template before any is created — a namespace or type Azure does not have, an api-version the type
does not support, a location the type is not offered in. The catalogue is Azure's own, generated from its
published data (providers/provider_data.py); `ARM_SIM_UNKNOWN_TYPES=store` lets types outside it be stored as
written, and the answer says so."""

from __future__ import annotations

import re
from typing import Any

from arm_sim.core import ids
from arm_sim.core.errors import DomainError, bad_request
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx
from arm_sim.providers import provider_data
from arm_sim.providers.registry import provider_for

_VERSION = re.compile(r"(\d{4}-\d{2}-\d{2})(-(preview|beta|alpha|privatepreview))?")
WARNING = ("The resource type '{type}' is not in Azure's resource provider catalogue: arm-sim stored it as written "
           "because ARM_SIM_UNKNOWN_TYPES=store. Azure would refuse it.")


def _unknown(namespace: str, type_path: str, api_version: str) -> DomainError:
    return bad_request("InvalidResourceType", f"The resource type '{type_path}' could not be found in the namespace "
                                              f"'{namespace}' for api version '{api_version}'.")


def check(ctx: Ctx, path: ids.ArmPath, api_version: str, location: str | None, *, write: bool = True) -> None:
    """Refuse (DomainError with ARM's code) a resource ARM would not accept at this path, api-version and
    location. `location` is None when the body has none (extension and child resources). For a read or a delete
    (`write=False`) only the api-version is checked: an unknown type simply has nothing to find."""
    if not path.parts:
        return
    part = path.parts[-1]  # the resource written; the parts before it are the resource it extends
    type_path = "/".join(part.types)
    namespace = provider_data.namespace(part.namespace)
    info = provider_data.resource_type(namespace, type_path) if namespace else None
    if info is None:
        if not write:
            return
        if ctx.settings.unknown_types == "store":
            ctx.warnings.append(WARNING.format(type=f"{part.namespace}/{type_path}"))
            return
        if namespace is None:
            raise bad_request("InvalidResourceNamespace", f"The resource namespace '{part.namespace}' is invalid.")
        raise _unknown(namespace, type_path, api_version)
    if not _supported(ctx, info, api_version):
        offered = ", ".join(info.locations) if info.locations else "global"
        raise bad_request("NoRegisteredProviderFound",
                          f"No registered resource provider found for location '{(location or 'global').lower()}' "
                          f"and API version '{api_version}' for type '{type_path}'. The supported api-versions are "
                          f"'{', '.join(info.api_versions)}'. The supported locations are '{offered}'.")
    if location and not _offered(info, location):
        raise bad_request("LocationNotAvailableForResourceType",
                          f"The provided location '{location}' is not available for resource type "
                          f"'{info.namespace}/{info.type_path}'. List of available regions for the resource type "
                          f"is '{','.join(info.locations)}'.")


def check_body(ctx: Ctx, path: ids.ArmPath, body: dict[str, Any], declared: frozenset[str]) -> None:
    """The resource provider's own preflight of a template's resource (its body as it will be written);
    `declared` holds the keys of the template's resources, which count as existing."""
    provider_for(path.resource_type.lower()).preflight(ctx, path, body, declared)


def _supported(ctx: Ctx, info: provider_data.TypeInfo, api_version: str) -> bool:
    """A version the catalogue lists, or one released after its snapshot: dated after the newest version it lists
    and not after today (the simulated clock). So `1999-01-01` and `2099-01-01` are refused, as Azure refuses them,
    while a real version newer than arm-sim's data is not."""
    if info.supports_api_version(api_version):
        return True
    match = _VERSION.fullmatch(api_version.lower())
    newest = max((v[:10] for v in info.api_versions), default="")
    return match is not None and newest < match.group(1) <= iso(ctx.now)[:10]


def _offered(info: provider_data.TypeInfo, location: str) -> bool:
    # regions opened after Azure's catalogue snapshot are listed by no type: what they offer is unknown, so they pass
    name = provider_data.normalize_location(location)
    return info.offered_in(name) or name in provider_data.unlisted_regions()
