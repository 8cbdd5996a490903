"""App Service's runtime stacks: the tenant-level reads `GET /providers/Microsoft.Web/webAppStacks`,
`…/functionAppStacks` and their `locations/{location}/…` forms, which any signed-in caller may make (no
subscription in the path). The Azure CLI reads them to resolve `--runtime` in `az webapp create` and `az
functionapp create`.

The stacks are data (`data/app_stacks.json`, made by `scripts/gen_app_stacks.py` from public sources it names),
never typed here. The query filters act as the stacks API's do: `stackOsType` (Windows, Linux, All) keeps only that
system's settings of each version and drops what has none left; `removeHiddenStacks`, `removeDeprecatedStacks`
and `removePreviewStacks` drop the settings so marked; `stack` keeps one stack by name.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from arm_sim.core.errors import DomainError, bad_request
from arm_sim.providers import provider_data

KINDS = {"webappstacks": "webAppStacks", "functionappstacks": "functionAppStacks"}
_OS_SETTINGS = {"windows": ("windowsRuntimeSettings", "windowsContainerSettings"),
                "linux": ("linuxRuntimeSettings", "linuxContainerSettings")}
_FLAGS = {"removehiddenstacks": "isHidden", "removedeprecatedstacks": "isDeprecated",
          "removepreviewstacks": "isPreview"}


@cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files("arm_sim.providers").joinpath("data", "app_stacks.json")
                                      .read_text(encoding="utf-8"))
    return data


def stacks(kind: str) -> list[dict[str, Any]]:
    """The stacks of `webAppStacks` or `functionAppStacks` as the data holds them (a fresh copy)."""
    return list(json.loads(json.dumps(_data()[kind])))


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def _os_filter(query: dict[str, str]) -> tuple[str, ...] | None:
    raw = next((v for k, v in query.items() if k.lower() == "stackostype"), None)
    if raw is None or raw.lower() == "all":
        return None
    if raw.lower() not in _OS_SETTINGS:
        raise bad_request("BadRequest", f"The value '{raw}' of stackOsType is not valid. Valid values are "
                                        "'Windows', 'Linux' and 'All'.", target="stackOsType")
    return _OS_SETTINGS[raw.lower()]


def _settings_kept(settings: dict[str, Any], keys: tuple[str, ...] | None, drop_flags: list[str]) -> dict[str, Any]:
    kept = {}
    for key, value in settings.items():
        if keys is not None and key not in keys:
            continue
        if isinstance(value, dict) and any(value.get(flag) is True for flag in drop_flags):
            continue
        kept[key] = value
    return kept


def filtered(kind: str, query: dict[str, str]) -> list[dict[str, Any]]:
    """The stacks the query asks for, each version keeping only the settings that pass its filters."""
    keys = _os_filter(query)
    lowered = {k.lower(): v for k, v in query.items()}
    drop_flags = [flag for param, flag in _FLAGS.items() if _truthy(lowered.get(param))]
    only = lowered.get("stack")
    out = []
    for stack in stacks(kind):
        if only and only.lower() not in (str(stack.get("name", "")).lower(),
                                         str(stack["properties"].get("value", "")).lower()):
            continue
        majors = []
        for major in stack["properties"].get("majorVersions") or []:
            minors = []
            for minor in major.get("minorVersions") or []:
                settings = _settings_kept(minor.get("stackSettings") or {}, keys, drop_flags)
                if settings:
                    minors.append({**minor, "stackSettings": settings})
            if minors:
                majors.append({**major, "minorVersions": minors})
        if majors:
            out.append({**stack, "properties": {**stack["properties"], "majorVersions": majors}})
    return out


def tenant_read(segments: tuple[str, ...], query: dict[str, str]) -> tuple[int, Any] | None:
    """`webAppStacks`, `functionAppStacks`, `locations/{location}/webAppStacks|functionAppStacks`; None for any
    other path (the caller answers ARM's not-found)."""
    lowered = [s.lower() for s in segments]
    if len(lowered) == 1 and lowered[0] in KINDS:
        return 200, {"value": filtered(KINDS[lowered[0]], query)}
    if len(lowered) == 3 and lowered[0] == "locations" and lowered[2] in KINDS:
        kind, location = KINDS[lowered[2]], segments[1]
        info = provider_data.resource_type("Microsoft.Web", f"locations/{kind}")
        name = provider_data.normalize_location(location)
        if info is not None and info.locations and name not in info.locations:
            raise DomainError(404, "LocationNotAvailableForResourceType",
                              f"The provided location '{location}' is not available for resource type "
                              f"'Microsoft.Web/locations/{kind}'. List of available regions for the resource type "
                              f"is '{','.join(info.locations)}'.")
        value = [{**s, "id": f"/providers/Microsoft.Web/locations/{name}/{kind}/{s['name']}",
                  "type": f"Microsoft.Web/locations/{kind}", "location": name} for s in filtered(kind, query)]
        return 200, {"value": value}
    return None
