"""The CA users are told to trust can vouch only for arm-sim's own names: critical name constraints permit
localhost, the loopback addresses, the public host and Azure's host names of the proxy mode. A certificate it signs
for any other name fails verification in the system's TLS stack (OpenSSL, through Python's ssl)."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

from arm_sim.app import tls


def _leaf(home: Path, host: str, out: Path) -> tuple[Path, Path]:
    """A server certificate for `host`, signed with the CA's own key (as someone holding ca-key.pem could)."""
    ca = x509.load_pem_x509_certificate((home / "ca.pem").read_bytes())
    ca_key = cast(CertificateIssuerPrivateKeyTypes,
                  serialization.load_pem_private_key((home / "ca-key.pem").read_bytes(), password=None))
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(uuid.uuid4().int >> 1)
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = out / f"{host}.pem", out / f"{host}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _handshake(cert: Path, key: Path, ca: Path, host: str) -> None:
    """A TLS handshake to a local server presenting `cert`, as a client that trusts only `ca` and asks for `host`."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with server_ctx.wrap_socket(conn, server_side=True) as tls_conn:
                tls_conn.recv(1)
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        client_ctx = ssl.create_default_context(cafile=str(ca))
        with socket.create_connection(("127.0.0.1", port)) as raw, \
                client_ctx.wrap_socket(raw, server_hostname=host) as conn:
            conn.sendall(b"x")
    finally:
        listener.close()
        thread.join(5)


def test_the_ca_vouches_only_for_arm_sims_names(tmp_path: Path) -> None:
    home = tmp_path / "home"
    tls.ensure(home, "sim.example.test")
    ca = x509.load_pem_x509_certificate((home / "ca.pem").read_bytes())
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    permitted = set(constraints.value.permitted_subtrees or ())
    assert {x509.DNSName("localhost"), x509.DNSName("sim.example.test"), x509.DNSName("management.azure.com"),
            x509.DNSName("vault.azure.net"), x509.IPAddress(ipaddress.ip_network("127.0.0.1/32")),
            x509.IPAddress(ipaddress.ip_network("::1/128"))} <= permitted
    assert not any(isinstance(n, x509.DNSName) and n.value in ("", "com", "example.com") for n in permitted)

    # a name within the constraints verifies; any other is refused by OpenSSL, whoever signed it with the CA's key
    _handshake(*_leaf(home, "kv1.vault.azure.net", tmp_path), home / "ca.pem", "kv1.vault.azure.net")
    with pytest.raises(ssl.SSLCertVerificationError, match="permitted subtree violation"):
        _handshake(*_leaf(home, "www.example.com", tmp_path), home / "ca.pem", "www.example.com")


def test_the_ca_is_renewed_only_for_a_name_it_does_not_permit(tmp_path: Path) -> None:
    home = tmp_path / "home"
    tls.ensure(home, "localhost")
    before = (home / "ca.pem").read_bytes()
    tls.ensure(home, "localhost")
    assert (home / "ca.pem").read_bytes() == before  # a CA that already permits the names is kept
    tls.ensure(home, "another.example.test")  # a new public host: the CA must permit it, so a new CA
    renewed = x509.load_pem_x509_certificate((home / "ca.pem").read_bytes())
    assert x509.DNSName("another.example.test") in set(
        renewed.extensions.get_extension_for_class(x509.NameConstraints).value.permitted_subtrees or ())
