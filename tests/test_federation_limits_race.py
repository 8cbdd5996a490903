"""Federated credentials' limits hold under concurrent writers (db/row_lock.py): at most 20 per user-assigned
identity or application, and each issuer + subject pair once, however many clients create at the same moment —
each writer counts the siblings only after taking the parent's row lock, so no two count the same ones."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.simserver import Sim
from tests.test_graph_writes import create_app

GITHUB = "https://token.actions.githubusercontent.com"
EXCHANGE = "api://AzureADTokenExchange"
MSI_API = {"api-version": "2023-01-31"}
WRITERS = 8


def _at_once(sim: Sim, token: str, requests: list[tuple[str, str, dict[str, Any]]]) -> list[httpx.Response]:
    """Every request sent at the same moment, each on its own connection."""
    def send(request: tuple[str, str, dict[str, Any]]) -> httpx.Response:
        method, url, body = request
        with sim.http(token) as c:
            return c.request(method, url, json=body, params=MSI_API if url.startswith("/subscriptions") else None)
    with ThreadPoolExecutor(WRITERS) as pool:
        return list(pool.map(send, requests))


def test_an_identitys_limits_hold_for_concurrent_creates(sim: Sim, arm: httpx.Client) -> None:
    group = f"/subscriptions/{sim.subscription}/resourceGroups/race-{uuid.uuid4().hex[:8]}"
    assert arm.put(group, params={"api-version": "2025-04-01"}, json={"location": "eastus"}).status_code == 201
    uai = f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/racer"
    assert arm.put(uai, params=MSI_API, json={"location": "eastus"}).status_code == 201
    fic = lambda n, subject: ("PUT", f"{uai}/federatedIdentityCredentials/fic-{n:02}", {  # noqa: E731
        "properties": {"issuer": GITHUB, "subject": subject, "audiences": [EXCHANGE]}})

    same = _at_once(sim, sim.token(), [fic(n, "repo:contoso/app:environment:prod") for n in range(WRITERS)])
    assert sorted(r.status_code for r in same) == [201] + [400] * (WRITERS - 1), [r.text for r in same]
    assert all("Issuer and subject combination already exists" in r.text for r in same if r.status_code == 400)

    many = _at_once(sim, sim.token(), [fic(n, f"repo:contoso/app:environment:e{n}") for n in range(10, 40)])
    assert sum(r.status_code == 201 for r in many) == 19  # the first one above and 19 of these: 20
    assert all("Too many Federated Identity Credentials" in r.text for r in many if r.status_code != 201)
    listed = arm.get(f"{uai}/federatedIdentityCredentials", params=MSI_API).json()["value"]
    assert len(listed) == 20


def test_an_applications_limits_hold_for_concurrent_creates(sim: Sim) -> None:
    with sim.http(sim.token("https://graph.microsoft.com/.default")) as gh:
        app = create_app(gh)
    base = f"/v1.0/applications/{app['id']}/federatedIdentityCredentials"
    token = sim.token("https://graph.microsoft.com/.default")
    fic = lambda n, subject: ("POST", base, {"name": f"fic-{n:02}", "issuer": GITHUB, "subject": subject,  # noqa: E731
                                             "audiences": [EXCHANGE]})

    same = _at_once(sim, token, [fic(n, "repo:contoso/app:environment:prod") for n in range(WRITERS)])
    assert sorted(r.status_code for r in same) == [201] + [400] * (WRITERS - 1), [r.text for r in same]

    many = _at_once(sim, token, [fic(n, f"repo:contoso/app:environment:e{n}") for n in range(10, 40)])
    assert sum(r.status_code == 201 for r in many) == 19
    with sim.http(token) as gh:
        assert len(gh.get(base).json()["value"]) == 20
