"""ARM's long-running-operation protocol, in async mode (the default) and ARM_SIM_LRO=sync."""

from __future__ import annotations

from pathlib import Path

from tests.simserver import Sim, fresh_database_url

API = "api-version=2025-04-01"


def test_async_operation_status_and_result(sim: Sim, rg_name: str) -> None:
    rg = f"/subscriptions/{sim.subscription}/resourcegroups/{rg_name}"
    with sim.http() as c:
        c.put(f"{rg}?{API}", json={"location": "eastus"})
        r = c.delete(f"{rg}?{API}")
        assert r.status_code == 202
        status = c.get(r.headers["azure-asyncoperation"])
        assert status.status_code == 200 and status.json()["status"] == "Succeeded"
        assert {"id", "name", "startTime", "endTime"} <= set(status.json())
        assert c.get(r.headers["location"]).status_code == 204
        missing = c.get(f"/subscriptions/{sim.subscription}/providers/Microsoft.Resources/locations/eastus/"
                        f"operationStatuses/00000000-0000-0000-0000-000000000000?{API}")
        assert missing.status_code == 404


def test_sync_mode_answers_final_states(tmp_path: Path) -> None:
    sim = Sim(home=tmp_path / "sim", database_url=fresh_database_url(), extra_env={"ARM_SIM_LRO": "sync"}).start()
    try:
        rg = f"/subscriptions/{sim.subscription}/resourcegroups/syncrg"
        with sim.http() as c:
            assert c.put(f"{rg}?{API}", json={"location": "eastus"}).status_code == 201
            r = c.delete(f"{rg}?{API}")
            assert r.status_code == 200 and "azure-asyncoperation" not in r.headers
            assert c.get(f"{rg}?{API}").status_code == 404
        rm = sim.resource_client()
        rm.resource_groups.create_or_update("syncrg2", {"location": "eastus"})
        rm.resource_groups.begin_delete("syncrg2").result()
        assert not rm.resource_groups.check_existence("syncrg2")
    finally:
        sim.stop()
