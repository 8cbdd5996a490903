"""`reset` is safe: a running server is reset through itself (`POST /_sim/reset`, its caches going with the data),
and a reset in the database is refused while any server holds the home. What is acknowledged after a reset
survives a restart."""

from __future__ import annotations

import uuid
from pathlib import Path

from arm_sim.app.home_lock import home_lock
from tests.simserver import Sim

RG = {"api-version": "2025-04-01"}


def _group(sim: Sim, name: str) -> str:
    return f"/subscriptions/{sim.subscription}/resourceGroups/{name}"


def test_a_running_server_resets_through_itself_and_keeps_what_follows(fresh_sim: Sim) -> None:
    sim = fresh_sim
    with sim.http() as c:
        assert c.put(_group(sim, "before"), params=RG, json={"location": "eastus"}).status_code == 201
        r = c.post("/_sim/reset")
        assert r.status_code == 200 and r.json()["status"] == "reset", r.text
        assert r.json()["subscriptionId"] == sim.subscription  # the pinned ids stay
        # the old token was signed by keys that are gone
        assert c.get(_group(sim, "before"), params=RG).status_code == 401
    with sim.http() as c:  # a new token, from the new keys
        assert c.get(_group(sim, "before"), params=RG).status_code == 404
        assert c.put(_group(sim, "after"), params=RG, json={"location": "eastus"}).status_code == 201

    # the CLI finds the running server and resets it through itself
    done = sim.cli("reset")
    assert done.returncode == 0 and "through the server" in done.stdout, done.stderr
    with sim.http() as c:
        assert c.get(_group(sim, "after"), params=RG).status_code == 404
        assert c.put(_group(sim, "kept"), params=RG, json={"location": "eastus"}).status_code == 201
    sim.restart()
    with sim.http() as c:  # acknowledged after the reset: still there after a restart
        assert c.get(_group(sim, "kept"), params=RG).status_code == 200


def test_a_reset_in_the_database_waits_for_no_server(tmp_path: Path) -> None:
    sim = Sim(home=tmp_path / "home").start()
    try:
        with sim.http() as c:
            assert c.put(_group(sim, "keep"), params=RG, json={"location": "eastus"}).status_code == 201
    finally:
        sim.stop()
    with home_lock(sim.home, shared=True):  # a server that holds the home but was not found (e.g. starting)
        refused = sim.cli("reset")
    assert refused.returncode == 1 and refused.stdout == ""
    assert "a server is running on home" in refused.stderr and "Traceback" not in refused.stderr
    sim.start()
    try:
        with sim.http() as c:
            assert c.get(_group(sim, "keep"), params=RG).status_code == 200  # the refused reset changed nothing
    finally:
        sim.stop()
    done = sim.cli("reset")  # no server: the database itself
    assert done.returncode == 0 and done.stdout.strip() == "state reset", done.stderr
    sim.start()
    try:
        with sim.http() as c:
            assert c.get(_group(sim, "keep"), params=RG).status_code == 404
            name = f"new-{uuid.uuid4().hex[:6]}"
            assert c.put(_group(sim, name), params=RG, json={"location": "eastus"}).status_code == 201
    finally:
        sim.stop()
