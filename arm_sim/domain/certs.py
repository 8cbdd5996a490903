"""X.509 and RSA helpers shared by the key ring and identity credentials."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def load_private_pem(pem: str) -> rsa.RSAPrivateKey:
    """A key arm-sim generated and stored itself. Loading skips cryptography's RSA consistency check, which
    costs ~35 ms a key (more than generating a token with it a thousand times) and guards against hostile
    input, which our own store is not."""
    key = serialization.load_pem_private_key(pem.encode(), password=None, unsafe_skip_rsa_key_validation=True)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def self_signed(key: rsa.RSAPrivateKey, common_name: str, not_before: float, not_after: float) -> bytes:
    """A self-signed certificate (DER), the way Entra registers identity and signing certificates."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(uuid.uuid4().int >> 1)
        .not_valid_before(datetime.fromtimestamp(not_before, UTC))
        .not_valid_after(datetime.fromtimestamp(not_after, UTC))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def sha1_thumbprint(der: bytes) -> bytes:
    return hashlib.sha1(der).digest()


def sha256_thumbprint(der: bytes) -> bytes:
    return hashlib.sha256(der).digest()
