"""The real Azure CLI and Key Vault certificates: `az keyvault certificate import / create / show / list / delete
/ recover / purge` and `az keyvault secret show` on a certificate's managed secret.

az builds `https://{vault}.vault.azure.net` from `--vault-name`, so it runs on its default cloud through the
simulator's proxy (only `arm-sim env --proxy`'s variables, as tests/test_proxy_azcli.py does). az is slow to start:
the module keeps to about fifteen az calls and runs its own simulator.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from tests.azcli import az_executable
from tests.test_proxy_azcli import ProxiedAz, proxied_az

AZ = az_executable()
if AZ is None:
    pytest.skip("Azure CLI not found: set ARM_SIM_AZ, install it in .venv-az (make az) or put az on PATH",
                allow_module_level=True)

pytestmark = pytest.mark.azcli


@pytest.fixture(scope="module")
def az(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxiedAz]:
    with proxied_az(tmp_path_factory, "cert-az", login=True) as cli:
        yield cli


def _self_signed(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    return key, cert


def test_certificate_commands(az: ProxiedAz, tmp_path: Path) -> None:
    group, vault = f"rg-cert-{uuid.uuid4().hex[:6]}", f"kvc{uuid.uuid4().hex[:10]}"
    az.json("group", "create", "-n", group, "-l", "eastus")
    # az grants its caller every permission, certificates included
    az.json("keyvault", "create", "-g", group, "-n", vault, "-l", "eastus", "--enable-rbac-authorization", "false")
    uri = f"https://{vault}.vault.azure.net/"

    # import: a PFX with a password, and PEM (key + certificate)
    key, cert = _self_signed("imported.example")
    pfx = tmp_path / "imported.pfx"
    pfx.write_bytes(pkcs12.serialize_key_and_certificates(None, key, cert, None,
                                                          serialization.BestAvailableEncryption(b"s3cret")))
    imported = az.json("keyvault", "certificate", "import", "--vault-name", vault, "-n", "from-pfx", "-f", str(pfx),
                       "--password", "s3cret")
    assert imported["id"].startswith(f"{uri}certificates/from-pfx/")
    assert base64.b64decode(imported["cer"]) == cert.public_bytes(serialization.Encoding.DER)
    assert imported["policy"]["secretProperties"]["contentType"] == "application/x-pkcs12"
    pem = tmp_path / "imported.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM))
    from_pem = az.json("keyvault", "certificate", "import", "--vault-name", vault, "-n", "from-pem", "-f", str(pem))
    assert from_pem["policy"]["secretProperties"]["contentType"] == "application/x-pem-file"

    # create with the Self issuer: az waits on the operation and prints it, completed
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({
        "issuerParameters": {"name": "Self"}, "keyProperties": {"keyType": "RSA", "keySize": 2048},
        "secretProperties": {"contentType": "application/x-pkcs12"},
        "x509CertificateProperties": {"subject": "CN=az.example", "validityInMonths": 3,
                                      "subjectAlternativeNames": {"dnsNames": ["az.example"]}}}))
    op = az.json("keyvault", "certificate", "create", "--vault-name", vault, "-n", "made", "-p", f"@{policy}")
    assert op["status"] == "completed" and op["target"] == f"{uri}certificates/made"
    shown = az.json("keyvault", "certificate", "show", "--vault-name", vault, "-n", "made")
    made = x509.load_der_x509_certificate(base64.b64decode(shown["cer"]))
    assert made.subject.rfc4514_string() == "CN=az.example" and shown["policy"]["issuerParameters"]["name"] == "Self"
    assert sorted(c["name"] for c in az.json("keyvault", "certificate", "list", "--vault-name", vault)) == [
        "from-pem", "from-pfx", "made"]

    # the managed secret: the PFX (no password) holding the private key
    secret = az.json("keyvault", "secret", "show", "--vault-name", vault, "-n", "made")
    assert secret["managed"] is True and secret["kid"] == shown["kid"]
    loaded_key, loaded, _ = pkcs12.load_key_and_certificates(base64.b64decode(secret["value"]), None)
    assert loaded == made and loaded_key is not None
    assert az.fails("keyvault", "secret", "set", "--vault-name", vault, "-n", "made", "--value", "x").stderr.find(
        "managed by Key Vault") >= 0

    # delete → recover → delete → purge
    az.run("keyvault", "certificate", "delete", "--vault-name", vault, "-n", "made")
    assert az.fails("keyvault", "certificate", "show", "--vault-name", vault, "-n", "made").stderr
    az.run("keyvault", "certificate", "recover", "--vault-name", vault, "-n", "made")
    assert az.json("keyvault", "certificate", "show", "--vault-name", vault, "-n", "made")["cer"] == shown["cer"]
    az.run("keyvault", "certificate", "delete", "--vault-name", vault, "-n", "made")
    az.run("keyvault", "certificate", "purge", "--vault-name", vault, "-n", "made")
    assert az.json("keyvault", "certificate", "list-deleted", "--vault-name", vault) == []
    assert len(az.calls) <= 20
