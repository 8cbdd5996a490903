"""What Compute's resource provider fills into a VM or scale set it accepts, where the request left it out.

Azure answers a VM made from an image with its OS disk described (`osType`, a generated name, caching, the
managed disk's id, size), an empty `dataDisks`, the OS profile's defaults (`secrets`, `allowExtensionOperations`,
`requireGuestProvisionSignal`, the Linux or Windows configuration with its patch settings) and the image version
`latest` resolved (`exactVersion`); a scale set gets the same in its VM profile plus its own defaults (fault
domains, overprovisioning, the NIC configurations' defaults). The values are those of Azure's recorded answers
(az vm create and az vmss create, tests/conformance/recordings/az/vm_msi.json and vmss_msi.json); fields the
request sets are kept. The OS comes from the image catalogue, else `osDisk.osType`, else the OS configuration the
request has; Linux when nothing says (a guess: az's default images are Linux).
"""

from __future__ import annotations

import hashlib
from typing import Any

from arm_sim.providers import compute_images

WINDOWS_DISK_GB, LINUX_DISK_GB = 127, 30  # the OS disk of Azure's Marketplace images


def _obj(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        value = parent[key] = {}
    return value


def _get(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def os_type(props: dict[str, Any]) -> str:
    storage = _get(props, "storageProfile")
    image = compute_images.image_of(_get(storage, "imageReference"))
    if image is not None:
        return str(image["operatingSystem"])
    disk = _get(storage, "osDisk")
    if isinstance(disk.get("osType"), str):
        return "Windows" if disk["osType"].lower() == "windows" else "Linux"
    return "Windows" if "windowsConfiguration" in _get(props, "osProfile") else "Linux"


def _os_profile(profile: dict[str, Any], os: str, patch_settings: bool) -> None:
    profile.setdefault("secrets", [])
    profile.setdefault("allowExtensionOperations", True)
    profile.setdefault("requireGuestProvisionSignal", True)
    if os == "Windows":
        config = _obj(profile, "windowsConfiguration")
        config.setdefault("provisionVMAgent", True)
        config.setdefault("enableAutomaticUpdates", True)
        if patch_settings:
            _obj(config, "patchSettings").setdefault("patchMode", "AutomaticByOS")
            config["patchSettings"].setdefault("assessmentMode", "ImageDefault")
    else:
        config = _obj(profile, "linuxConfiguration")
        config.setdefault("disablePasswordAuthentication", False)
        config.setdefault("provisionVMAgent", True)
        if patch_settings:
            _obj(config, "patchSettings").setdefault("patchMode", "ImageDefault")
            config["patchSettings"].setdefault("assessmentMode", "ImageDefault")


def _os_disk(storage: dict[str, Any], os: str) -> dict[str, Any]:
    disk = _obj(storage, "osDisk")
    disk.setdefault("osType", os)
    disk.setdefault("createOption", "FromImage")
    disk.setdefault("caching", "ReadWrite")
    _obj(disk, "managedDisk").setdefault("storageAccountType", "Premium_LRS")
    disk.setdefault("diskSizeGB", WINDOWS_DISK_GB if os == "Windows" else LINUX_DISK_GB)
    return disk


def _exact_version(storage: dict[str, Any]) -> None:
    reference = storage.get("imageReference")
    if not isinstance(reference, dict) or "exactVersion" in reference or "id" in reference:
        return
    image = compute_images.image_of(reference)
    version = reference.get("version")
    if isinstance(version, str):
        # `latest` of an image the catalogue lacks: the catalogue's own version numbering (gen_vm_images.py)
        latest = (image or compute_images.any_image())["versions"][-1]
        reference["exactVersion"] = latest if version.lower() == "latest" else version


def vm(resource_id: str, name: str, props: dict[str, Any]) -> None:
    """Fill a VM's defaults in place (on every write: a PUT that leaves a default out gets it again)."""
    os = os_type(props)
    storage = _obj(props, "storageProfile")
    if "imageReference" in storage or "osDisk" in storage:
        disk = _os_disk(storage, os)
        # the disk's name and id: `{vm}_OsDisk_1_{32 hex}`, fixed for the VM (derived from its id)
        suffix = hashlib.sha256(resource_id.lower().encode()).hexdigest()[:32]
        disk.setdefault("name", f"{name}_OsDisk_1_{suffix}")
        group = resource_id.rsplit("/providers/", 1)[0]
        disk["managedDisk"].setdefault("id", f"{group}/providers/Microsoft.Compute/disks/{disk['name']}")
        disk.setdefault("deleteOption", "Detach")
        _exact_version(storage)
    storage.setdefault("dataDisks", [])
    if isinstance(props.get("osProfile"), dict):
        _os_profile(props["osProfile"], os, patch_settings=True)


def _nic_configuration(nic: dict[str, Any]) -> None:
    props = _obj(nic, "properties")
    props.setdefault("disableTcpStateTracking", False)
    _obj(props, "dnsSettings").setdefault("dnsServers", [])
    props.setdefault("enableIPForwarding", False)
    for ip in props.get("ipConfigurations") or []:
        if isinstance(ip, dict):
            _obj(ip, "properties").setdefault("privateIPAddressVersion", "IPv4")


def scale_set(props: dict[str, Any], created: str) -> None:
    """Fill a scale set's defaults in place (`created`: when the scale set was made, its VM profile's
    `timeCreated`)."""
    uniform = str(props.get("orchestrationMode") or "Uniform").lower() == "uniform"
    if uniform:
        props.setdefault("singlePlacementGroup", True)
        props.setdefault("overprovision", True)
        props.setdefault("doNotRunExtensionsOnOverprovisionedVMs", False)
    props.setdefault("platformFaultDomainCount", 5 if uniform else 1)
    profile = props.get("virtualMachineProfile")
    if not isinstance(profile, dict):
        return
    profile.setdefault("timeCreated", created)
    os = os_type(profile)
    storage = _obj(profile, "storageProfile")
    if "imageReference" in storage or "osDisk" in storage:
        _os_disk(storage, os)
    if isinstance(profile.get("osProfile"), dict):
        _os_profile(profile["osProfile"], os, patch_settings=False)
    network = profile.get("networkProfile")
    for nic in (network or {}).get("networkInterfaceConfigurations") or [] if isinstance(network, dict) else []:
        if isinstance(nic, dict):
            _nic_configuration(nic)
