"""The lanes that serve ARM and the vault data plane in front of FastAPI: what they claim, what they leave to
FastAPI, and how an unexpected failure is answered."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.responses import PlainTextResponse, Response

from arm_sim.hosts.arm.routes import is_arm_path
from arm_sim.hosts.http import Lane
from tests.simserver import Sim


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await PlainTextResponse("from the app")(scope, receive, send)


async def _handler(scope: Any, receive: Any) -> Response:
    if scope["path"].endswith("/boom"):
        raise ValueError("a bug")
    return PlainTextResponse("from the lane")


def _get(path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=Lane(_app, _handler, lambda p: p.startswith("/mine")),
                                        raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://lane") as client:
            return await client.get(path, headers=headers)
    return asyncio.run(go())


def test_a_lane_serves_what_it_claims_and_passes_the_rest_on() -> None:
    mine = _get("/mine/x")
    assert mine.text == "from the lane"
    assert mine.headers["x-ms-request-id"] == mine.headers["x-ms-correlation-request-id"]  # none was given
    given = _get("http://lane//mine/x", {"x-ms-correlation-request-id": "abc"})  # leading slashes collapse first
    assert given.text == "from the lane" and given.headers["x-ms-correlation-request-id"] == "abc"
    assert given.headers["x-ms-request-id"] not in ("abc", mine.headers["x-ms-request-id"])
    assert _get("/other").text == "from the app"
    failed = _get("/mine/boom")  # answered in ARM's envelope; the exception still reaches the server's log
    assert failed.status_code == 500
    assert failed.json() == {"error": {"code": "InternalServerError",
                                       "message": "arm-sim failed to handle this request: ValueError."}}
    assert failed.headers["x-ms-request-id"]


@pytest.mark.parametrize(("path", "arm"), [
    ("/subscriptions", True), ("/subscriptions/x/resourceGroups", True), ("/SUBSCRIPTIONS/x", True),
    ("/Providers/Microsoft.Compute", True), ("/tenants", True), ("/subscriptionsx", False),
    ("/metadata/endpoints", False), ("/_sim/health", False), ("/common/discovery/instance", False),
])
def test_arm_claims_its_own_paths_in_any_case(path: str, arm: bool) -> None:
    assert is_arm_path(path) is arm


def test_arm_paths_answer_in_any_case_and_other_paths_stay_with_fastapi(sim: Sim) -> None:
    with sim.http() as c:
        r = c.get(f"/SUBSCRIPTIONS/{sim.subscription}", params={"api-version": "2022-12-01"})
        assert r.status_code == 200 and r.json()["subscriptionId"] == sim.subscription
        assert r.headers["x-ms-request-id"] and r.headers["x-ms-correlation-request-id"]
        assert c.get("/metadata/endpoints", params={"api-version": "2022-09-01"}).status_code == 200
        assert c.get("/_sim/health").json()["status"] == "ok"
