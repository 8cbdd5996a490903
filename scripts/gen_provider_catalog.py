#!/usr/bin/env python3
"""Generate arm_sim/providers/data/providers.json (and vm_sizes.json) from Azure's published data.

Nothing in the output is typed by hand: every namespace, resource type, api-version and location comes from one of
the inputs below, each a local path or an http(s) URL.

--providers (required)  What ARM's providers API answers: the resource types of every namespace with their
    api-versions, locations and capabilities. Accepted shapes: the body of
    `GET /subscriptions/{id}/providers?api-version=...` ({"value": [provider, ...]}), the output of
    `az provider list` ([provider, ...]), or arm-ttk's cache ({"Namespace/type": [resourceType, ...]}).
--specs (optional)  Azure/bicep-types-az: the resource types (PUT-able resources) that azure-rest-api-specs
    publishes, per api-version. Either `generated/index.json` (a path or URL) or a local directory holding
    `generated/**/types.json` (a checkout). Its api-versions are merged into the providers data (union, compared
    case-insensitively), and types it has that the providers data lacks are added without locations. It fills the
    gap between the date of the providers dump and the date of the specs; each type records which source(s) it
    came from in "src", and the versions only the specs have in "specOnly".
--locations (required)  The body of `GET /subscriptions/{id}/locations` ({"value": [...]} or [...]), or the
    same wrapped as Azure/terraform-azurerm-avm-utl-regions caches it ({"locals": {"locations_cached": {...}}}).
--vm-sizes (optional, repeatable)  `LOCATION=SRC`: the body of
    `GET /subscriptions/{id}/providers/Microsoft.Compute/locations/{LOCATION}/vmSizes`; or `SRC` alone: the body
    of `GET /subscriptions/{id}/providers/Microsoft.Compute/skus` (virtualMachines rows, by their locations).
--origin NAME=TEXT (optional, repeatable)  Where an input came from (repository, path, commit), recorded in the
    output's "source" next to the input's name and sha256.

The data committed in arm_sim/providers/data/ was generated on 2026-12-07 from:

  providers  Azure/arm-ttk, arm-ttk/cache/AllAzureResources.cache.json at commit
             ee07b0c4b0b9581c344c50d8a9c760644448bc53 (2023-11-13, "Updating AllAzureResources.cache.json"):
             `az provider list` output (ARM's own providers response, one subscription), 290 namespaces.
             https://raw.githubusercontent.com/Azure/arm-ttk/ee07b0c4b0b9581c344c50d8a9c760644448bc53/arm-ttk/cache/AllAzureResources.cache.json
             A newer dump exists upstream (commit bb6aa69e977b281cd5487e43afd7046c680f782b, 2026-02-12, "Cache
             update 2026-02-12"); it is over 4 MiB and was not reachable when the data was made. Rerun with
             https://raw.githubusercontent.com/Azure/arm-ttk/bb6aa69e977b281cd5487e43afd7046c680f782b/arm-ttk/cache/AllAzureResources.cache.json
             (or any later commit) to refresh.
  specs      Azure/bicep-types-az at commit 1f896de2db966ad91e8f7d7d981e11d32e4f5d8d (2026-08-20, types from
             azure-rest-api-specs b7170cade0): every generated/**/types.json of that commit (pass a checkout of the
             repository at that commit; generated/index.json of the same commit is the equivalent single-file input:
             https://raw.githubusercontent.com/Azure/bicep-types-az/1f896de2db966ad91e8f7d7d981e11d32e4f5d8d/generated/index.json).
  locations  Azure/terraform-azurerm-avm-utl-regions, modules/cached-data/locations.tf.json at commit
             9064b20bc601af2754cea78f25f7b6e22858ef24 (file last changed in e9d62409c6fcc5554b60dd79cd60f55b344ad2f0,
             2026-03-12): `GET /subscriptions/{id}/locations?api-version=2023-07-01`, 102 locations.
             https://raw.githubusercontent.com/Azure/terraform-azurerm-avm-utl-regions/9064b20bc601af2754cea78f25f7b6e22858ef24/modules/cached-data/locations.tf.json
  vm sizes   none: no public per-location (or current global) list of VM sizes was found; vm_sizes.json is not written.

Command used (the three inputs saved locally under /tmp/src/ from the commits above; an input may as well be the
raw.githubusercontent.com URL of the same file):

  ARMTTK=ee07b0c4b0b9581c344c50d8a9c760644448bc53 BICEP=1f896de2db966ad91e8f7d7d981e11d32e4f5d8d
  REGIONS=9064b20bc601af2754cea78f25f7b6e22858ef24
  python3 scripts/gen_provider_catalog.py \\
    --providers /tmp/src/AllAzureResources.cache.json \\
    --origin "providers=Azure/arm-ttk@$ARMTTK arm-ttk/cache/AllAzureResources.cache.json (2023-11-13)" \\
    --specs /tmp/src/bicep-types-az \\
    --origin "specs=Azure/bicep-types-az@$BICEP generated/**/types.json (2026-08-20)" \\
    --locations /tmp/src/locations.tf.json \\
    --origin "locations=Azure/terraform-azurerm-avm-utl-regions@$REGIONS modules/cached-data/locations.tf.json"

Output layout (providers.json, one namespace type or location a line, keys sorted):
  {"source": {...}, "locations": [{"name", "displayName", "regionalDisplayName", "regionType", "regionCategory",
   "geography", "geographyGroup", "physicalLocation", "pairedRegion": [names], "latitude", "longitude",
   "zones": [logical zones]}], "namespaces": {"Microsoft.Compute": {"virtualMachines": {"apiVersions": [newest
   first], "locations": [display names as ARM lists them, or "global"; empty: no location list],
   "capabilities": "...", "defaultApiVersion": "...", "src": "arm" | "specs" | "arm+specs",
   "specOnly": [versions]}}}}
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "arm_sim" / "providers" / "data"
_VERSION = re.compile(r"^(\d{4}-\d{2}-\d{2})(.*)$")


# ---------------------------------------------------------------------------------------------------------- inputs

def read_source(source: str) -> bytes:
    """A local file or a URL's bytes (the other generators read their inputs the same way)."""
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=300) as response:  # noqa: S310 (a URL the user gave)
            data: bytes = response.read()
            return data
    return Path(source).read_bytes()


def _load_json(source: str) -> tuple[Any, dict[str, str]]:
    raw = read_source(source)
    return json.loads(raw.decode("utf-8-sig")), _describe(source, raw)


def _describe(source: str, raw: bytes) -> dict[str, str]:
    name = source if source.startswith(("http://", "https://")) else Path(source).name
    return {"input": name, "sha256": hashlib.sha256(raw).hexdigest()}


# ------------------------------------------------------------------------------------------------- api-versions

def _version_key(version: str) -> tuple[str, str]:
    match = _VERSION.match(version)
    return (match.group(1), match.group(2).lower()) if match else ("", version.lower())


def sort_versions(versions: Iterable[str]) -> list[str]:
    """Newest date first; on one date, the suffixed (preview) spelling before the plain one, as ARM lists them."""
    seen: dict[str, str] = {}
    for version in versions:
        seen.setdefault(version.lower(), version)
    return sorted(seen.values(), key=_version_key, reverse=True)


# --------------------------------------------------------------------------------------------------- providers

def _providers_entries(data: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(namespace, resourceType entry) for each of the accepted shapes."""
    if isinstance(data, dict) and "value" in data:
        data = data["value"]
    if isinstance(data, list):
        for provider in data:
            for entry in provider.get("resourceTypes") or []:
                yield provider["namespace"], entry
        return
    if isinstance(data, dict):  # arm-ttk: {"Namespace/type": [entry, ...]}, resourceType holds the full name
        for key, entries in data.items():
            namespace = key.split("/", 1)[0]
            for entry in entries:
                full = entry.get("resourceType") or key
                yield namespace, {**entry, "resourceType": full.split("/", 1)[1]}
        return
    raise SystemExit("--providers: not a providers response, `az provider list` output, or arm-ttk cache")


def load_providers(data: Any) -> dict[str, dict[str, dict[str, Any]]]:
    namespaces: dict[str, dict[str, dict[str, Any]]] = {}
    ns_names: dict[str, str] = {}
    for namespace, entry in _providers_entries(data):
        ns = ns_names.setdefault(namespace.lower(), namespace)
        types = namespaces.setdefault(ns, {})
        type_path = entry["resourceType"]
        existing = next((t for t in types if t.lower() == type_path.lower()), None)
        info = types.setdefault(existing or type_path, {"apiVersions": [], "locations": [], "src": "arm"})
        info["apiVersions"] = sort_versions([*info["apiVersions"], *(entry.get("apiVersions") or [])])
        locations = {loc.lower(): loc for loc in info["locations"]}
        for loc in entry.get("locations") or []:
            locations.setdefault(loc.lower(), loc)
        info["locations"] = sorted(locations.values(), key=lambda loc: _compact(loc))
        if entry.get("capabilities") and entry["capabilities"] != "None":
            info["capabilities"] = entry["capabilities"]
        if entry.get("defaultApiVersion"):
            info["defaultApiVersion"] = entry["defaultApiVersion"]
    return namespaces


# ------------------------------------------------------------------------------------------------------- specs

def _spec_type_names(source: str) -> tuple[Iterator[str], dict[str, str]]:
    """`Namespace/type@api-version` names of the resource types bicep-types-az generated."""
    path = Path(source)
    if not source.startswith(("http://", "https://")) and path.is_dir():
        files = sorted(path.rglob("types.json"))
        if not files:
            raise SystemExit(f"--specs: no types.json under {source}")
        digest = hashlib.sha256()
        names: list[str] = []
        for file in files:
            raw = file.read_bytes()
            digest.update(str(file.relative_to(path)).encode() + b"\0" + raw)
            for item in json.loads(raw):
                if isinstance(item, dict) and item.get("$type") == "ResourceType":
                    names.append(item["name"])
        return iter(names), {"input": f"{path.name}/**/types.json ({len(files)} files)",
                             "sha256": digest.hexdigest()}
    data, described = _load_json(source)
    resources = data.get("resources", data) if isinstance(data, dict) else {}
    return iter(list(resources)), described


def merge_specs(namespaces: dict[str, dict[str, dict[str, Any]]], names: Iterable[str]) -> None:
    ns_names = {ns.lower(): ns for ns in namespaces}
    spec_versions: dict[tuple[str, str], list[str]] = {}
    spellings: dict[tuple[str, str], tuple[str, str]] = {}
    for name in names:
        full, _, version = name.partition("@")
        namespace, _, type_path = full.partition("/")
        if not (version and type_path):
            continue
        key = (namespace.lower(), type_path.lower())
        spellings.setdefault(key, (namespace, type_path))
        spec_versions.setdefault(key, []).append(version)
    for key, versions in spec_versions.items():
        namespace, type_path = spellings[key]
        ns = ns_names.setdefault(key[0], namespace)
        types = namespaces.setdefault(ns, {})
        existing = next((t for t in types if t.lower() == key[1]), None)
        if existing is None:
            types[type_path] = {"apiVersions": sort_versions(versions), "locations": [], "src": "specs"}
            continue
        info = types[existing]
        known = {v.lower() for v in info["apiVersions"]}
        added = sort_versions(v for v in versions if v.lower() not in known)
        info["src"] = "arm+specs"
        if added:
            info["apiVersions"] = sort_versions([*info["apiVersions"], *added])
            info["specOnly"] = added


# --------------------------------------------------------------------------------------------------- locations

def _compact(location: str) -> str:
    return re.sub(r"[^0-9a-z]", "", location.lower())


def load_locations(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict) and "locals" in data:
        data = data["locals"]["locations_cached"]
    if isinstance(data, dict):
        data = data["value"]
    out: list[dict[str, Any]] = []
    for loc in data:
        meta = loc.get("metadata") or {}
        item: dict[str, Any] = {
            "name": loc["name"], "displayName": loc.get("displayName"),
            "regionalDisplayName": loc.get("regionalDisplayName"),
            "regionType": meta.get("regionType"), "regionCategory": meta.get("regionCategory"),
            "geography": meta.get("geography"), "geographyGroup": meta.get("geographyGroup"),
            "physicalLocation": meta.get("physicalLocation"),
            "pairedRegion": sorted(p["name"] for p in meta.get("pairedRegion") or []),
            "latitude": meta.get("latitude"), "longitude": meta.get("longitude"),
            "zones": sorted(z["logicalZone"] for z in loc.get("availabilityZoneMappings") or []),
        }
        out.append(item)
    return sorted(out, key=lambda item: str(item["name"]))


def unlisted_regions(locations: list[dict[str, Any]], namespaces: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Physical regions of the locations list that no type's location list names: regions opened after the
    providers data was taken (enforcement cannot tell what they offer)."""
    listed = {_compact(loc) for types in namespaces.values() for info in types.values() for loc in info["locations"]}
    by_display = {_compact(str(loc["displayName"])): str(loc["name"]) for loc in locations if loc["displayName"]}
    listed |= {by_display[name] for name in list(listed) if name in by_display}
    return sorted(str(loc["name"]) for loc in locations
                  if loc["regionType"] == "Physical" and str(loc["name"]) not in listed)


# ---------------------------------------------------------------------------------------------------- vm sizes

def load_vm_sizes(specs: list[str]) -> tuple[dict[str, list[str]], list[dict[str, str]]]:
    sizes: dict[str, set[str]] = {}
    described: list[dict[str, str]] = []
    for spec in specs:
        location, sep, source = spec.partition("=")
        if not sep or spec.startswith(("http://", "https://", "/", ".")):
            location, source = "", spec
        data, info = _load_json(source)
        described.append(info)
        rows = data.get("value", []) if isinstance(data, dict) else data
        if location:
            sizes.setdefault(_compact(location), set()).update(row["name"] for row in rows)
            continue
        for row in rows:
            if row.get("resourceType") != "virtualMachines":
                continue
            for loc in row.get("locations") or []:
                sizes.setdefault(_compact(loc), set()).add(row["name"])
    return {loc: sorted(names, key=str.lower) for loc, names in sorted(sizes.items())}, described


# ------------------------------------------------------------------------------------------------------ output

def _line(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def render_providers(source: dict[str, Any], locations: list[dict[str, Any]],
                     namespaces: dict[str, dict[str, dict[str, Any]]]) -> str:
    out = ["{", '"locations":[']
    out += [f" {_line(loc)}," for loc in locations]
    out[-1] = out[-1].rstrip(",")
    out.append("],")
    out.append('"namespaces":{')
    ns_items = sorted(namespaces.items(), key=lambda kv: kv[0].lower())
    for n, (namespace, types) in enumerate(ns_items):
        out.append(f" {_line(namespace)}:{{")
        type_items = sorted(types.items(), key=lambda kv: kv[0].lower())
        for t, (type_path, info) in enumerate(type_items):
            comma = "," if t < len(type_items) - 1 else ""
            out.append(f"  {_line(type_path)}:{_line(info)}{comma}")
        out.append(" }" + ("," if n < len(ns_items) - 1 else ""))
    out.append("},")
    out.append(f'"source":{json.dumps(source, sort_keys=True, indent=1, ensure_ascii=False)}')
    out.append("}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--providers", required=True)
    parser.add_argument("--specs")
    parser.add_argument("--locations", required=True)
    parser.add_argument("--vm-sizes", action="append", default=[])
    parser.add_argument("--origin", action="append", default=[], metavar="NAME=TEXT")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    origins = dict(item.split("=", 1) for item in args.origin)
    source: dict[str, Any] = {"generator": "scripts/gen_provider_catalog.py"}

    data, source["providers"] = _load_json(args.providers)
    namespaces = load_providers(data)
    if args.specs:
        names, source["specs"] = _spec_type_names(args.specs)
        merge_specs(namespaces, names)
    loc_data, source["locations"] = _load_json(args.locations)
    locations = load_locations(loc_data)
    source["physicalRegionsListedByNoType"] = unlisted_regions(locations, namespaces)
    for name, text in origins.items():
        if isinstance(source.get(name), dict):
            source[name]["origin"] = text

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "providers.json").write_text(render_providers(source, locations, namespaces), encoding="utf-8")
    types = sum(len(t) for t in namespaces.values())
    print(f"providers.json: {len(namespaces)} namespaces, {types} types, {len(locations)} locations", file=sys.stderr)

    if args.vm_sizes:
        sizes, described = load_vm_sizes(args.vm_sizes)
        vm_source = {"generator": "scripts/gen_provider_catalog.py", "inputs": described,
                     "origin": origins.get("vm-sizes")}
        lines = ["{", f'"source":{_line(vm_source)},', '"sizes":{']
        items = list(sizes.items())
        lines += [f" {_line(loc)}:{_line(names)}" + ("," if i < len(items) - 1 else "")
                  for i, (loc, names) in enumerate(items)]
        lines += ["}", "}"]
        (args.out / "vm_sizes.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"vm_sizes.json: {len(sizes)} locations", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
