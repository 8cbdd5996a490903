"""A VM Compute accepts, for tests: arm_sim.testing.vm's REST bodies, and the same as azure-mgmt-compute models."""

from __future__ import annotations

from typing import Any

from azure.mgmt.compute.models import (
    HardwareProfile,
    ImageReference,
    NetworkInterfaceReference,
    NetworkProfile,
    OSProfile,
    StorageProfile,
    VirtualMachine,
    VirtualMachineIdentity,
)

from arm_sim.testing.vm import IMAGE, PASSWORD, SIZE, nic, properties

__all__ = ["nic", "properties", "sdk_profiles", "vm_body"]



def sdk_profiles(nic_id: str, computer_name: str) -> dict[str, Any]:
    """The same, as keyword arguments of azure-mgmt-compute's VirtualMachine."""
    return {"hardware_profile": HardwareProfile(vm_size=SIZE),
            "storage_profile": StorageProfile(image_reference=ImageReference(**IMAGE)),
            "os_profile": OSProfile(computer_name=computer_name[:15], admin_username="azureuser",
                                    admin_password=PASSWORD),
            "network_profile": NetworkProfile(network_interfaces=[NetworkInterfaceReference(id=nic_id)])}


def vm_body(identity: VirtualMachineIdentity | None, name: str, nic_id: str, **tags: str) -> VirtualMachine:
    """A VM in eastus for azure-mgmt-compute, with the given identity (or none) and tags."""
    return VirtualMachine(location="eastus", identity=identity, tags=tags or None, **sdk_profiles(nic_id, name))
