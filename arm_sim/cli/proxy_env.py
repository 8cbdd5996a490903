"""`arm-sim env --proxy` and `exec --proxy`: the standard variables that send unmodified Azure clients to the
simulator's proxy, nothing simulator-specific.

- `HTTPS_PROXY`/`HTTP_PROXY` (and the lower-case twins: Python prefers those, curl reads only `http_proxy`). For
  code inside a VM the URL carries that VM's credential (`http://{vm}:{vmKey}@host:port`): the proxy reads it from
  `Proxy-Authorization` to know whose IMDS `http://169.254.169.254` is. The user part alone sends no header, so the
  password part is always there. A caller outside every VM gets no credential, and IMDS answers it "unreachable".
- `NO_PROXY` (and `no_proxy`, the same value): the caller's own entries of both spellings, less any that would send
  Azure's names, IMDS or the OIDC issuers arm-sim plays (`token.actions.githubusercontent.com`,
  `{region}.oic.prod-aks.azure.com`) around the proxy — `.azure.com`, `*.vault.azure.net`, `169.254.0.0/16`, `*` —
  said on stderr; plus the loopback names (the proxy refuses every host but Azure's, and local services must still
  be reached).
- The CA: `REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE` and `SSL_CERT_FILE` name one file, the simulator's CA followed by
  the bundle the caller had (or the public roots); `NODE_EXTRA_CA_CERTS` names the CA plus the caller's extra CAs.
  Replacing a bundle with the bare CA would break every other TLS peer; keeping the caller's would break ours.
- `AZURE_CORE_COLLECT_TELEMETRY=false`: the Azure CLI's telemetry would only be refused by the proxy.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import quote, urlsplit

from arm_sim.core.hosts import (
    AKS_OIDC_DOMAIN,
    AZURE_HOSTS,
    GITHUB_OIDC_HOST,
    IMDS_ADDRESS,
    VAULT_DOMAIN,
    is_issuer_host,
)

LOOPBACK = ("localhost", "127.0.0.1", "::1")
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
BUNDLE_VARS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
# What a process under the proxy must not inherit from the caller: endpoints that would bypass it.
NOT_PROXIED = ("AZURE_AUTHORITY_HOST", "AZURE_POD_IDENTITY_AUTHORITY_HOST", "IMDS_ENDPOINT", "MSI_ENDPOINT",
               "ARM_CLOUD_METADATA_URL", "AZURE_CORE_INSTANCE_DISCOVERY", "all_proxy", "ALL_PROXY")


def proxy_url(server_url: str, port: int, user: str | None = None, key: str | None = None) -> str:
    host = urlsplit(server_url).hostname or "localhost"
    host = f"[{host}]" if ":" in host else host
    auth = f"{quote(user or 'vm', safe='')}:{quote(key, safe='')}@" if key else ""
    return f"http://{auth}{host}:{port}"


# One name of each kind the proxy answers for (vaults and AKS issuers stand for their whole domains).
_SERVED = (*sorted(AZURE_HOSTS), f"x.{VAULT_DOMAIN}", GITHUB_OIDC_HOST, f"eastus.{AKS_OIDC_DOMAIN}", IMDS_ADDRESS)


def _host(entry: str) -> str:
    """A NO_PROXY entry's host part: lower case, without a leading `*`/`.` or a trailing `:port`."""
    e = entry.strip().lower().lstrip("*").lstrip(".")
    if e.startswith("["):  # [v6]:port
        return e[1:].split("]", 1)[0]
    host, colon, port = e.rpartition(":")
    return host if colon and port.isdigit() and ":" not in host else e


def _bypasses_us(entry: str) -> bool:
    """Whether a NO_PROXY entry would send one of the names the proxy answers for around it: Azure's hosts, a vault,
    IMDS, or an issuer arm-sim plays (the child would reach the real GitHub or AKS issuer instead)."""
    e = _host(entry)
    if not e:
        return True  # `*` (or an empty match-all): nothing would reach the proxy
    if e in AZURE_HOSTS or e.endswith("." + VAULT_DOMAIN) or is_issuer_host(e):
        return True
    try:  # an address or a range (169.254.0.0/16, 0.0.0.0/0) that holds IMDS's address
        if ipaddress.ip_address(IMDS_ADDRESS) in ipaddress.ip_network(e, strict=False):
            return True
    except ValueError:
        pass
    return any(n == e or n.endswith("." + e) for n in _SERVED)


def _entries(base: Mapping[str, str]) -> list[str]:
    """The caller's exemptions from both spellings (clients differ in which one they read)."""
    given = f"{base.get('NO_PROXY') or ''},{base.get('no_proxy') or ''}".split(",")
    return list(dict.fromkeys(e.strip() for e in given if e.strip()))


def dropped(base: Mapping[str, str]) -> list[str]:
    """The caller's NO_PROXY entries the proxy mode removes (loopback entries always stay)."""
    return [e for e in _entries(base) if _host(e) not in LOOPBACK and _bypasses_us(e)]


def no_proxy(base: Mapping[str, str]) -> str:
    removed = set(dropped(base))
    kept = [e for e in _entries(base) if e not in removed]
    return ",".join(dict.fromkeys([*kept, *LOOPBACK]))


def tell_dropped(base: Mapping[str, str], out: TextIO | None = None) -> None:
    """Say on stderr which of the caller's NO_PROXY entries were removed, and why (the value printed or handed to
    the command would otherwise differ from the caller's without a word)."""
    removed = dropped(base)
    if removed:
        print(f"arm-sim: removed from NO_PROXY/no_proxy: {', '.join(removed)} (requests to those names would go "
              "around the simulator's proxy to the real internet)", file=out or sys.stderr)


def _combined(target: Path, first: Path, others: list[Path]) -> str:
    """`first` followed by each readable file of `others` (once each), written to `target` (0644: certificates
    are public) only when it changed; returns its path."""
    parts = [first.read_bytes()]
    for other in dict.fromkeys(o.resolve() for o in others):
        if other.is_file() and other != target.resolve():
            parts.append(other.read_bytes())
    data = b"\n".join(p.rstrip(b"\n") + b"\n" for p in parts)
    if not target.exists() or target.read_bytes() != data:
        tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    return str(target)


def ca_files(home: Path, ca: Path, public_bundle: Path, base: Mapping[str, str]) -> tuple[str, str]:
    """(the bundle for REQUESTS_CA_BUNDLE & co, the file for NODE_EXTRA_CA_CERTS), each the CA first."""
    theirs = [Path(base[v]) for v in BUNDLE_VARS if base.get(v)]
    # (without a bundle of the caller's, the server's own ca-bundle.pem is already the CA and the public roots)
    bundle = _combined(home / "proxy-ca-bundle.pem", ca, theirs) if theirs else str(public_bundle)
    node = [Path(base["NODE_EXTRA_CA_CERTS"])] if base.get("NODE_EXTRA_CA_CERTS") else []
    return bundle, _combined(home / "proxy-node-ca.pem", ca, node)


def variables(proxy: str, bundle: str, node_ca: str, base: Mapping[str, str]) -> dict[str, str]:
    exempt = no_proxy(base)
    return {**dict.fromkeys(PROXY_VARS, proxy), "NO_PROXY": exempt, "no_proxy": exempt,
            **dict.fromkeys(BUNDLE_VARS, bundle), "NODE_EXTRA_CA_CERTS": node_ca,
            "AZURE_CORE_COLLECT_TELEMETRY": "false"}


@dataclass(frozen=True)
class Simulator:
    """Where a running simulator is: its main URL, proxy port, home and CA files, and its subscription."""

    url: str
    proxy_port: int
    home: Path
    ca: Path
    ca_bundle: Path
    subscription: str


def environment(sim: Simulator, base: Mapping[str, str], principal: tuple[str, str, str] | None,
                inside: Mapping[str, str], vm: str | None = None) -> dict[str, str]:
    """What `arm-sim env --proxy` prints and `ArmSim.proxied()` sets: the proxy, the CA files and the caller's
    credential — `principal` (tenant, client id, secret) outside a VM or site; inside one, `inside` (its identity
    endpoint variables): a VM's key goes into the proxy URL, a site's IDENTITY_ENDPOINT/HEADER stay as they are."""
    vm_host = inside.get("AZURE_POD_IDENTITY_AUTHORITY_HOST", "")
    key = vm_host.rstrip("/").rsplit("/vms/", 1)[1] if "/vms/" in vm_host else None
    bundle, node_ca = ca_files(sim.home, sim.ca, sim.ca_bundle, base)
    tell_dropped(base)
    values = variables(proxy_url(sim.url, sim.proxy_port, vm, key), bundle, node_ca, base)
    if inside:
        values |= {k: v for k, v in inside.items() if k != "AZURE_POD_IDENTITY_AUTHORITY_HOST"}
    elif principal is not None:
        values |= dict(zip(("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"), principal, strict=True))
    return values | {"AZURE_SUBSCRIPTION_ID": sim.subscription}
