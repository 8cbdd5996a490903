"""The X.509 side of Key Vault certificates, with `cryptography`: subjects in Key Vault's `CN=…, O=…` form,
self-signed certificates and CSRs made from a policy, PFX/PEM parsing on import, the managed secret's value.

Nothing here touches the database; private keys and passwords never leave these functions except as the values
the caller stores.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import datetime as dt
import hashlib
import ipaddress
import re
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from arm_sim.domain.keypool import POOL
from arm_sim.domain.vault_cert_policy import PEM, PKCS12
from arm_sim.domain.vault_secrets import bad_parameter

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
UPN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")  # Microsoft's user principal name (otherName)
_CURVES: dict[str, ec.EllipticCurve] = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1(),
                                        "P-256K": ec.SECP256K1()}
_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521", "secp256k1": "P-256K"}
_HASH_FOR_CURVE: dict[str, hashes.HashAlgorithm] = {"P-256": hashes.SHA256(), "P-256K": hashes.SHA256(),
                                                   "P-384": hashes.SHA384(), "P-521": hashes.SHA512()}
_ATTRS = {"CN": NameOID.COMMON_NAME, "O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
          "L": NameOID.LOCALITY_NAME, "ST": NameOID.STATE_OR_PROVINCE_NAME, "S": NameOID.STATE_OR_PROVINCE_NAME,
          "C": NameOID.COUNTRY_NAME, "E": NameOID.EMAIL_ADDRESS, "EMAILADDRESS": NameOID.EMAIL_ADDRESS,
          "DC": NameOID.DOMAIN_COMPONENT, "STREET": NameOID.STREET_ADDRESS, "SERIALNUMBER": NameOID.SERIAL_NUMBER,
          "T": NameOID.TITLE, "G": NameOID.GIVEN_NAME, "SN": NameOID.SURNAME}
_SHORT = {NameOID.COMMON_NAME: "CN", NameOID.ORGANIZATION_NAME: "O", NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
          NameOID.LOCALITY_NAME: "L", NameOID.STATE_OR_PROVINCE_NAME: "S", NameOID.COUNTRY_NAME: "C",
          NameOID.EMAIL_ADDRESS: "E", NameOID.DOMAIN_COMPONENT: "DC", NameOID.STREET_ADDRESS: "STREET",
          NameOID.SERIAL_NUMBER: "SERIALNUMBER", NameOID.TITLE: "T", NameOID.GIVEN_NAME: "G", NameOID.SURNAME: "SN"}
_USAGE_FIELDS = {"digitalSignature": "digital_signature", "nonRepudiation": "content_commitment",
                 "keyEncipherment": "key_encipherment", "dataEncipherment": "data_encipherment",
                 "keyAgreement": "key_agreement", "keyCertSign": "key_cert_sign", "cRLSign": "crl_sign",
                 "encipherOnly": "encipher_only", "decipherOnly": "decipher_only"}
_RDN_SPLIT = re.compile(r"[,;](?=\s*[A-Za-z][A-Za-z0-9.]*\s*=)")  # a separator followed by the next `KEY=`
PEM_UNREADABLE = ("The specified PEM X.509 certificate content is in an unexpected format. Please check if "
                  "certificate is in valid PEM format.")
PFX_UNREADABLE = ("The specified PKCS#12 X.509 certificate content can not be read. Please check if certificate "
                  "is in valid PKCS#12 format.")
NO_PRIVATE_KEY = ("Private key is not specified in the specified X.509 PEM certificate content. Please specify "
                  "private key in the X.509 PEM certificate content.")


@dataclass
class Material:
    """A certificate with its private key and the rest of its chain."""

    key: PrivateKey
    leaf: x509.Certificate
    chain: list[x509.Certificate]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def x5t(cer_b64: str) -> str:
    """The certificate's SHA-1 thumbprint, base64url (Key Vault's `x5t`)."""
    return b64url(hashlib.sha1(base64.b64decode(cer_b64)).digest())  # noqa: S324 - X.509 thumbprints are SHA-1


# --- subjects -------------------------------------------------------------------------------------------------

def parse_subject(text: str) -> x509.Name:
    attrs: list[x509.NameAttribute[str]] = []
    for part in _RDN_SPLIT.split(text):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        oid = _ATTRS.get(key.strip().upper())
        if not sep or oid is None or not value.strip():
            raise bad_parameter(f"The subject name '{text}' is invalid: expected attributes such as "
                                "'CN=example.com, O=Contoso'.")
        try:
            attrs.append(x509.NameAttribute(oid, value.strip()))
        except ValueError as e:
            raise bad_parameter(f"The subject name '{text}' is invalid: {key.strip()}={value.strip()}.") from e
    return x509.Name(attrs)


def subject_text(name: x509.Name) -> str:
    return ", ".join(f"{_SHORT.get(a.oid, a.oid.dotted_string)}={a.value!s}" for a in name)


# --- keys -----------------------------------------------------------------------------------------------------

def generate_key(key_props: dict[str, Any]) -> PrivateKey:
    if str(key_props["kty"]).startswith("RSA"):
        size = int(key_props["key_size"])
        return POOL.take() if size == 2048 else rsa.generate_private_key(public_exponent=65537, key_size=size)
    return ec.generate_private_key(_CURVES[key_props["crv"]])


def private_pem(key: PrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def load_private_pem(pem: str) -> PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None, unsafe_skip_rsa_key_validation=True)
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    return key


def key_props_of(key: PrivateKey, exportable: bool = True) -> dict[str, Any]:
    """The policy's key_props as an imported key has them."""
    if isinstance(key, rsa.RSAPrivateKey):
        return {"exportable": exportable, "kty": "RSA", "key_size": key.key_size, "reuse_key": False}
    crv = _CURVE_NAMES.get(key.curve.name, key.curve.name)
    return {"exportable": exportable, "kty": "EC", "key_size": key.curve.key_size, "crv": crv, "reuse_key": False}


def _signature_hash(key: PrivateKey) -> hashes.HashAlgorithm:
    if isinstance(key, rsa.RSAPrivateKey):
        return hashes.SHA256()
    return _HASH_FOR_CURVE[_CURVE_NAMES.get(key.curve.name, "P-256")]


# --- certificates from a policy -------------------------------------------------------------------------------

def _add_months(when: dt.datetime, months: int) -> dt.datetime:
    month = when.month - 1 + months
    year, month = when.year + month // 12, month % 12 + 1
    return when.replace(year=year, month=month, day=min(when.day, calendar.monthrange(year, month)[1]))


def _utf8_der(text: str) -> bytes:
    raw = text.encode()
    if len(raw) < 128:
        return bytes([0x0C, len(raw)]) + raw
    length = len(raw).to_bytes((len(raw).bit_length() + 7) // 8, "big")
    return bytes([0x0C, 0x80 | len(length)]) + length + raw


def _sans(x509_props: dict[str, Any]) -> list[x509.GeneralName]:
    sans = x509_props.get("sans") or {}
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in sans.get("dns_names", [])]
    names += [x509.RFC822Name(e) for e in sans.get("emails", [])]
    names += [x509.OtherName(UPN_OID, _utf8_der(u)) for u in sans.get("upns", [])]
    names += [x509.UniformResourceIdentifier(u) for u in sans.get("uris", [])]
    try:
        names += [x509.IPAddress(ipaddress.ip_address(i)) for i in sans.get("ipAddresses", [])]
    except ValueError as e:
        raise bad_parameter("The parameter 'policy.x509_props.sans.ipAddresses' holds an invalid IP address.") from e
    return names


def _extensions(builder: Any, x509_props: dict[str, Any]) -> Any:
    sans = _sans(x509_props)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    usage = {field: u in x509_props["key_usage"] for u, field in _USAGE_FIELDS.items()}
    if not usage["key_agreement"]:
        usage["encipher_only"] = usage["decipher_only"] = False  # only meaningful with keyAgreement
    if any(usage.values()):
        builder = builder.add_extension(x509.KeyUsage(**usage), critical=True)
    if x509_props["ekus"]:
        try:
            ekus = [x509.ObjectIdentifier(o) for o in x509_props["ekus"]]
        except ValueError as e:
            raise bad_parameter("The parameter 'policy.x509_props.ekus' must hold object identifiers such as "
                                f"{ExtendedKeyUsageOID.SERVER_AUTH.dotted_string}.") from e
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    return builder


def _policy_refused(e: Exception) -> Exception:
    # cryptography refuses names it cannot encode (non-ASCII DNS names, malformed URIs …) with ValueError
    return bad_parameter(f"The certificate policy's X.509 properties are invalid: {e}")


def self_signed(key: PrivateKey, x509_props: dict[str, Any], now: float) -> x509.Certificate:
    """The certificate the `Self` issuer makes: valid from now (simulated clock) for validity_months."""
    try:
        return _self_signed(key, x509_props, now)
    except (ValueError, TypeError) as e:
        raise _policy_refused(e) from e


def _self_signed(key: PrivateKey, x509_props: dict[str, Any], now: float) -> x509.Certificate:
    subject = parse_subject(x509_props.get("subject") or "")
    start = dt.datetime.fromtimestamp(int(now), dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
               .serial_number(uuid.uuid4().int >> 1).not_valid_before(start)
               .not_valid_after(_add_months(start, int(x509_props["validity_months"]))))
    builder = _extensions(builder, x509_props)
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
                                    critical=False)
    cert: x509.Certificate = builder.sign(key, _signature_hash(key))
    return cert


def csr(key: PrivateKey, x509_props: dict[str, Any]) -> bytes:
    """The certificate signing request Key Vault hands out for an `Unknown` issuer (DER)."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(parse_subject(x509_props.get("subject") or ""))
    try:
        request: x509.CertificateSigningRequest = _extensions(builder, x509_props).sign(key, _signature_hash(key))
    except (ValueError, TypeError) as e:
        raise _policy_refused(e) from e
    return request.public_bytes(serialization.Encoding.DER)


def x509_props_of(cert: x509.Certificate) -> dict[str, Any]:
    """The policy's x509_props as an imported certificate has them."""
    out: dict[str, Any] = {"subject": subject_text(cert.subject)}
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = {"dns_names": san.get_values_for_type(x509.DNSName),
                "emails": san.get_values_for_type(x509.RFC822Name)}
        if any(sans.values()):
            out["sans"] = {k: v for k, v in sans.items() if v}
    except x509.ExtensionNotFound:
        pass
    try:
        out["ekus"] = [o.dotted_string for o in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value]
    except x509.ExtensionNotFound:
        out["ekus"] = []
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        out["key_usage"] = [u for u, f in _USAGE_FIELDS.items()
                            if f not in ("encipher_only", "decipher_only") and getattr(ku, f)]
    except x509.ExtensionNotFound:
        out["key_usage"] = []
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    out["validity_months"] = max(1, round(days / (365.25 / 12)))
    return out


# --- import ---------------------------------------------------------------------------------------------------

def _public_der(key: Any) -> bytes:
    return bytes(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def _assemble(key: Any, certs: list[x509.Certificate], no_key: str) -> Material:
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise bad_parameter(no_key)
    mine = _public_der(key.public_key())
    leaf = next((c for c in certs if _public_der(c.public_key()) == mine), None)
    if leaf is None:
        raise bad_parameter("The private key does not match the public key of any certificate in the content.")
    return Material(key, leaf, [c for c in certs if c is not leaf])


def _from_pem(data: bytes, password: str | None) -> Material:
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as e:
        raise bad_parameter(PEM_UNREADABLE) from e
    match = re.search(rb"-----BEGIN ((?:ENCRYPTED |RSA |EC )?PRIVATE KEY)-----.*?-----END \1-----", data, re.S)
    if match is None:
        raise bad_parameter(NO_PRIVATE_KEY)
    try:
        key = serialization.load_pem_private_key(match.group(0), password=password.encode() if password else None)
    except (ValueError, TypeError) as e:
        raise bad_parameter("The private key in the PEM content could not be read: it is malformed, or encrypted "
                            "and the password ('pwd') is missing or wrong.") from e
    return _assemble(key, certs, NO_PRIVATE_KEY)


def _from_pfx(data: bytes, password: str | None) -> Material:
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password.encode() if password else None)
    except (ValueError, TypeError) as e:
        raise bad_parameter(PFX_UNREADABLE) from e
    if cert is None:
        raise bad_parameter(PFX_UNREADABLE)
    return _assemble(key, [cert, *extra],
                     "Private key is not specified in the specified PKCS#12 X.509 certificate content.")


def load_import(value: Any, password: Any) -> tuple[Material, str]:
    """The certificate a request imports, and the content type it came in (PEM text or base64 of PEM/PFX)."""
    if not isinstance(value, str) or not value.strip():
        raise bad_parameter("The parameter 'value' is required: the certificate as base64 PFX or PEM.")
    if password is not None and not isinstance(password, str):
        raise bad_parameter("The parameter 'pwd' must be a string.")
    if value.lstrip().startswith("-----BEGIN"):
        return _from_pem(value.encode(), password or None), PEM
    try:
        data = base64.b64decode(value.strip(), validate=False)
    except (binascii.Error, ValueError) as e:
        raise bad_parameter(PFX_UNREADABLE) from e
    if b"-----BEGIN" in data[:1024]:
        return _from_pem(data, password or None), PEM
    return _from_pfx(data, password or None), PKCS12


def secret_value(material: Material, content_type: str) -> str:
    """The managed secret: a PFX without password (base64), or PEM with the key first, then the chain."""
    if content_type == PEM:
        certs = [material.leaf, *material.chain]
        return private_pem(material.key) + "".join(c.public_bytes(serialization.Encoding.PEM).decode()
                                                   for c in certs)
    pfx = pkcs12.serialize_key_and_certificates(None, material.key, material.leaf, material.chain or None,
                                                serialization.NoEncryption())
    return b64(pfx)


def leaf_from_x5c(x5c: Any) -> list[x509.Certificate]:
    """The certificates a merge sends (`x5c`: base64 DER, leaf first)."""
    if not isinstance(x5c, list) or not x5c or not all(isinstance(c, str) for c in x5c):
        raise bad_parameter("The parameter 'x5c' is required: the signed certificate (and its chain) as base64 "
                            "DER strings.")
    try:
        return [x509.load_der_x509_certificate(base64.b64decode(c)) for c in x5c]
    except (binascii.Error, ValueError) as e:
        raise bad_parameter("The parameter 'x5c' holds a value that is not a base64 DER X.509 certificate.") from e


def der(cert: x509.Certificate) -> str:
    return b64(cert.public_bytes(serialization.Encoding.DER))


def times(cert: x509.Certificate) -> tuple[int, int]:
    return int(cert.not_valid_before_utc.timestamp()), int(cert.not_valid_after_utc.timestamp())


def matches(key: PrivateKey, cert: x509.Certificate) -> bool:
    return _public_der(key.public_key()) == _public_der(cert.public_key())
