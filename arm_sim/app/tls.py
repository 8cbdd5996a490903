"""The simulator's own CA and server certificate, made on first start and reused after.

Clients must trust `ca.pem` (or `ca-bundle.pem`: the CA followed by the usual public roots, safe to use
as REQUESTS_CA_BUNDLE). MSAL and azure-core refuse bearer tokens over plain HTTP, so TLS is required.
"""

from __future__ import annotations

import ipaddress
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from arm_sim.core.hosts import AKS_OIDC_DOMAIN, AZURE_HOSTS, GITHUB_OIDC_HOST, IMDS_ADDRESS, VAULT_DOMAIN, name_host
from arm_sim.core.private import private_home, write_public


def _write(path: Path, data: bytes, private: bool = False) -> None:
    if private:  # 0600 from creation: the home's umask (core/private.py)
        path.write_bytes(data)
        os.chmod(path, 0o600)  # (a key file an older arm-sim made more widely readable)
    else:
        write_public(path, data)


def _sans(*hosts: str) -> list[x509.GeneralName]:
    """localhost and the loopback addresses, and each of `hosts` (a name or an address; a wildcard listen address
    such as 0.0.0.0 names no host and is left out). Ports play no part: a certificate holds for every port."""
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                     x509.IPAddress(ipaddress.ip_address("::1"))]
    for host in hosts:
        host = host.strip().strip("[]")
        name: x509.GeneralName
        try:
            ip = ipaddress.ip_address(host)
            if ip.is_unspecified:
                continue
            name = x509.IPAddress(ip)
        except ValueError:
            if not host:
                continue
            name = x509.DNSName(host.lower())
        if name not in names:
            names.append(name)
    return names


# Azure's host names arm-sim answers for in its proxy mode (and IMDS's address): with the local names, all the CA
# may ever vouch for. Its critical name constraints make any other certificate it signed fail verification.


def _served_names(public_host: str) -> list[x509.GeneralName]:
    """The names the main listener answers for beyond its own: Azure's (through the proxy, which relays the TLS
    stream to it) and every vault's by name (`{name}.vault.azure.net`, `{name}.vault.{public host}`)."""
    names = [*sorted(AZURE_HOSTS), f"*.{VAULT_DOMAIN}", f"*.vault.{name_host(public_host)}", GITHUB_OIDC_HOST,
             f"*.{AKS_OIDC_DOMAIN}"]
    return [x509.DNSName(h) for h in names]


def _permitted(sans: list[x509.GeneralName]) -> list[x509.GeneralName]:
    """The CA's permitted subtrees: the server's names (addresses as single-address networks) and Azure's."""
    out: list[x509.GeneralName] = []
    for name in [*sans, *(x509.DNSName(h) for h in (*sorted(AZURE_HOSTS), VAULT_DOMAIN, GITHUB_OIDC_HOST,
                                                    AKS_OIDC_DOMAIN)),
                 x509.IPAddress(ipaddress.ip_address(IMDS_ADDRESS))]:
        if isinstance(name, x509.IPAddress) and isinstance(name.value, ipaddress.IPv4Address | ipaddress.IPv6Address):
            name = x509.IPAddress(ipaddress.ip_network(name.value))
        if name not in out:
            out.append(name)
    return out


def _constrains_to(ca: x509.Certificate, permitted: list[x509.GeneralName]) -> bool:
    """Whether the CA carries critical name constraints that permit all of `permitted`."""
    try:
        ext = ca.extensions.get_extension_for_class(x509.NameConstraints)
    except x509.ExtensionNotFound:
        return False
    return ext.critical and set(permitted) <= set(ext.value.permitted_subtrees or ())


def ensure(home: Path, public_host: str, *also: str) -> tuple[Path, Path]:
    """Create the CA and a server certificate if missing, or if it does not name `public_host` and `also` (e.g. the
    listen address), or expires within 30 days.

    Returns (server cert chain PEM, server key PEM)."""
    private_home(home)
    ca_cert_path, ca_key_path = home / "ca.pem", home / "ca-key.pem"
    cert_path, key_path = home / "server.pem", home / "server-key.pem"
    now = datetime.now(UTC)
    own = _sans(public_host, *also)
    permitted = _permitted(own)  # (a wildcard is no subtree: `*.vault.localhost` lies under `localhost`)
    wanted = [*own, *_served_names(public_host)]
    stale = ca_cert_path.exists() and not _constrains_to(x509.load_pem_x509_certificate(ca_cert_path.read_bytes()),
                                                         permitted)
    if stale or not ca_cert_path.exists() or not ca_key_path.exists():  # (a new name, or a CA of older arm-sim)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "arm-sim local CA"),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "arm-sim")])
        ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ca_key.public_key())
              .serial_number(uuid.uuid4().int >> 1).not_valid_before(now - timedelta(days=1))
              .not_valid_after(now + timedelta(days=3650))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                           content_commitment=False, key_encipherment=False,
                                           data_encipherment=False, key_agreement=False, encipher_only=False,
                                           decipher_only=False), critical=True)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
              .add_extension(x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None),
                             critical=True)
              .sign(ca_key, hashes.SHA256()))
        _write(ca_key_path, ca_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()), private=True)
        _write(ca_cert_path, ca.public_bytes(serialization.Encoding.PEM))
        cert_path.unlink(missing_ok=True)
    ca = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
    # ca-key.pem is the CA's signing key (written above): load_pem_private_key is typed for any private key
    issuer_key = cast(CertificateIssuerPrivateKeyTypes,
                      serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None))
    if cert_path.exists():
        current = x509.load_pem_x509_certificate(cert_path.read_bytes())
        sans = current.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        if set(wanted) <= set(sans) and current.not_valid_after_utc > now + timedelta(days=30):
            _write_bundle(home, ca_cert_path)
            return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(uuid.uuid4().int >> 1)
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=825))
            .add_extension(x509.SubjectAlternativeName(wanted), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            # Certificate.public_key() is typed for any certificate key; a CA's is one that can issue
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()),  # type: ignore[arg-type]
                           critical=False)
            .sign(issuer_key, hashes.SHA256()))
    _write(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()), private=True)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM) + ca_cert_path.read_bytes())
    _write_bundle(home, ca_cert_path)
    return cert_path, key_path


def _write_bundle(home: Path, ca_cert_path: Path) -> None:
    """ca-bundle.pem: our CA plus certifi's (or the system's) roots, so REQUESTS_CA_BUNDLE can point at it."""
    roots = b""
    try:
        import certifi

        roots = Path(certifi.where()).read_bytes()
    except ImportError:
        system = Path("/etc/ssl/certs/ca-certificates.crt")
        roots = system.read_bytes() if system.exists() else b""
    bundle = ca_cert_path.read_bytes() + b"\n" + roots
    target = home / "ca-bundle.pem"
    if not target.exists() or target.read_bytes() != bundle:
        _write(target, bundle)
