#!/usr/bin/env python3
"""Generate arm_sim/providers/data/vm_images.json: the Marketplace images the simulator's Compute offers (the
images of the Azure CLI's image aliases), and the alias document itself (what `vmImageAliasDoc` serves).

Nothing in the output is typed by hand. Input (a local path or an http(s) URL), standard library only:

--aliases SRC  The image alias document: Azure/azure-rest-api-specs `arm-compute/quickstart-templates/aliases.json`
    (a template whose `outputs.aliases.value` maps OS -> alias -> {publisher, offer, sku, version, architecture}),
    or Azure/azure-cli `src/azure-cli/azure/cli/command_modules/vm/_alias.py` (the same document in a Python
    string, the local copy az falls back to). az 2.91.0 resolves `--image Ubuntu2204` with the latter.
--origin TEXT  Where the input came from (repository, path, commit); recorded in the output's "source".

The vm_images.json committed in arm_sim/providers/data/ was generated on 2026-12-07 from Azure/azure-cli
src/azure-cli/azure/cli/command_modules/vm/_alias.py at commit 00c26b6e7bf56ca80528fe9867122ebe28f4991b (the
same text as the copy az 2.91.0 installs, azure/cli/command_modules/vm/_alias.py):

  ALIAS=azure/cli/command_modules/vm/_alias.py
  python3 scripts/gen_vm_images.py --aliases .venv-az/lib/python3.11/site-packages/$ALIAS --date 2026-12-07 \\
    --origin "Azure/azure-cli@00c26b6e7bf56ca80528fe9867122ebe28f4991b src/azure-cli/$ALIAS"

What the alias document does not say is derived, and each image lists what was derived under "derived":
- `hyperVGeneration`: V2 where the sku names a second generation (`gen2`, `-g2`, `gensecond`), where the image is
  Arm64 (Azure runs Arm64 only on generation 2) or an Azure Edition (generation 2 only), and where the same offer
  has a `{sku}-gen1` sibling (`azurelinux-4`: `4` and `4-gen1`); V1 where it names `gen1`; otherwise V1 (a guess:
  Azure's older skus without a suffix are generation 1 images, e.g. `2012-R2-Datacenter`).
- `version`: the alias names `latest`; one concrete version is offered per image, named `1.0.{yyyymmdd}` from the
  generation date (a guess: real names differ per publisher, e.g. Canonical's `22.04.202510230`).
- `operatingSystem`: the alias document's group (`Linux` / `Windows`).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

from gen_provider_catalog import read_source  # scripts/ is on the path when run as a script

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "arm_sim" / "providers" / "data" / "vm_images.json"
GENERATOR = "scripts/gen_vm_images.py"
_PY_STRING = re.compile(r'alias_json\s*=\s*"""(.*?)"""', re.DOTALL)
_GEN2 = re.compile(r"gen2|-g2$|gensecond", re.IGNORECASE)
_GEN1 = re.compile(r"gen1", re.IGNORECASE)


def parse_aliases(raw: bytes) -> dict[str, Any]:
    text = raw.decode("utf-8-sig")
    match = _PY_STRING.search(text)
    doc = json.loads(match.group(1) if match else text)
    aliases = doc["outputs"]["aliases"]
    return doc if "value" in aliases else {**doc, "outputs": {"aliases": {"type": "object", "value": aliases}}}


def generation(sku: str, architecture: str, siblings: set[str]) -> str:
    if _GEN2.search(sku) or architecture.lower() == "arm64" or "azure-edition" in sku.lower():
        return "V2"
    if not _GEN1.search(sku) and f"{sku}-gen1".lower() in siblings:
        return "V2"
    return "V1"  # `gen1` and unsuffixed skus alike (see the module docstring)


def images(doc: dict[str, Any], version: str) -> list[dict[str, Any]]:
    out = []
    skus: dict[tuple[str, str], set[str]] = {}
    for group in doc["outputs"]["aliases"]["value"].values():
        for image in group.values():
            skus.setdefault((image["publisher"].lower(), image["offer"].lower()), set()).add(image["sku"].lower())
    for os_name, group in doc["outputs"]["aliases"]["value"].items():
        for alias, image in group.items():
            architecture = image.get("architecture") or "x64"
            out.append({"alias": alias, "publisher": image["publisher"], "offer": image["offer"], "sku": image["sku"],
                        "architecture": architecture, "hyperVGeneration": generation(
                            image["sku"], architecture, skus[(image["publisher"].lower(), image["offer"].lower())]),
                        "operatingSystem": os_name, "versions": [version],
                        "derived": ["hyperVGeneration", "versions"]})
    return sorted(out, key=lambda i: (i["publisher"].lower(), i["offer"].lower(), i["sku"].lower()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--aliases", required=True, metavar="SRC")
    parser.add_argument("--origin", default=None, metavar="TEXT")
    parser.add_argument("--date", default=datetime.date.today().isoformat(), help="generation date (yyyy-mm-dd)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    raw = read_source(args.aliases)
    doc = parse_aliases(raw)
    version = "1.0." + args.date.replace("-", "")
    found = images(doc, version)
    name = args.aliases if args.aliases.startswith(("http://", "https://")) else Path(args.aliases).name
    source = {"generator": GENERATOR, "input": name, "sha256": hashlib.sha256(raw).hexdigest(),
              "origin": args.origin, "date": args.date}
    out = {"source": source, "aliasDoc": doc, "images": found}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{args.out.name}: {len(found)} images", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
