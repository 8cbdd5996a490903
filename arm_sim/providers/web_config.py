"""A site's configuration resources, `sites/{name}/config/{appsettings|connectionstrings|web|slotConfigNames}`:
App Service makes them with the site (from its `siteConfig`), so clients can list and update them at once — `az
webapp create` reads and writes app settings before it returns. `POST …/config/appsettings/list` answers the
resource."""

from __future__ import annotations

from typing import Any

from arm_sim.providers.base import ActionResult, Doc, Effect, PutResource

CONFIG = "microsoft.web/sites/config"
API = "2024-04-01"
_LISTS = ("appsettings", "connectionstrings", "authsettings", "metadata", "pushsettings", "azurestorageaccounts")


def _named(entries: Any) -> dict[str, Any]:
    """siteConfig's `[{name, value…}]` list as the config resource's name -> value (or -> entry) map."""
    out: dict[str, Any] = {}
    for e in entries if isinstance(entries, list) else []:
        if isinstance(e, dict) and isinstance(e.get("name"), str):
            out[e["name"]] = e.get("value") if set(e) <= {"name", "value"} else {
                k: v for k, v in e.items() if k != "name"}
    return out


def initial(site: Doc) -> list[Effect]:
    """The config resources of a new site."""
    site_config = (site.get("properties") or {}).get("siteConfig") or {}
    web = {k: v for k, v in site_config.items() if k not in ("appSettings", "connectionStrings")}
    return [PutResource(f"{site['id']}/config/appsettings", {"properties": _named(site_config.get("appSettings"))},
                        API),
            PutResource(f"{site['id']}/config/connectionstrings",
                        {"properties": _named(site_config.get("connectionStrings"))}, API),
            PutResource(f"{site['id']}/config/web", {"properties": web}, API),
            # which settings stick to a slot in a swap: none yet (SlotConfigNamesResource)
            PutResource(f"{site['id']}/config/slotConfigNames", {"properties": {
                "connectionStringNames": None, "appSettingNames": None, "azureStorageConfigNames": None}}, API)]


def list_action(doc: Doc, action: str) -> ActionResult | None:
    """`POST …/config/{name}/list` for the config resources that are read by a POST (they hold secrets)."""
    if action.lower() != "list" or doc["name"].lower() not in _LISTS:
        return None
    shown = {k: doc[k] for k in ("id", "name", "type", "location") if k in doc}
    return ActionResult(200, {**shown, "properties": doc.get("properties") or {}})
