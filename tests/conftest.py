"""Shared fixtures: a real arm-sim server per test worker, and a migrated database for service tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.simserver import Sim, fresh_database_url
from tests.vmspec import nic


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    """One running simulator for the worker's whole session; tests isolate themselves by unique names."""
    server = Sim(home=tmp_path_factory.mktemp("sim"), database_url=fresh_database_url()).start()
    yield server
    server.stop()


@pytest.fixture
def fresh_sim(tmp_path: Path) -> Iterator[Sim]:
    """A simulator of the test's own (for restarts and clock changes that must not leak)."""
    server = Sim(home=tmp_path / "sim", database_url=fresh_database_url()).start()
    yield server
    server.stop()


GRAPH = "https://graph.microsoft.com/.default"


# Plain HTTP clients of the deployer for a module: ARM (the management audience) and Microsoft Graph.
@pytest.fixture(scope="module")
def arm(sim: Sim) -> Iterator[httpx.Client]:
    with sim.http() as client:
        yield client


@pytest.fixture(scope="module")
def graph(sim: Sim) -> Iterator[httpx.Client]:
    with sim.http(sim.token(GRAPH)) as client:
        yield client


# Deployer clients for a module, closed when it ends: an idle TLS keep-alive connection holds the server's
# shutdown up.
@pytest.fixture(scope="module")
def credential(sim: Sim) -> Iterator[Any]:
    with sim.credential() as cred:
        yield cred


@pytest.fixture(scope="module")
def compute(sim: Sim, credential: Any) -> Iterator[Any]:
    from azure.mgmt.compute import ComputeManagementClient

    with ComputeManagementClient(credential, sim.subscription, **sim.mgmt_kwargs()) as client:
        yield client


@pytest.fixture(scope="module")
def msi(sim: Sim, credential: Any) -> Iterator[Any]:
    from azure.mgmt.msi import ManagedServiceIdentityClient

    with ManagedServiceIdentityClient(credential, sim.subscription, **sim.mgmt_kwargs()) as client:
        yield client


@pytest.fixture
def rg_name() -> str:
    return f"rg-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def app(sim: Sim) -> dict[str, Any]:
    """A new application and service principal with a client secret, and no role or permission at all."""
    with sim.http() as arm:
        r = arm.post("/_sim/applications", json={"displayName": f"reader-{uuid.uuid4().hex[:8]}"})
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.fixture
def nic_id(sim: Sim, rg: str) -> str:
    """A network interface in the test module's `rg` group, for the VMs it creates (tests/vmspec.py)."""
    with sim.http() as arm:
        return nic(arm, f"/subscriptions/{sim.subscription}/resourceGroups/{rg}")
