"""State survives a restart; migrations build the schema from empty and match the models."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from arm_sim.db.engine import make_engine
from arm_sim.db.migrate import alembic_config, upgrade
from arm_sim.db.models import Base
from tests.simserver import Sim, fresh_database_url


def test_restart_keeps_resources_principals_keys_and_clock(fresh_sim: Sim) -> None:
    sim = fresh_sim
    sub = f"/subscriptions/{sim.subscription}"
    with sim.http() as c:
        r = c.put(f"{sub}/resourcegroups/keep?api-version=2025-04-01", json={"location": "eastus"})
        assert r.status_code == 201
        rid = f"{sub}/resourceGroups/keep/providers/Microsoft.Web/sites/app1?api-version=2023-01-01"
        assert c.put(rid, json={"location": "eastus", "properties": {"k": "v"}}).status_code == 200  # App Service
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
