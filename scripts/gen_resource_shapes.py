#!/usr/bin/env python3
"""Generate arm_sim/providers/data/resource_shapes.json: the REST shape of every resource type arm-sim models.

Nothing in the output is typed by hand. For each type of TYPES below and each of its api versions, the body schema
is copied from Azure/bicep-types-az, which generates it from the Azure REST API specs (azure-rest-api-specs): every
property with its type (string, uuid-patterned string, int, bool, enum values, object, array, discriminated
object) and its flags (required, readOnly, writeOnly). arm-sim reads it to

  - fill the properties the specs mark readOnly that a provider did not compute (providers/shapes.py),
  - show `etag` and `tags` only on the types whose schema has them,
  - store a template's `"true"` or `"3"` as the boolean or number the spec types the property as.

Standard library only. Input:

--bicep-types DIR  A checkout of Azure/bicep-types-az, or its bare git directory (files are then read with
    `git show HEAD:…`). Its `generated/<rp>/<namespace>/<api version>/types.json` files are read.
--origin TEXT      Where DIR came from (repository, commit), recorded in the output's "source".
--specs DIR        Optional: a sparse copy of Azure/azure-rest-api-specs (its `specification/` tree, or any part of
    it). bicep-types-az drops the swagger `format`, so a readOnly string the specs type `format: date-time` would
    look like any string: every swagger JSON under DIR (examples/ aside) names, per resource provider namespace
    (the `Microsoft.X` folder of its path), the readOnly date-time properties of its definitions, and a readOnly
    string property of that name in that namespace's schemas becomes a time (`{"k": "t"}`), which
    providers/shapes.py fills from the simulated clock. (By name within a namespace, as the specs' definitions
    are not mapped one by one to bicep's nodes: a name the namespace types as a date-time somewhere is taken as
    one wherever bicep marks it readOnly.) Get the files with a sparse checkout of the specs' commit that
    bicep-types-az names, e.g.
        git clone --filter=blob:none --sparse https://github.com/Azure/azure-rest-api-specs && cd azure-rest-api-specs
        git sparse-checkout set --no-cone '/specification/*/resource-manager/Microsoft.*/**/stable/*/*.json' \\
            '!/specification/*/resource-manager/**/examples/'
    (the files each namespace's types come from are listed in bicep-types-az's generated/<rp>/log.out).
--specs-origin TEXT  Where the specs came from, recorded in the output's "source".

The data committed in arm_sim/providers/data/ was generated on 2026-12-07 from:

  Azure/bicep-types-az at commit 1f896de2d ("Update types from
  https://github.com/Azure/azure-rest-api-specs/tree/b7170cade0 (#2780)"), generated/*/<namespace>/*/types.json.

The date-time properties in the committed data were read on 2026-12-08 from Azure/azure-rest-api-specs (the
definitions of, under specification/):
  compute/resource-manager/Microsoft.Compute/DiskRP/stable/2025-01-02/disk.json (at 114077a23),
  containerregistry/resource-manager/Microsoft.ContainerRegistry/Registry/stable/2025-04-01/containerregistry.json
  (at 2cba9e845),
  operationalinsights/resource-manager/Microsoft.OperationalInsights/OperationalInsights/stable/2025-02-01/
  Workspaces.json (at 441212684).
Those are the namespaces whose modelled types have readOnly creation or change times that no provider computes;
the other namespaces' date-times are still plain strings in the data (their providers compute the ones clients
read: timeCreated, creationTime, createdOn, lastModifiedTimeUtc, …; a run with the whole sparse checkout adds them).

Nodes are stored once however many schemas hold them: the file is a table of nodes, and each type's api
version names the node of its body.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

# Every type a provider of arm-sim models (arm_sim/providers/*.py), in Azure's casing.
TYPES = (
    "Microsoft.ManagedIdentity/userAssignedIdentities",
    "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
    "Microsoft.Authorization/roleAssignments",
    "Microsoft.Authorization/roleDefinitions",
    "Microsoft.Compute/virtualMachines",
    "Microsoft.Compute/virtualMachines/extensions",
    "Microsoft.Compute/virtualMachineScaleSets",
    "Microsoft.Compute/availabilitySets",
    "Microsoft.Compute/disks",
    "Microsoft.Web/sites",
    "Microsoft.Web/sites/slots",
    "Microsoft.Web/serverfarms",
    "Microsoft.KeyVault/vaults",
    "Microsoft.KeyVault/vaults/secrets",
    "Microsoft.KeyVault/vaults/keys",
    "Microsoft.Storage/storageAccounts",
    "Microsoft.Network/virtualNetworks",
    "Microsoft.Network/virtualNetworks/subnets",
    "Microsoft.Network/networkInterfaces",
    "Microsoft.Network/publicIPAddresses",
    "Microsoft.Network/networkSecurityGroups",
    "Microsoft.Network/loadBalancers",
    "Microsoft.OperationalInsights/workspaces",
    "Microsoft.Insights/components",
    "Microsoft.Sql/servers",
    "Microsoft.ContainerRegistry/registries",
    "Microsoft.ContainerInstance/containerGroups",
    "Microsoft.App/containerApps",
    "Microsoft.App/managedEnvironments",
    "Microsoft.ContainerService/managedClusters",
    "Microsoft.Resources/deploymentScripts",
    "Microsoft.AzureStackHCI/clusters",
)
FIRST_VERSION = "2019-01-01"  # older api versions are not what today's clients send
# Namespaces that publish an api version every month or two: only the recent ones are kept (each is a large
# schema); an older version is read with the oldest kept.
FIRST_VERSION_OF = {"microsoft.network": "2023-06-01", "microsoft.containerservice": "2024-01-01"}
# Preview versions kept beside the stable ones: those today's clients send (the az CLI's pinned versions, the
# only versions of a type). Any other version is read with the schema of the nearest older version kept.
PREVIEWS = frozenset({
    "2021-09-30-preview", "2022-01-31-preview",  # Microsoft.ManagedIdentity (federated credentials' first)
    "2020-10-01-preview", "2022-05-01-preview",  # Microsoft.Authorization
    "2021-06-01-preview",  # Microsoft.KeyVault
    "2020-02-02-preview",  # Microsoft.Insights/components
})
UUID_PATTERN = "^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"
_NAMESPACE = re.compile(r"/resource-manager/(Microsoft\.[A-Za-z0-9]+)/", re.IGNORECASE)


def _date_times_in(doc: Any, found: set[str]) -> None:
    """The names of the readOnly `format: date-time` properties anywhere in a swagger document (definitions and
    the objects declared inline in them)."""
    if isinstance(doc, list):
        for v in doc:
            _date_times_in(v, found)
        return
    if not isinstance(doc, dict):
        return
    props = doc.get("properties")
    if isinstance(props, dict):
        for name, p in props.items():
            if isinstance(p, dict) and p.get("format") == "date-time" and p.get("readOnly") is True:
                found.add(name)
    for v in doc.values():
        _date_times_in(v, found)


def spec_date_times(specs: Path) -> dict[str, set[str]]:
    """namespace (lower case) -> the readOnly date-time property names of its swagger files under `specs`."""
    out: dict[str, set[str]] = {}
    for path in sorted(specs.rglob("*.json")):
        m = _NAMESPACE.search(path.as_posix())
        if m is None or "/examples/" in path.as_posix():
            continue
        try:
            doc = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as e:
            print(f"warning: {path}: {e}", file=sys.stderr)
            continue
        _date_times_in(doc, out.setdefault(m.group(1).lower(), set()))
    return out


class Source:
    """The bicep-types-az tree: a work tree, or a bare git directory read through `git show`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.git = not (root / "generated").is_dir()
        if self.git:
            out = subprocess.check_output(["git", "-C", str(root), "ls-tree", "-r", "--name-only", "HEAD",
                                           "generated/"], text=True)
            self.paths = [p for p in out.splitlines() if p.endswith("/types.json")]
        else:
            self.paths = [str(p.relative_to(root)) for p in (root / "generated").rglob("types.json")]

    def read(self, path: str) -> Any:
        if self.git:
            return json.loads(subprocess.check_output(["git", "-C", str(self.root), "show", f"HEAD:{path}"]))
        return json.loads((self.root / path).read_text())

    def files_of(self, namespace: str) -> list[tuple[str, str]]:
        """(api version, path) of every types.json of `namespace`."""
        found = []
        for p in self.paths:
            parts = p.split("/")
            version = parts[-2] if len(parts) >= 5 else ""
            first = FIRST_VERSION_OF.get(namespace.lower(), FIRST_VERSION)
            if parts[-3] == namespace.lower() and version >= first and (
                    "preview" not in version or version in PREVIEWS):
                found.append((version, p))
        return sorted(found)


def _ref(r: dict[str, str]) -> int:
    return int(r["$ref"].split("/")[-1])


class Nodes:
    """One node table for every schema: a node whose content is already there is shared (most of a type's schema
    is the same from one api version to the next)."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.interned: dict[str, int] = {}

    def add(self, table: list[dict[str, Any]], root: int, times: frozenset[str] = frozenset()) -> int:
        return _Copy(self, table, times).node(root)

    def intern(self, content: Any) -> int:
        text = json.dumps(content, sort_keys=True, separators=(",", ":"))
        if text not in self.interned:
            self.interned[text] = len(self.nodes)
            self.nodes.append(content)
        return self.interned[text]


class _Copy:
    """Copy the part of one types.json reachable from a resource body into the shared node table. A reference
    back to a node being copied (an error's `details`, a recursive rule) becomes `any`: what arm-sim reads of a
    schema never goes that deep, and a tree without cycles can be shared node by node."""

    def __init__(self, nodes: Nodes, table: list[dict[str, Any]], times: frozenset[str]) -> None:
        self.out = nodes
        self.table = table
        self.times = times  # the names the specs type as readOnly date-times in this namespace
        self.open: set[int] = set()

    def node(self, i: int) -> int:
        if i in self.open:
            return self.out.intern({"k": "any"})
        self.open.add(i)
        content = self._convert(self.table[i])
        self.open.discard(i)
        return self.out.intern(content)

    def _props(self, props: dict[str, Any]) -> dict[str, list[int]]:
        return {name: [self._prop(name, p), int(p.get("flags", 0)) & 7] for name, p in sorted(props.items())}

    def _prop(self, name: str, p: dict[str, Any]) -> int:
        t = self.table[_ref(p["type"])]
        if name in self.times and int(p.get("flags", 0)) & 2 and t["$type"] == "StringType" \
                and not t.get("sensitive"):
            return self.out.intern({"k": "t"})  # a readOnly date-time
        return self.node(_ref(p["type"]))

    def _literals(self, t: dict[str, Any]) -> tuple[list[Any], bool] | None:
        """The values of a union of literals (and whether a plain string is allowed too), or None."""
        values: list[Any] = []
        open_ = False
        for e in t["elements"]:
            x = self.table[_ref(e)]
            if x["$type"] == "StringLiteralType":
                values.append(x["value"])
            elif x["$type"] == "StringType":
                open_ = True
            else:
                return None
        return values, open_

    def _convert(self, t: dict[str, Any]) -> Any:
        kind = t["$type"]
        out: dict[str, Any]
        if kind == "StringType":  # a secure string (a password) is never answered: `secret`
            out = {"k": "secret"} if t.get("sensitive") else {"k": "uuid"} if t.get("pattern") == UUID_PATTERN \
                else {"k": "s"}
        elif kind == "StringLiteralType":
            out = {"k": "e", "v": [t["value"]]}
        elif kind == "IntegerType":
            out = {"k": "i"}
        elif kind == "BooleanType":
            out = {"k": "b"}
        elif kind == "ArrayType":
            out = {"k": "a", "i": self.node(_ref(t["itemType"]))}
        elif kind == "UnionType":
            lits = self._literals(t)
            if lits is not None:
                out = {"k": "e", "v": lits[0]}
                if lits[1]:
                    out["open"] = True
            else:
                out = {"k": "u", "of": [self.node(_ref(e)) for e in t["elements"]]}
        elif kind == "ObjectType":
            out = {"k": "o", "p": self._props(t.get("properties") or {})}
            if "additionalProperties" in t:
                out["ap"] = self.node(_ref(t["additionalProperties"]))
        elif kind == "DiscriminatedObjectType":
            out = {"k": "d", "by": t["discriminator"], "base": self._props(t.get("baseProperties") or {}),
                   "v": {name: self.node(_ref(r)) for name, r in sorted(t["elements"].items())}}
        else:  # null, any, or a function or resource type inside a body: nothing to check
            out = {"k": "any"}
        return out


def shapes(source: Source, date_times: dict[str, set[str]] | None = None) -> dict[str, Any]:
    nodes = Nodes()
    types: dict[str, dict[str, int]] = {}
    for full in TYPES:
        namespace = full.split("/")[0]
        versions: dict[str, int] = {}
        times = frozenset((date_times or {}).get(namespace.lower(), ()))
        for version, path in source.files_of(namespace):
            table = source.read(path)
            for t in table:
                if t.get("$type") == "ResourceType" and t["name"].lower() == f"{full}@{version}".lower():
                    versions[version] = nodes.add(table, _ref(t["body"]), times)
                    break
        if not versions:
            print(f"warning: no schema for {full}", file=sys.stderr)
        types[full.lower()] = versions
    return {"types": types, "nodes": nodes.nodes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--bicep-types", required=True, type=Path)
    parser.add_argument("--origin", default="")
    parser.add_argument("--specs", type=Path)
    parser.add_argument("--specs-origin", default="")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[1] / "arm_sim/providers/data/resource_shapes.json")
    args = parser.parse_args(argv)
    date_times = spec_date_times(args.specs) if args.specs else {}
    data = shapes(Source(args.bicep_types), date_times)
    specs = {"azure-rest-api-specs": args.specs_origin,
             "date-time names": sum(len(v) for v in date_times.values())} if args.specs else {}
    data = {"source": {"bicep-types-az": args.origin, **specs, "types": len(data["types"]),
                       "versions": sum(len(v) for v in data["types"].values()), "nodes": len(data["nodes"])},
            **data}
    args.out.write_text(json.dumps(data, separators=(",", ":"), sort_keys=False) + "\n")
    print(f"{args.out}: {data['source']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
