"""The proxy mode and the caller's NO_PROXY (issue 20 point 4): an entry that names Azure's hosts, a vault, IMDS or
an OIDC issuer arm-sim plays (`token.actions.githubusercontent.com`, `.oic.prod-aks.azure.com`, `.azure.com`) would
send the child around the proxy to the real internet, so `arm-sim exec --proxy` and `env --proxy` remove it, keep
the other entries (loopback ones always) and say so on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from arm_sim.cli import proxy_env
from tests.simserver import Sim

_SCRUB = ("AZURE_", "IDENTITY_", "MSI_", "IMDS_", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_", "HTTP_PROXY",
          "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")
AROUND = ["token.actions.githubusercontent.com", ".oic.prod-aks.azure.com", "westeurope.oic.prod-aks.azure.com",
          ".azure.com", "*.vault.azure.net", "login.microsoftonline.com:443", "169.254.0.0/16", "githubusercontent.com"]
KEPT = ["intranet.example", "localhost:8443", "10.0.0.0/8", "db"]
# the child: what it was handed, and GitHub's issuer discovery fetched the way any HTTP client would
CHILD = """
    import json, os, requests
    doc = requests.get("https://token.actions.githubusercontent.com/.well-known/openid-configuration", timeout=30)
    print(json.dumps({"NO_PROXY": os.environ["NO_PROXY"], "no_proxy": os.environ["no_proxy"],
                      "status": doc.status_code, "jwks_uri": doc.json().get("jwks_uri")}))
"""


def test_entries_that_would_bypass_the_proxy_are_removed() -> None:
    base = {"NO_PROXY": ",".join(AROUND[:4] + KEPT[:2]), "no_proxy": ",".join(AROUND[4:] + KEPT[2:] + ["::1"])}
    assert proxy_env.dropped(base) == AROUND
    assert proxy_env.no_proxy(base).split(",") == [*KEPT, "::1", "localhost", "127.0.0.1"]
    assert proxy_env.no_proxy({"NO_PROXY": "*"}) == "localhost,127.0.0.1,::1"
    assert proxy_env.dropped({"no_proxy": "localhost,127.0.0.1,example.com"}) == []


def test_exec_proxy_hands_the_child_a_no_proxy_that_keeps_it_on_the_simulator(sim: Sim) -> None:
    env = {k: v for k, v in sim.env().items() if not k.startswith(_SCRUB)}
    env["NO_PROXY"] = ",".join([*AROUND[:4], *KEPT])
    env["no_proxy"] = ",".join(AROUND[4:])
    done = subprocess.run([sys.executable, "-m", "arm_sim", "exec", "--proxy", "--", sys.executable, "-c",
                           textwrap.dedent(CHILD)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["NO_PROXY"] == seen["no_proxy"] == ",".join([*KEPT, "localhost", "127.0.0.1", "::1"])
    # the issuer answered is arm-sim's (its discovery under GitHub's name, through the proxy)
    assert seen["status"] == 200 and seen["jwks_uri"].startswith("https://token.actions.githubusercontent.com/")
    assert f"removed from NO_PROXY/no_proxy: {', '.join(AROUND)}" in done.stderr
    assert "real internet" in done.stderr

    # env --proxy says the same on stderr, and prints only the kept entries
    printed = subprocess.run([sys.executable, "-m", "arm_sim", "env", "--proxy", "--format", "json"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["NO_PROXY"] == seen["NO_PROXY"]
    assert "removed from NO_PROXY/no_proxy" in printed.stderr
    quiet = subprocess.run([sys.executable, "-m", "arm_sim", "env", "--proxy", "--format", "json"],
                           env={**env, "NO_PROXY": "intranet.example", "no_proxy": ""}, capture_output=True,
                           text=True, timeout=60)
    assert quiet.returncode == 0 and "NO_PROXY" not in quiet.stderr, quiet.stderr
