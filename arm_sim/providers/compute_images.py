"""The Marketplace image catalogue (VirtualMachineImages_*): publishers, offers, skus and versions of a location.

Read-only and provider-level: `/subscriptions/{s}/providers/Microsoft.Compute/locations/{loc}/publishers/{p}/
artifacttypes/vmimage/offers/{o}/skus/{s}/versions[/{v}]`. The images are those of the Azure CLI's alias document
(data/vm_images.json, made by scripts/gen_vm_images.py), offered in every region (a simplification: Azure's
catalogue differs a little by region). Lists answer bare JSON arrays, as CRP does.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from arm_sim.core.errors import DomainError
from arm_sim.domain.context import Ctx
from arm_sim.providers import catalog


@cache
def data() -> dict[str, Any]:
    file = resources.files("arm_sim.providers").joinpath("data", "vm_images.json")
    loaded: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    return loaded


def alias_doc() -> dict[str, Any]:
    """The image alias document (what the cloud's `vmImageAliasDoc` endpoint serves)."""
    doc: dict[str, Any] = data()["aliasDoc"]
    return doc


def _images() -> list[dict[str, Any]]:
    images: list[dict[str, Any]] = data()["images"]
    return images


def _not_found() -> DomainError:
    return DomainError(404, "NotFound", "Artifact: VMImage was not found.")


def _base(subscription_id: str, location: str) -> str:
    return f"/Subscriptions/{subscription_id}/Providers/Microsoft.Compute/Locations/{location}"


def _entry(location: str, name: str, id_: str) -> dict[str, Any]:
    return {"location": location, "name": name, "id": id_}


def _properties(image: dict[str, Any]) -> dict[str, Any]:
    """`VirtualMachineImageProperties` as far as the data knows them."""
    return {"hyperVGeneration": image["hyperVGeneration"], "architecture": image["architecture"],
            "osDiskImage": {"operatingSystem": image["operatingSystem"]}, "dataDiskImages": [],
            "imageDeprecationStatus": {"imageState": "Active"}}


def _matching(publisher: str | None = None, offer: str | None = None, sku: str | None = None) -> list[dict[str, Any]]:
    def same(a: str | None, b: str) -> bool:
        return a is None or a.lower() == b.lower()
    return [i for i in _images() if same(publisher, i["publisher"]) and same(offer, i["offer"]) and same(sku, i["sku"])]


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.lower(), name)
    return sorted(seen.values(), key=str.lower)


def _parse(segments: tuple[str, ...]) -> dict[str, str] | None:
    """`locations/{loc}/publishers[/{p}/artifacttypes/vmimage/offers[/{o}/skus[/{s}/versions[/{v}]]]]` as
    {"location", "publisher", "offer", …, "list": the level listed, or "" for one version}; None when not one."""
    low = [s.lower() for s in segments]
    if len(low) < 3 or low[0] != "locations" or low[2] != "publishers":
        return None
    names = list(segments[2:])
    if len(names) > 3 and (low[4] != "artifacttypes" or low[5] != "vmimage"):
        return None
    del names[2:4]  # artifacttypes/vmimage
    keys = ("publishers", "offers", "skus", "versions")
    out = {"location": segments[1]}
    for i, name in enumerate(names):
        level = keys[i // 2]
        if i % 2 == 0:
            if name.lower() != level:
                return None
            out["list"] = level
        else:
            out[level] = name
            out["list"] = "" if level == "versions" else "-"  # "-": a publisher, offer or sku is not readable
    return out if len(names) <= 8 else None


def call(ctx: Ctx, method: str, subscription_id: str, segments: tuple[str, ...]) -> tuple[int, Any] | None:
    """Answer a catalogue path, or None when `segments` is not one."""
    at = _parse(segments)
    if at is None:
        return None
    if method != "GET":
        raise DomainError(405, "MethodNotAllowed", f"The requested resource does not support http method '{method}'.")
    location = at["location"]
    if catalog.normalize_location(location) not in catalog.LOCATION_NAMES or at["list"] == "-":
        raise _not_found()
    base = _base(subscription_id, location)
    if at["list"] == "publishers":
        publishers = _unique([i["publisher"] for i in _images()])
        return 200, [_entry(location, p, f"{base}/Publishers/{p}") for p in publishers]
    found = _matching(at.get("publishers"), at.get("offers"), at.get("skus"))
    if not found:
        raise _not_found()
    p_base = f"{base}/Publishers/{found[0]['publisher']}/ArtifactTypes/VMImage"
    if at["list"] == "offers":
        return 200, [_entry(location, o, f"{p_base}/Offers/{o}") for o in _unique([i["offer"] for i in found])]
    o_base = f"{p_base}/Offers/{found[0]['offer']}"
    if at["list"] == "skus":
        return 200, [_entry(location, s, f"{o_base}/Skus/{s}") for s in _unique([i["sku"] for i in found])]
    image = found[0]
    v_base = f"{o_base}/Skus/{image['sku']}/Versions"
    if at["list"] == "versions":
        # always with properties and newest first: the query (`$expand`, `$orderby`, `$top`) does not reach
        # providers; az asks `$expand=properties&$orderby=name desc&$top=1`
        versions = sorted(image["versions"], reverse=True)
        return 200, [dict(_entry(location, v, f"{v_base}/{v}"), properties=_properties(image)) for v in versions]
    version = at["versions"]
    if version not in image["versions"]:
        raise _not_found()
    return 200, dict(_entry(location, version, f"{v_base}/{version}"), properties=_properties(image))


def image_of(reference: dict[str, Any]) -> dict[str, Any] | None:
    """The catalogue's image an `imageReference` (publisher, offer, sku) names, or None."""
    parts = [reference.get(k) for k in ("publisher", "offer", "sku")]
    if not all(isinstance(p, str) for p in parts):
        return None
    found = _matching(*parts)
    return found[0] if found else None


def any_image() -> dict[str, Any]:
    return _images()[0]
