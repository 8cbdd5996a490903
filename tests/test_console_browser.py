"""The console (`/_sim/console/`) in a real browser: Playwright for Python driving the system Chromium (Debian's
`chromium`, never a downloaded one) through the seed story against a live server, checking what the page shows.

`make browser` runs it; `make screenshots` runs it with ARM_SIM_SCREENSHOTS=docs/images, which saves the graph,
timeline and explain views as PNGs. Without Playwright or Chromium it is skipped (the CI installs both)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.simserver import Sim, fresh_database_url
from tests.test_federation import GITHUB, MSI_API, assertion, exchange, federate
from tests.test_imds import identities
from tests.test_keyvault_secrets import (
    Env,
    claims_of,
    unique,
)


@pytest.fixture(scope="module", name="env")
def _env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """The module's simulator; its directory replicates new principals in an hour of simulated time, so the clock
    view has replication to show."""
    sim = Sim(home=tmp_path_factory.mktemp("console"), database_url=fresh_database_url(),
              extra_env={"ARM_SIM_LRO": "sync", "ARM_SIM_DIRECTORY_DELAY": "3600"}).start()
    e = Env(sim)
    yield e
    e.close()
    sim.stop()


pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("ARM_SIM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]
SHOTS = os.environ.get("ARM_SIM_SCREENSHOTS")


def _missing(why: str) -> None:
    if os.environ.get("ARM_SIM_REQUIRE_BROWSER"):  # `make browser`: a missing browser fails, never skips
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright import sync_api
    except ImportError:
        _missing("Playwright is not installed (pip install -e '.[playwright]')")
    if not Path(CHROMIUM).exists():
        _missing(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def link(env: Env) -> str:
    with env.sim.http() as arm:
        r = arm.post("/_sim/console/links", json={})
    assert r.status_code == 200, r.text
    return str(r.json()["url"])


def imds_token(env: Env, vm_id: str) -> str:
    """A token of the VM's identity from its IMDS (which also issues its first certificate)."""
    ep = env.endpoint(vm_id)
    r = httpx.get(f"{ep['endpoint']}/metadata/identity/oauth2/token", headers={"Metadata": "true"},
                  params={"api-version": "2018-02-01", "resource": "https://vault.azure.net"})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"console-{name}.png"), full_page=True)


def tab(page: Any, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def test_one_time_link_is_accepted_once(env: Env) -> None:
    url = link(env)
    assert "#code=" in url and env.sim.client_secret not in url
    code = url.split("#code=")[1]
    with httpx.Client(base_url=env.sim.url, verify=env.sim.ca) as http:
        first = http.post("/_sim/console/session", json={"code": code})
        assert first.status_code == 200, first.text
        assert claims_of(first.json()["accessToken"])["appid"] == env.sim.client_id
        assert env.sim.client_secret not in first.text
        again = http.post("/_sim/console/session", json={"code": code})
        assert again.status_code == 401 and again.json()["error"]["code"] == "InvalidConsoleLink"
        page = http.get("/_sim/console/")
        assert page.status_code == 200 and "arm-sim console" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert http.get("/_sim/console/..%2Fconsole.py").status_code == 404
    # `arm-sim serve` printed a link when it was ready, and `arm-sim console` prints a new one
    # (the server's output is a log file here, not a terminal: it names the console but prints no code, which is
    # a credential)
    printed = re.findall(r"^arm-sim console (\S+) \(sign in with", (env.sim.home / "server.log").read_text(), re.M)
    assert printed and printed[-1] == f"{env.sim.url}/_sim/console/"
    assert "#code=" not in (env.sim.home / "server.log").read_text()
    done = env.sim.cli("console")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{env.sim.url}/_sim/console/#code=") and done.stdout.strip() != url


def test_the_seed_story_in_the_console(env: Env, browser: Any) -> None:
    name = unique("web")
    vm = env.vm(name, identities("SystemAssigned"))
    first = vm.identity.principal_id
    vault = env.vault([env.policy(env.deployer_oid, ("all",)), env.policy(first, ("get",))])
    first_token = imds_token(env, vm.id)  # its first certificate
    with env.secrets(vault.properties.vault_uri) as secrets:
        secrets.set_secret("greeting", "hello, web")
    with httpx.Client(base_url=vault.properties.vault_uri, verify=env.sim.ca) as kv:  # as the SDK does it:
        assert kv.get("/secrets/greeting", params={"api-version": "7.5"}).status_code == 401  # the challenge, then
        read = kv.get("/secrets/greeting", params={"api-version": "7.5"},
                      headers={"Authorization": f"Bearer {first_token}"})
        assert read.status_code == 200, read.text
    group = f"/subscriptions/{env.sim.subscription}/resourceGroups/{env.rg}"

    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(link(env))
    graph = page.locator("#graph")
    page.locator("#graph-scope").select_option(group)

    # the graph: the VM → its principal (objectId, appId) → its certificate → the vault's access-policy entry
    vm_node = graph.locator(".node.resource", has_text=name)
    vm_node.wait_for()
    principal = graph.locator(".node.principal", has_text=first)
    assert "system-assigned" in principal.inner_text() and "appId " in principal.inner_text()
    cert = graph.locator(".node.credential").first
    assert "signs now" in cert.inner_text() and "next rotation" in cert.inner_text()
    policy = graph.locator(".node.grant", has_text=f"vault {vault.name}")
    assert "secrets get" in policy.inner_text()
    principal.click()
    assert first in page.locator("#node-json").inner_text()  # the node's JSON
    assert page.url.endswith("/_sim/console/")  # the one-time code is gone from the address bar

    # what if I delete it? the answer of the real delete, rolled back: the principal goes, the entry stays orphaned
    graph.locator(f"button.whatif[data-resource='{vm.id}']").click()
    whatif = page.locator(f"#whatif-result .summary[data-resource='{vm.id}']")
    whatif.wait_for()
    text = whatif.inner_text()
    assert f"Deleting {name} would:" in text and f"delete principal {name} {first}" in text
    assert f"ORPHANED access policy on vault {vault.name}: secrets get" in text
    assert "nothing has changed" in text
    shot(page, "whatif")
    page.locator("#graph-refresh").click()
    graph.locator(".node.principal", has_text=first).wait_for()  # still there
    assert graph.locator(".node.orphan", has_text=first).count() == 0

    # delete the VM: its principal goes, the vault's entry stays behind as an orphan (graph and timeline)
    env.compute.virtual_machines.begin_delete(env.rg, name).result()
    page.locator("#graph-refresh").click()
    orphan = graph.locator(".node.orphan", has_text=first)
    orphan.wait_for()
    text = orphan.inner_text()
    assert "ORPHANED" in text and f"access policy on vault {vault.name}" in text and f"{name}'s identity" in text
    assert graph.locator(".node.principal", has_text=first).count() == 0
    assert graph.locator(".node.resource", has_text=name).count() == 0

    tab(page, "Timeline")
    page.locator("#tl-status", has_text="live (stream)").wait_for()  # the stream, not polling
    page.locator("#tl-resource").fill(name)
    rows = page.locator("#timeline tbody tr")
    page.locator("#timeline tbody tr[data-kind='grant.orphaned']").first.wait_for()
    timeline = page.locator("#timeline").inner_text()
    assert "servicePrincipal.deleted" in timeline and "servicePrincipal.created" in timeline
    assert "credential.issued" in timeline  # filed under the appId, found through the VM all the same
    orphaned_rows = page.locator("#timeline tbody tr[data-kind='grant.orphaned']")
    orphaned = orphaned_rows.first.inner_text()
    assert "ORPHANED" in orphaned and first[:8] in orphaned and "access policy on vault" in orphaned
    assert orphaned_rows.count() == 1  # the one stored event for the one entry, shown once
    assert rows.count() > 3
    page.locator("#tl-hide-tokens").check()
    shot(page, "timeline")
    page.locator("#tl-resource").fill("")
    page.locator("#tl-hide-tokens").uncheck()
    page.locator("#tl-kind").fill("token.rejected")
    challenge = page.locator("#timeline tbody tr.handshake").first.inner_text()
    assert "challenge (handshake)" in challenge and "normal handshake" in challenge
    page.locator("#tl-kind").fill("")

    # the same name again: a new principal; explain names the entry of its previous identity
    again = env.vm(name, identities("SystemAssigned")).identity.principal_id
    assert again != first
    tab(page, "Explain")
    page.locator("#graph-refresh").evaluate("b => b.click()")  # (the principal list follows the graph)
    page.locator("#ex-principal").fill(again)
    page.locator("#ex-action").fill("secrets/get")
    page.locator("#ex-scope").fill(vault.id)
    page.get_by_role("button", name="Explain").click()
    result = page.locator("#explain-result")
    result.locator(".decision").wait_for()
    text = result.inner_text()
    assert "DENIED: secrets/get" in text and "access policies" in text
    assert f"Near miss: an entry grants secrets get to {first}: {name}'s previous identity" in text
    assert "you are its new one" in text

    # the same question from the request it answers: the new identity's refused read, one click away
    again_token = imds_token(env, vm.id)  # (also the new identity's first certificate)
    with httpx.Client(base_url=vault.properties.vault_uri, verify=env.sim.ca) as kv:
        assert kv.get("/secrets/greeting", params={"api-version": "7.5"},
                      headers={"Authorization": f"Bearer {again_token}"}).status_code == 403
    page.locator("#ex-action").fill("")
    page.locator("#ex-scope").fill("")
    page.locator("#explain-result").evaluate("e => e.replaceChildren()")
    page.locator("#denials-refresh").click()
    denial = page.locator("#denials li", has_text=f"lacks secrets get at {vault.name}").first
    denial.wait_for()
    assert name in denial.inner_text() and "→ 403" in denial.inner_text() and again_token not in page.content()
    denial.get_by_role("link", name="explain it").click()
    result.locator(".decision").wait_for()
    assert page.locator("#ex-principal").input_value() == again
    assert page.locator("#ex-action").input_value() == "secrets/get"
    assert page.locator("#ex-scope").input_value() == vault.id
    assert f"Near miss: an entry grants secrets get to {first}: {name}'s previous identity" in result.inner_text()
    shot(page, "explain")

    # a workload's refused federated exchange: the credential that came closest and the field that differed
    with env.sim.http() as arm:
        uai = arm.put(f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{unique('wi-')}",
                      params={"api-version": MSI_API}, json={"location": "eastus"}).json()
        main = f"repo:contoso/{unique('app-')}:ref:refs/heads/main"
        federate(arm, uai, GITHUB, main, name="github-main")
        feature = main.replace("refs/heads/main", "refs/heads/feature")
        assert exchange(env.sim, uai["properties"]["clientId"], assertion(arm, GITHUB, feature)).status_code == 401
    page.locator("#fed-identity").fill(uai["name"])
    page.get_by_role("button", name="Show exchanges").click()
    refusal = page.locator("#federation-exchanges tr[data-kind='federation.refused']").first
    refusal.wait_for()
    text = refusal.inner_text()
    assert "REFUSED" in text and "AADSTS700213" in text and f"sub={feature}" in text
    assert f"closest: github-main; differs on subject: the credential has \"{main}\"" in text
    tab(page, "Identity graph")  # the new principal beside the orphaned entry of the old one
    graph.locator(".node.principal", has_text=again).wait_for()
    assert graph.locator(".node.orphan", has_text=first).count() == 1
    shot(page, "graph")

    # advance the clock 46 days: the new identity's certificate rolls, and the console says old → new; the new
    # principal, still replicating before, is visible to role assignments after
    with env.sim.http() as arm:
        before = arm.get("/_sim/graph", params={"scope": group}).json()
    old = next(c["thumbprint"] for r in before["resources"] if r["name"] == name for p in r["principals"]
               for c in p["credentials"] if c["signs"])
    tab(page, "Clock")
    pending = page.locator("#clock-replication tr.pending", has_text=again)
    pending.wait_for()
    assert "Replicated at" in page.locator("#clock-replication").inner_text()
    clock_before = page.locator("#clock-now").inner_text()
    page.get_by_role("button", name="+46 days").click()
    rolled = page.locator("#clock-summary li.rolled", has_text=old)
    rolled.wait_for()
    with env.sim.http(env.sim.token()) as arm:  # (a fresh token: the clock has moved past the last one)
        after = arm.get("/_sim/graph", params={"scope": group}).json()
    new = next(c["thumbprint"] for r in after["resources"] if r["name"] == name for p in r["principals"]
               for c in p["credentials"] if c["signs"])
    assert new != old
    text = rolled.inner_text()
    assert re.search(rf"old certificate {old} → new certificate {new}", text), text
    assert "signs now" in text and page.locator("#clock-now").inner_text() != clock_before
    assert "must sign in again" in page.locator("#clock-summary").inner_text()
    assert f"Replication finished: {name} {again}" in page.locator("#clock-summary li.replicated",
                                                                   has_text=again).inner_text()
    assert page.locator("#clock-replication tr.pending").count() == 0
    assert new in page.locator("#clock-due").inner_text()

    # tokens: the first identity's token, decoded; its oid and xms_mirid named (the principal deleted)
    tab(page, "Tokens")
    page.locator("#token-input").fill(first_token)
    page.get_by_role("button", name="Decode").click()
    claims = page.locator("#token-claims")
    claims.wait_for()
    assert f"resource {name}" in claims.locator("tr[data-claim='xms_mirid']").inner_text()
    oid_row = claims.locator("tr[data-claim='oid']").inner_text()
    assert first in oid_row and "deleted" in oid_row
    assert "expired" in page.locator("#token-result").inner_text()  # 46 days later
    assert env.sim.client_secret not in page.content()
    context.close()


def test_sign_in_with_the_bootstrap_credential(env: Env, browser: Any) -> None:
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    page.goto(f"{env.sim.url}/_sim/console/")
    page.locator("#login-tenant").fill(env.sim.tenant)
    page.locator("#login-client").fill(env.sim.client_id)
    page.locator("#login-secret").fill(env.sim.client_secret)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#who").filter(has_text=env.sim.subscription).wait_for()
    assert page.locator("#login").is_hidden()
    assert env.sim.client_secret not in page.content()
    assert page.evaluate("JSON.stringify(sessionStorage)").find(env.sim.client_secret) == -1
    context.close()
