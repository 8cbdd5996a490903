"""IMDS instance metadata at `/vms/{vmKey}/metadata/instance[/…]` and `/vms/{vmKey}/metadata/versions`.

Built from the VM resource. As in IMDS every primitive is a string and a missing value is "". `vmKey` is the
VM's secret endpoint key; `compute.vmId` is the VM's public id, as in Azure. An unknown key (never issued, or
its VM deleted) gets one answer, so the listener tells nobody which keys once existed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from arm_sim.domain import identity_tokens
from arm_sim.domain.runtime import Runtime
from arm_sim.hosts.http import json_response, off_loop
from arm_sim.hosts.imds import common

router = APIRouter(tags=["identity"])

UNKNOWN_VM = ("Bad request. No virtual machine answers at this address: the key in /vms/{vmKey} is not a VM's "
              "IMDS key (`arm-sim env --vm NAME` prints the right address).")

API_VERSIONS = [
    "2017-03-01", "2017-04-02", "2017-08-01", "2017-10-01", "2017-12-01", "2018-02-01", "2018-04-02", "2018-10-01",
    "2019-02-01", "2019-03-11", "2019-04-30", "2019-06-01", "2019-06-04", "2019-08-01", "2019-08-15", "2019-11-01",
    "2020-06-01", "2020-07-15", "2020-09-01", "2020-10-01", "2020-12-01", "2021-01-01", "2021-02-01", "2021-03-01",
    "2021-05-01", "2021-08-01", "2021-10-01", "2021-11-01", "2021-11-15", "2021-12-13", "2023-07-01",
]
# fields that appeared after 2017-03-01, with the version that introduced them
_SINCE = {"vmId": "2017-04-02", "resourceGroupName": "2017-08-01", "subscriptionId": "2017-08-01",
          "tags": "2017-08-01", "vmScaleSetName": "2017-08-01", "placementGroupId": "2017-08-01",
          "plan": "2018-04-02", "publicKeys": "2018-04-02", "provider": "2018-10-01", "azEnvironment": "2018-10-01",
          "resourceId": "2019-03-11", "tagsList": "2019-06-04", "osProfile": "2020-06-01",
          "userData": "2021-01-01"}


def _s(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _os_type(props: dict[str, Any]) -> str:
    storage = props.get("storageProfile") or {}
    explicit = (storage.get("osDisk") or {}).get("osType")
    if explicit:
        return _s(explicit)
    os_profile = props.get("osProfile") or {}
    if "windowsConfiguration" in os_profile:
        return "Windows"
    image = storage.get("imageReference") or {}
    if "windows" in _s(image.get("publisher")).lower() or "windows" in _s(image.get("offer")).lower():
        return "Windows"
    return "Linux" if image or "linuxConfiguration" in os_profile else ""


def compute(vm: dict[str, Any], version: str) -> dict[str, Any]:
    props = vm["properties"]
    image = (props.get("storageProfile") or {}).get("imageReference") or {}
    os_profile = props.get("osProfile") or {}
    linux = os_profile.get("linuxConfiguration") or {}
    keys = ((linux.get("ssh") or {}).get("publicKeys")) or []
    plan = vm.get("plan") or {}
    tags: dict[str, Any] = vm["tags"]
    out: dict[str, Any] = {
        "azEnvironment": "AZUREPUBLICCLOUD",
        "computerName": _s(os_profile.get("computerName") or vm["name"]),
        "location": _s(vm["location"]),
        "name": _s(vm["name"]),
        "offer": _s(image.get("offer")),
        "osProfile": {"adminUsername": _s(os_profile.get("adminUsername")),
                      "computerName": _s(os_profile.get("computerName") or vm["name"]),
                      "disablePasswordAuthentication": _s(linux.get("disablePasswordAuthentication", ""))},
        "osType": _os_type(props),
        "placementGroupId": "",
        "plan": {"name": _s(plan.get("name")), "product": _s(plan.get("product")),
                 "publisher": _s(plan.get("publisher"))},
        "platformFaultDomain": "0",
        "platformUpdateDomain": "0",
        "priority": _s(props.get("priority")),
        "provider": "Microsoft.Compute",
        "publicKeys": [{"keyData": _s(k.get("keyData")), "path": _s(k.get("path"))} for k in keys],
        "publisher": _s(image.get("publisher")),
        "resourceGroupName": vm["resourceGroupName"],
        "resourceId": vm["id"],
        "sku": _s(image.get("sku")),
        "subscriptionId": vm["subscriptionId"],
        "tags": ";".join(f"{k}:{_s(v)}" for k, v in tags.items()),
        "tagsList": [{"name": k, "value": _s(v)} for k, v in tags.items()],
        "userData": _s(props.get("userData")),
        "version": _s(image.get("version")),
        "vmId": _s(props.get("vmId")),
        "vmScaleSetName": "",
        "vmSize": _s((props.get("hardwareProfile") or {}).get("vmSize")),
        "zone": _s(vm["zones"][0]) if vm["zones"] else "",
    }
    return {k: v for k, v in out.items() if version >= _SINCE.get(k, "")}


def _walk(node: Any, parts: list[str]) -> tuple[bool, Any]:
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def _text(node: Any) -> str:
    if isinstance(node, dict):
        return "\n".join(f"{k}/" if isinstance(v, dict | list) else k for k, v in node.items())
    if isinstance(node, list):
        return "\n".join(str(i) + ("/" if isinstance(v, dict | list) else "") for i, v in enumerate(node))
    return _s(node)


@router.get("/vms/{vm_key}/metadata/instance", summary="IMDS: instance metadata of the VM")
@router.get("/vms/{vm_key}/metadata/instance/{path:path}", summary="IMDS: one category or value (route filtering)")
async def instance(request: Request, vm_key: str, path: str = "") -> Response:
    return await off_loop(lambda: _instance(request, vm_key, path))


def _instance(request: Request, vm_key: str, path: str) -> Response:
    problem = common.header_problem(request, False)
    if problem is not None:
        return problem
    q, dup = common.query(request)
    if dup:
        return common.repeated(dup, False)
    if (problem := common.version_problem(q, common.INSTANCE_MIN_VERSION)) is not None:
        return problem
    fmt = q.get("format", "json")
    if fmt not in ("json", "text"):
        return common.metadata_error("Bad request. The format must be 'json' or 'text'.")
    rt: Runtime = request.app.state.runtime
    with rt.unit() as ctx:
        vm = identity_tokens.hosting_document(ctx, vm_key, "vm")
    if vm is None:
        return common.metadata_error(UNKNOWN_VM)
    doc = {"compute": compute(vm, q["api-version"]), "network": {"interface": []}}
    found, node = _walk(doc, [p for p in path.split("/") if p])
    if not found:
        return common.metadata_error("Not found", 404)
    if fmt == "text":
        return Response(_text(node), media_type="text/plain; charset=utf-8")
    if not isinstance(node, dict | list):
        return common.metadata_error("Bad request. Leaf values are returned as text only: add format=text.")
    return json_response(node)


@router.get("/vms/{vm_key}/metadata/versions", summary="IMDS: the API versions it answers")
async def versions(request: Request, vm_key: str) -> Response:
    return await off_loop(lambda: _versions(request, vm_key))


def _versions(request: Request, vm_key: str) -> Response:
    problem = common.header_problem(request, False)
    if problem is not None:
        return problem
    rt: Runtime = request.app.state.runtime
    with rt.unit() as ctx:
        known = identity_tokens.endpoint(ctx, vm_key, "vm") is not None
    if not known:
        return common.metadata_error(UNKNOWN_VM)
    return json_response({"apiVersions": API_VERSIONS})
