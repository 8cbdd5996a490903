"""Fixtures of the example suite: the template under test (infra.json), its parameters, one deployment shared by
the read-only tests, and `inside`, to run code as if on the VM.

Everything here uses the arm-sim pytest plugin's fixtures (`arm_sim`, `arm_sim_rg`), which any project gets by
installing arm-sim; nothing is specific to arm-sim's own repository.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from arm_sim.testing import ArmSim
from tests.examples.infra import PARAMETERS, TEMPLATE

# What would make azure-identity pick another credential than the VM's managed identity.
NOT_ON_THE_VM = ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                 "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT",
                 "MSI_ENDPOINT", "MSI_SECRET", "AZURE_FEDERATED_TOKEN_FILE")


@pytest.fixture
def template() -> dict[str, Any]:
    """A copy of the template, for a test to change."""
    return copy.deepcopy(TEMPLATE)


@pytest.fixture(scope="package")
def infra(arm_sim: ArmSim) -> Iterator[dict[str, Any]]:
    """The template deployed once (per xdist worker) in a group of its own, for the tests that only read it:
    its outputs, plus `group`."""
    group = arm_sim.create_resource_group()
    try:
        yield {"group": group, **arm_sim.deploy(TEMPLATE, PARAMETERS, resource_group=group)}
    finally:
        arm_sim.delete_resource_group(group, purge=True)


@pytest.fixture
def inside(monkeypatch: pytest.MonkeyPatch, arm_sim: ArmSim) -> Callable[[str], None]:
    """`inside(vm_id)`: from then on, this test runs as code on that VM (its IMDS endpoint in the environment)."""
    def enter(resource_id: str) -> None:
        for name in NOT_ON_THE_VM:
            monkeypatch.delenv(name, raising=False)
        for name, value in arm_sim.managed_identity_env(resource_id).items():
            monkeypatch.setenv(name, value)
    return enter
