"""The request log (app/request_log.py): a line per request with its caller and, for a denial, what was missing;
a line per lifecycle effect; JSON lines with `ARM_SIM_LOG_FORMAT=json`; no token, secret or IMDS key ever."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.simserver import Sim, free_range, fresh_database_url
from tests.test_keyvault_secrets import Env, claims_of, unique

MI_API = "api-version=2023-01-31"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def _sim(tmp_path: Path, fmt: str) -> Sim:
    return Sim(home=tmp_path / "sim", database_url=fresh_database_url(), vault_ports=free_range(4),
               extra_env={"ARM_SIM_LRO": "sync", "ARM_SIM_LOG_LEVEL": "info", "ARM_SIM_LOG_FORMAT": fmt}).start()


@pytest.fixture
def json_sim(tmp_path: Path) -> Iterator[Sim]:
    sim = _sim(tmp_path, "json")
    yield sim
    sim.stop()


def _log(sim: Sim) -> str:
    return (sim.home / "server.log").read_text()


def _lines(sim: Sim) -> list[dict[str, Any]]:
    out = []
    for line in _log(sim).splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def _wait_for(sim: Sim, found: Any) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        lines = _lines(sim)
        if found(lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def test_requests_denials_and_lifecycle_effects_are_logged_without_secrets(json_sim: Sim) -> None:
    sim = json_sim
    env = Env(sim)
    try:
        group = f"/subscriptions/{sim.subscription}/resourceGroups/{env.rg}"
        # a denied call: an application with no role reads the group
        with sim.http() as arm:
            app = arm.post("/_sim/applications", json={"displayName": "nobody"}).json()
        outsider = httpx.post(f"{sim.url}/{sim.tenant}/oauth2/v2.0/token", verify=sim.ca, data={
            "grant_type": "client_credentials", "client_id": app["appId"], "client_secret": app["clientSecret"],
            "scope": "https://management.azure.com/.default"}).json()["access_token"]
        with sim.http(outsider) as arm:
            assert arm.get(f"{group}?api-version=2025-04-01").status_code == 403
        # a secret written and read
        vault = env.vault()
        value = "the-secret-value-" + uuid.uuid4().hex
        with env.secrets(vault.properties.vault_uri) as secrets:
            secrets.set_secret("greeting", value)
            assert secrets.get_secret("greeting").value == value
        # a user-assigned identity with a role assignment, then deleted: its grant is left behind
        uai = f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{unique('uai-')}"
        with sim.http() as arm:
            r = arm.put(f"{uai}?{MI_API}", json={"location": "eastus"})
            assert r.status_code in (200, 201), r.text
            principal = r.json()["properties"]["principalId"]
            env.assign(group, READER, principal)
            assert arm.delete(f"{uai}?{MI_API}").status_code == 200
            # a query secret is never shown (a made-up parameter stands for any that is not on the list)
            arm.get(f"/_sim/health?sig=query-secret-{value}")
    finally:
        env.close()
    lines = _wait_for(sim, lambda ls: any(x.get("kind") == "grant.orphaned" for x in ls))
    requests = [x for x in lines if x.get("type") == "request"]
    denied = [x for x in requests if x["status"] == 403]
    assert denied and denied[0]["missing"] == "Microsoft.Resources/subscriptions/resourceGroups/read", denied
    assert denied[0]["principal"] == app["servicePrincipalObjectId"] and denied[0]["method"] == "GET"
    assert denied[0]["path"].startswith(f"{group}?api-version=") and denied[0]["ms"] >= 0
    reads = [x for x in requests if x["listener"] in ("vaults", "main") and "/secrets/greeting" in x["path"]]
    assert any(x["status"] == 200 and x["method"] == "GET" and x["principal"] == env.deployer_oid for x in reads)
    challenge = [x for x in requests if x["status"] == 401]
    assert challenge and "challenge" in challenge[0]["note"], challenge  # Key Vault's first answer, not an error
    assert any("sig=***" in x["path"] for x in requests)
    kinds = {(x["kind"], x["subject"]) for x in lines if x.get("type") == "lifecycle"}
    assert ("servicePrincipal.created", principal) in kinds and ("servicePrincipal.deleted", principal) in kinds
    orphan = [x for x in lines if x.get("kind") == "grant.orphaned"]
    assert orphan[0]["principalId"] == principal and orphan[0]["role"] == "Reader", orphan
    assert any(x.get("kind") == "credential.issued" for x in lines)
    text = _log(sim)
    for secret in (sim.client_secret, app["clientSecret"], value, outsider, outsider.split(".")[1]):
        assert secret not in text


def test_text_lines_and_imds_keys_stay_out(tmp_path: Path) -> None:
    sim = _sim(tmp_path, "text")
    try:
        token = sim.token()
        with sim.http(token) as arm:
            arm.get("/_sim/clock")
        for prefix in ("/vms/", "//vms/"):  # (`//vms/…` is served as `/vms/…`: found in review, it was logged)
            httpx.get(f"{sim.imds_url}{prefix}not-a-real-key-{uuid.uuid4().hex}/metadata/identity/oauth2/token",
                      params={"resource": "https://vault.azure.net", "api-version": "2018-02-01"},
                      headers={"Metadata": "true"})
        forged = "e30." + base64.urlsafe_b64encode(json.dumps({"oid": "x\nFORGED lifecycle"}).encode()).decode() + ".x"
        httpx.get(f"{sim.url}/_sim/clock", headers={"Authorization": f"Bearer {forged}"}, verify=sim.ca)
        oid = claims_of(token)["oid"]
        deadline = time.monotonic() + 10
        while "/vms/***/" not in _log(sim) and time.monotonic() < deadline:
            time.sleep(0.1)
        text = _log(sim)
        line = next(x for x in text.splitlines() if "GET /_sim/clock " in x)
        assert re.search(rf"GET /_sim/clock 200 [0-9.]+ms caller={oid} appid={sim.client_id}$", line), line
        assert "/vms/***/metadata/identity/oauth2/token?" in text and "not-a-real-key" not in text
        assert token not in text and sim.client_secret not in text
        assert not any(x.startswith("FORGED") for x in text.splitlines())  # an unverified claim cannot forge a line
    finally:
        sim.stop()
