"""State survives a restart; migrations build the schema from empty and match the models."""

from __future__ import annotations

import re
import socket
import uuid
from pathlib import Path

import httpx
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from arm_sim.db.engine import make_engine
from arm_sim.db.migrate import alembic_config, upgrade
from arm_sim.db.models import Base, IdentityEndpoint, Resource
from tests.simserver import Sim, fresh_database_url
from tests.webspec import plan


def test_restart_keeps_resources_principals_keys_and_clock(fresh_sim: Sim) -> None:
    sim = fresh_sim
    sub = f"/subscriptions/{sim.subscription}"
    with sim.http() as c:
        r = c.put(f"{sub}/resourcegroups/keep?api-version=2025-04-01", json={"location": "eastus"})
        assert r.status_code == 201
        rid = f"{sub}/resourceGroups/keep/providers/Microsoft.Web/sites/app1?api-version=2023-01-01"
        farm = plan(c, f"{sub}/resourceGroups/keep", "eastus")
        assert c.put(rid, json={"location": "eastus", "properties": {"k": "v", "serverFarmId": farm}}).status_code \
            == 200  # App Service
        app = c.post("/_sim/applications", json={"displayName": "survivor"}).json()
        clock = c.post("/_sim/clock/advance", json={"duration": "3d"}).json()
        keys = httpx.get(f"{sim.url}/{sim.tenant}/discovery/v2.0/keys", verify=sim.ca).json()["keys"]
    late = sim.token()  # issued on the advanced clock, before the restart
    ca = Path(sim.ca).read_bytes()
    sim.restart()
    assert Path(sim.ca).read_bytes() == ca  # the CA is made once and reused
    with sim.http(late) as c:
        assert c.get(rid).json()["properties"]["k"] == "v"
        after = c.get("/_sim/clock").json()
        assert after["offsetSeconds"] >= 3 * 86400 - 5 and abs(after["epoch"] - clock["epoch"]) < 120
    assert httpx.get(f"{sim.url}/{sim.tenant}/discovery/v2.0/keys", verify=sim.ca).json()["keys"] == keys
    r = httpx.post(f"{sim.url}/{sim.tenant}/oauth2/v2.0/token", verify=sim.ca, data={
        "grant_type": "client_credentials", "client_id": app["appId"], "client_secret": app["clientSecret"],
        "scope": "https://management.azure.com/.default"})
    assert r.status_code == 200, r.text


def test_migrations_from_empty_match_the_models(tmp_path: Path) -> None:
    url = fresh_database_url() or f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"
    command.check(alembic_config(url))  # raises when autogenerate would emit anything


def test_migration_0009_gives_existing_vms_a_secret_imds_key(tmp_path: Path) -> None:
    """Endpoints keyed by the public vmId before 0009 get a fresh secret key (the vmId address stops working);
    sites keep theirs. Downgrading keys VMs by vmId again."""
    url = fresh_database_url() or f"sqlite:///{tmp_path / 'm.db'}"
    command.upgrade(alembic_config(url), "0008")
    vm_id = str(uuid.uuid4())
    vm_key = "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1"
    site_key = "/subscriptions/s/resourcegroups/rg/providers/microsoft.web/sites/app1"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(Resource.__table__.insert().values(
            key=vm_key, id=vm_key, type="Microsoft.Compute/virtualMachines",
            type_key="microsoft.compute/virtualmachines", name="vm1", properties={"vmId": vm_id}, extra={}, etag="e",
            api_version="2024-07-01", created_at=0.0, changed_at=0.0))
        conn.execute(IdentityEndpoint.__table__.insert(), [
            {"key": vm_id, "kind": "vm", "resource_key": vm_key, "secret": None, "extension_port": 50342,
             "created_at": 0.0},
            {"key": "a" * 32, "kind": "site", "resource_key": site_key, "secret": "s" * 32, "extension_port": None,
             "created_at": 0.0}])

    def rows() -> dict[str, tuple[str, int | None]]:
        with engine.connect() as conn:
            found = conn.execute(select(IdentityEndpoint.__table__)).all()
        return {r.resource_key: (r.key, r.extension_port) for r in found}

    try:
        upgrade(url)
        after = rows()
        key, port = after[vm_key]
        assert key != vm_id and re.fullmatch(r"[A-Za-z0-9_-]{43}", key) and port == 50342
        assert after[site_key] == ("a" * 32, None)
        command.downgrade(alembic_config(url), "0008")
        assert rows()[vm_key] == (vm_id, 50342) and rows()[site_key] == ("a" * 32, None)
    finally:
        engine.dispose()


def test_first_start_moves_off_a_port_taken_before_the_bind(tmp_path: Path) -> None:
    """Another process may take a probed-free port before the server binds it; the helper then picks others."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        sim = Sim(home=tmp_path / "sim", database_url=fresh_database_url(), port=taken)
        try:
            sim.start()
            assert sim.port != taken
            with sim.http() as c:
                assert c.get("/_sim/health").status_code == 200
        finally:
            sim.stop()
