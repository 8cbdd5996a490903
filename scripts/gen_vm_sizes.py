#!/usr/bin/env python3
"""Generate arm_sim/providers/data/vm_sizes.json: the VM sizes (`hardwareProfile.vmSize`) Azure offers, per region.

Nothing in the output is typed by hand: every size name comes from one of the inputs below, each a local path or an
http(s) URL. Standard library only.

--global SRC (optional)  A list of VM size names taken as offered in every physical region of the locations list.
    Accepted shapes: Azure/skewer's `testdata/generated_vmsize_testdata.go` (a Go map literal `"Standard_X": {...}`
    made by its hack/generate_vmsize_testdata.go from `ResourceSkusClient.List`); the body of
    `GET /subscriptions/{id}/providers/Microsoft.Compute/skus` (its virtualMachines rows); the body of
    `GET .../providers/Microsoft.Compute/locations/{loc}/vmSizes`; or a JSON list of names.
--region LOCATION=SRC (optional, repeatable)  The sizes of one region, which replace the global list there: the
    body of `GET .../locations/{LOCATION}/vmSizes`, or of `GET .../providers/Microsoft.Compute/skus` (rows whose
    locations name LOCATION), or any shape --global takes.
--locations SRC (default: arm_sim/providers/data/providers.json)  Where the physical regions come from: the
    generated providers.json ({"locations": [...]}), or the body of `GET /subscriptions/{id}/locations`
    ({"value": [...]} or [...]). Regions with metadata.regionType (or regionType) "Physical" get the global list.
--origin NAME=TEXT (optional, repeatable)  Where an input came from (repository, path, commit); NAME is `global`,
    `locations` or a region name. Recorded in the output's "source" next to the input's name and sha256.

The vm_sizes.json committed in arm_sim/providers/data/ was generated on 2026-12-07 from:

  global     Azure/skewer (Microsoft's Go library for the Compute ResourceSkus API),
             testdata/generated_vmsize_testdata.go at commit 0119bd0cb17cb1ae5b9682bf096a2e3aa1435a60 (2025-10-15,
             the newest in the snapshot; the file last changed in 889480dd98672505f264b073cfae72a66a6e414b,
             2023-08-23, "feat: add capabilties using vmsize-parsing (#19)"; v2/testdata/ holds the same blob):
             https://raw.githubusercontent.com/Azure/skewer/0119bd0cb17cb1ae5b9682bf096a2e3aa1435a60/testdata/generated_vmsize_testdata.go
             806 names: every virtualMachines SKU of the ResourceSkus list one Microsoft subscription received
             (hack/generate_vmsize_testdata.go; it passes the region, default eastus, as the List filter). The list
             holds series East US does not offer (G/GS-series, for one), so it is read as a global list, not as
             East US's: it is written for every physical region.
  locations  arm_sim/providers/data/providers.json as scripts/gen_provider_catalog.py generated it (62 physical
             regions, from Azure/terraform-azurerm-avm-utl-regions; see that script's docstring).

No public per-region list was found that is both current and coherent: the per-region recordings found
(Azure/azure-cli src/azure-cli/azure/cli/command_modules/vm/tests/latest/recordings/test_vm_size_list.yaml,
`vm list-sizes --location westus`, 2021; Azure/azure-sdk-for-python
sdk/compute/azure-mgmt-compute/tests/recordings/test_mgmt_compute.test_vm_sizes.yaml, westus, 2020) cover one region
and predate the v5 sizes. Either can be passed as `--region westus=SRC` (it then replaces the global list there).

Command used (the input saved locally from the commit above; the raw.githubusercontent.com URL works the same):

  SKEWER=0119bd0cb17cb1ae5b9682bf096a2e3aa1435a60 CHANGED=889480dd98672505f264b073cfae72a66a6e414b
  REGIONS=9064b20bc601af2754cea78f25f7b6e22858ef24
  G="Azure/skewer@$SKEWER testdata/generated_vmsize_testdata.go (last changed 2023-08-23 in $CHANGED)"
  L="arm_sim/providers/data/providers.json (scripts/gen_provider_catalog.py; locations from"
  L="$L Azure/terraform-azurerm-avm-utl-regions@$REGIONS)"
  python3 scripts/gen_vm_sizes.py --global /tmp/src/generated_vmsize_testdata.go --origin "global=$G" \\
    --origin "locations=$L"

Output layout (keys sorted, one name a line):
  {"source": {"generator", "global": {input, sha256, origin, count}, "locations": {...}, "regions": {...}},
   "global": {"locations": [physical region names], "sizes": [names]},
   "sizes": {"region": [names], ...}}
The loader (arm_sim/providers/provider_data.py, vm_sizes()) answers a region's own list where "sizes" has one, else
the global list for the regions "global" names, else None (no data: no enforcement).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

from gen_provider_catalog import read_source  # scripts/ is on the path when run as a script

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "arm_sim" / "providers" / "data" / "vm_sizes.json"
DEFAULT_LOCATIONS = ROOT / "arm_sim" / "providers" / "data" / "providers.json"
GENERATOR = "scripts/gen_vm_sizes.py"

# skewer's Go map literal: `"Standard_D2s_v5": {` at the start of a line (after indentation)
_GO_KEY = re.compile(r'^\s*"([A-Za-z][A-Za-z0-9_.-]*)"\s*:\s*\{', re.MULTILINE)
_SIZE_NAME = re.compile(r"^[A-Za-z]+_[A-Za-z0-9_.-]+$")  # Standard_…, Basic_…


def _describe(source: str, raw: bytes) -> dict[str, Any]:
    name = source if source.startswith(("http://", "https://")) else Path(source).name
    return {"input": name, "sha256": hashlib.sha256(raw).hexdigest()}


def _compact(location: str) -> str:
    return re.sub(r"[^0-9a-z]", "", location.lower())


def parse_sizes(raw: bytes, location: str | None = None) -> list[str]:
    """VM size names from any accepted shape; `location` keeps only the skus rows that name it."""
    text = raw.decode("utf-8-sig")
    stripped = text.lstrip()
    if not stripped.startswith(("{", "[")):  # skewer's generated Go file
        names = [name for name in _GO_KEY.findall(text) if _SIZE_NAME.match(name)]
        if not names:
            raise SystemExit("no VM size names found (expected a Go map literal of skewer's shape, or JSON)")
        return sorted(set(names), key=str.lower)
    data = json.loads(text)
    rows = data.get("value", []) if isinstance(data, dict) else data
    names = set()
    for row in rows:
        if isinstance(row, str):
            names.add(row)
        elif "resourceType" in row:  # a ResourceSkus row
            if row["resourceType"] != "virtualMachines":
                continue
            if location and _compact(location) not in {_compact(loc) for loc in row.get("locations") or []}:
                continue
            names.add(row["name"])
        else:  # a vmSizes row
            names.add(row["name"])
    if not names:
        raise SystemExit("no VM size names found in the input")
    return sorted(names, key=str.lower)


def physical_regions(raw: bytes) -> list[str]:
    data = json.loads(raw.decode("utf-8-sig"))
    if isinstance(data, dict):
        data = data.get("locations", data.get("value"))
    out = []
    for loc in data or []:
        region_type = loc.get("regionType") or (loc.get("metadata") or {}).get("regionType")
        if region_type == "Physical":
            out.append(str(loc["name"]))
    if not out:
        raise SystemExit("--locations: no physical regions found")
    return sorted(out)


def _lines(key: str, names: list[str], indent: str) -> list[str]:
    out = [f"{indent}{json.dumps(key)}:["]
    out += [f"{indent} {json.dumps(name)}," for name in names]
    out[-1] = out[-1].rstrip(",")
    out.append(f"{indent}]")
    return out


def render(source: dict[str, Any], global_locations: list[str], global_sizes: list[str],
           sizes: dict[str, list[str]]) -> str:
    out = ["{", '"global":{', f" {json.dumps('locations')}:{json.dumps(global_locations)},"]
    out += _lines("sizes", global_sizes, " ") if global_sizes else [' "sizes":[]']
    out += ["},", '"sizes":{']
    for n, (loc, names) in enumerate(sorted(sizes.items())):
        block = _lines(loc, names, " ")
        if n < len(sizes) - 1:
            block[-1] += ","
        out += block
    out += ["},", f'"source":{json.dumps(source, sort_keys=True, indent=1, ensure_ascii=False)}', "}"]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--global", dest="global_src", metavar="SRC")
    parser.add_argument("--region", action="append", default=[], metavar="LOCATION=SRC")
    parser.add_argument("--locations", default=str(DEFAULT_LOCATIONS), metavar="SRC")
    parser.add_argument("--origin", action="append", default=[], metavar="NAME=TEXT")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not (args.global_src or args.region):
        parser.error("give --global and/or --region")

    origins = dict(item.split("=", 1) for item in args.origin)
    source: dict[str, Any] = {"generator": GENERATOR}
    global_sizes: list[str] = []
    global_locations: list[str] = []
    if args.global_src:
        raw = read_source(args.global_src)
        global_sizes = parse_sizes(raw)
        source["global"] = {**_describe(args.global_src, raw), "count": len(global_sizes),
                            "origin": origins.get("global"),
                            "note": "one list of VM size names, applied to every physical region"}
        raw_locations = read_source(args.locations)
        global_locations = physical_regions(raw_locations)
        source["locations"] = {**_describe(args.locations, raw_locations), "count": len(global_locations),
                               "origin": origins.get("locations")}

    sizes: dict[str, list[str]] = {}
    regions: dict[str, Any] = {}
    for spec in args.region:
        location, sep, src = spec.partition("=")
        if not sep:
            parser.error(f"--region {spec}: expected LOCATION=SRC")
        raw = read_source(src)
        key = _compact(location)
        sizes[key] = parse_sizes(raw, location=key)
        regions[key] = {**_describe(src, raw), "count": len(sizes[key]), "origin": origins.get(location)}
    if regions:
        source["regions"] = regions

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(source, global_locations, global_sizes, sizes), encoding="utf-8")
    print(f"{args.out.name}: {len(global_sizes)} sizes in {len(global_locations)} regions (global list), "
          f"{len(sizes)} region-specific lists", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
