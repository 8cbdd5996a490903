"""Key Vault certificates through azure-keyvault-certificates' CertificateClient: create with the Self issuer
(real X.509 from the policy), the Unknown issuer (pending with a CSR, then merge), import of PFX (with and without a
password) and PEM with its chain, versions, update, policy, soft delete / recover / purge; the managed secret and
key behind each certificate (SecretClient, KeyClient); access policies and RBAC; Key Vault's errors over raw HTTP."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import httpx
from azure.keyvault.certificates import (
    CertificateClient,
    CertificateContentType,
    CertificatePolicy,
    KeyCurveName,
    KeyType,
)
from azure.keyvault.keys import KeyClient
from azure.mgmt.keyvault.models import AccessPolicyEntry, Permissions
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from tests import test_keyvault_secrets as secrets_module
from tests.test_keyvault_secrets import KV_SCOPE, Env, access_denied, claims_of, refused

env = secrets_module.env  # the secrets module's simulator fixture (a Key Vault simulator of this module's own)

CERTIFICATES_OFFICER = "a4417e6f-fecd-4de8-b567-7b0420556985"
CERTIFICATE_USER = "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba"


def policy_entry(env: Env, certificates: tuple[str, ...] = ("all",)) -> AccessPolicyEntry:
    return AccessPolicyEntry(tenant_id=env.sim.tenant, object_id=env.deployer_oid, permissions=Permissions(
        secrets=["all"], keys_property=["all"], certificates=list(certificates)))


def cert_vault(env: Env, certificates: tuple[str, ...] = ("all",), **props: Any) -> Any:
    return env.vault([policy_entry(env, certificates)], **props)


def client(env: Env, uri: str, credential: Any = None) -> CertificateClient:
    return CertificateClient(uri, credential or env.credential, verify_challenge_resource=False,
                             connection_verify=env.sim.ca)


def key_client(env: Env, uri: str) -> KeyClient:
    return KeyClient(uri, env.credential, verify_challenge_resource=False, connection_verify=env.sim.ca)


def public_der(key: Any) -> bytes:
    return bytes(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def local_ca() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Root")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    return key, cert


def issue(ca: tuple[rsa.RSAPrivateKey, x509.Certificate], public_key: Any, cn: str) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    return (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca[1].subject).public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
            .sign(ca[0], hashes.SHA256()))


def test_self_signed_certificates_and_their_secret_and_key(env: Env) -> None:
    uri = cert_vault(env).properties.vault_uri
    policy = CertificatePolicy(issuer_name="Self", subject="CN=app.contoso.com, O=Contoso",
                               san_dns_names=["app.contoso.com", "www.contoso.com"], validity_in_months=6,
                               key_type=KeyType.rsa, key_size=3072, content_type=CertificateContentType.pkcs12)
    with client(env, uri) as cc, env.secrets(uri) as sc, key_client(env, uri) as kc:
        cert = cc.begin_create_certificate("web", policy, tags={"app": "web"}, _polling_interval=0).result()
        version = cert.properties.version
        assert cert.id == f"{uri}certificates/web/{version}" and len(version) == 32
        assert cert.key_id == f"{uri}keys/web/{version}" and cert.secret_id == f"{uri}secrets/web/{version}"
        assert cert.properties.tags == {"app": "web"} and cert.properties.enabled is True
        x = x509.load_der_x509_certificate(cert.cer)
        assert x.subject.rfc4514_string() == "O=Contoso,CN=app.contoso.com" and x.issuer == x.subject
        sans = x.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sans.get_values_for_type(x509.DNSName) == ["app.contoso.com", "www.contoso.com"]
        assert isinstance(x.public_key(), rsa.RSAPublicKey) and x.public_key().key_size == 3072
        assert 180 <= (x.not_valid_after_utc - x.not_valid_before_utc).days <= 185
        assert cert.properties.x509_thumbprint == x.fingerprint(hashes.SHA1())
        assert cert.properties.not_before == x.not_valid_before_utc and cert.properties.expires_on == \
            x.not_valid_after_utc
        assert cert.policy.issuer_name == "Self" and cert.policy.subject == "CN=app.contoso.com, O=Contoso"
        assert cert.policy.san_dns_names == ["app.contoso.com", "www.contoso.com"]
        assert cert.policy.validity_in_months == 6 and cert.policy.key_size == 3072
        assert cert.policy.content_type == CertificateContentType.pkcs12
        op = cc.get_certificate_operation("web")
        assert op.status == "completed" and op.target == f"{uri}certificates/web" and op.issuer_name == "Self"
        assert x509.load_der_x509_csr(op.csr).subject == x.subject

        # the managed secret: the PFX (no password) with the private key; the managed key: the same key
        secret = sc.get_secret("web")
        assert secret.properties.managed is True and secret.properties.key_id == cert.key_id
        assert secret.properties.content_type == "application/x-pkcs12" and secret.properties.version == version
        key, leaf, _ = pkcs12.load_key_and_certificates(base64.b64decode(secret.value), None)
        assert leaf is not None and key is not None and leaf.public_bytes(serialization.Encoding.DER) == cert.cer
        assert public_der(key.public_key()) == public_der(x.public_key())
        managed_key = kc.get_key("web")
        assert managed_key.properties.managed is True and managed_key.properties.version == version
        assert int.from_bytes(managed_key.key.n, "big") == x.public_key().public_numbers().n
        assert {s.name: s.managed for s in sc.list_properties_of_secrets()}["web"] is True
        assert {k.name: k.managed for k in kc.list_properties_of_keys()}["web"] is True

        # EC, PEM: the secret is the key then the certificate
        ec_policy = CertificatePolicy(issuer_name="Self", subject="CN=ec.contoso.com", key_type=KeyType.ec,
                                      key_curve_name=KeyCurveName.p_384, content_type=CertificateContentType.pem)
        ec_cert = cc.begin_create_certificate("ec-web", ec_policy, _polling_interval=0).result()
        ec_x = x509.load_der_x509_certificate(ec_cert.cer)
        assert isinstance(ec_x.public_key(), ec.EllipticCurvePublicKey) and ec_x.public_key().curve.name == \
            "secp384r1"
        pem = sc.get_secret("ec-web").value
        assert pem.startswith("-----BEGIN PRIVATE KEY-----") and "-----BEGIN CERTIFICATE-----" in pem
        assert x509.load_pem_x509_certificate(pem.encode()) == ec_x
        assert kc.get_key("ec-web").key.crv == "P-384"

        # versions, list, update, policy
        second = cc.begin_create_certificate("web", policy, _polling_interval=0).result()
        assert second.properties.version != version and cc.get_certificate("web").properties.version == \
            second.properties.version
        assert cc.get_certificate_version("web", version).cer == cert.cer
        assert sorted(p.version for p in cc.list_properties_of_certificate_versions("web")) == sorted(
            [version, second.properties.version])
        assert [p.name for p in cc.list_properties_of_certificates(max_page_size=1)] == ["ec-web", "web"]
        updated = cc.update_certificate_properties("web", second.properties.version, enabled=False,
                                                   tags={"state": "off"})
        assert updated.properties.enabled is False and updated.properties.tags == {"state": "off"}
        assert refused(lambda: sc.get_secret("web"))["innererror"] == {"code": "SecretDisabled"}
        assert kc.get_key("web").properties.enabled is False
        got = cc.get_certificate_policy("web")
        assert got.subject == "CN=app.contoso.com, O=Contoso" and got.validity_in_months == 6
        new_policy = cc.update_certificate_policy("web", CertificatePolicy(
            issuer_name="Self", subject="CN=renewed.contoso.com", validity_in_months=12))
        assert new_policy.subject == "CN=renewed.contoso.com" and new_policy.validity_in_months == 12
        third = cc.begin_create_certificate("web", cc.get_certificate_policy("web"), _polling_interval=0).result()
        assert x509.load_der_x509_certificate(third.cer).subject.rfc4514_string() == "CN=renewed.contoso.com"


def test_import_pfx_and_pem(env: Env) -> None:
    uri = cert_vault(env).properties.vault_uri
    ca = local_ca()
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = issue(ca, leaf_key.public_key(), "imported.contoso.com")
    pfx = pkcs12.serialize_key_and_certificates(b"imported", leaf_key, leaf, [ca[1]],
                                                serialization.BestAvailableEncryption(b"pw-123"))
    with client(env, uri) as cc, env.secrets(uri) as sc:
        imported = cc.import_certificate("from-pfx", pfx, password="pw-123")
        assert imported.cer == leaf.public_bytes(serialization.Encoding.DER)
        assert imported.policy.subject == "CN=imported.contoso.com" and imported.policy.issuer_name == "Unknown"
        assert imported.policy.san_dns_names == ["imported.contoso.com"] and imported.policy.key_size == 2048
        assert imported.properties.expires_on == leaf.not_valid_after_utc
        # the secret is the PFX again, without a password, with the chain
        key, cert, chain = pkcs12.load_key_and_certificates(base64.b64decode(sc.get_secret("from-pfx").value), None)
        assert cert == leaf and chain == [ca[1]] and key is not None
        assert public_der(key.public_key()) == public_der(leaf_key.public_key())

        plain = pkcs12.serialize_key_and_certificates(None, leaf_key, leaf, None, serialization.NoEncryption())
        assert cc.import_certificate("from-pfx-nopwd", plain).cer == imported.cer

        pem = (leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                      serialization.NoEncryption())
               + leaf.public_bytes(serialization.Encoding.PEM) + ca[1].public_bytes(serialization.Encoding.PEM))
        from_pem = cc.import_certificate("from-pem", pem, policy=CertificatePolicy(
            content_type=CertificateContentType.pem))
        assert from_pem.cer == imported.cer and from_pem.policy.content_type == CertificateContentType.pem
        value = sc.get_secret("from-pem").value
        assert value.startswith("-----BEGIN PRIVATE KEY-----")
        assert x509.load_pem_x509_certificates(value.encode()) == [leaf, ca[1]]

        wrong = refused(lambda: cc.import_certificate("bad", pfx, password="nope"), 400)
        assert wrong["code"] == "BadParameter" and "PKCS#12" in wrong["message"]
        no_key = refused(lambda: cc.import_certificate("bad", leaf.public_bytes(serialization.Encoding.PEM)), 400)
        assert no_key["code"] == "BadParameter" and "Private key is not specified" in no_key["message"]
        assert refused(lambda: cc.import_certificate("bad", b"not a certificate"), 400)["code"] == "BadParameter"


def test_unknown_issuer_pends_until_merged(env: Env) -> None:
    uri = cert_vault(env).properties.vault_uri
    with client(env, uri) as cc:
        op = cc.begin_create_certificate("ordered", CertificatePolicy(issuer_name="Unknown",
                                                                      subject="CN=ordered.contoso.com")).result()
        assert op.status == "inProgress" and op.issuer_name == "Unknown" and op.csr
        csr = x509.load_der_x509_csr(op.csr)
        assert csr.is_signature_valid and csr.subject.rfc4514_string() == "CN=ordered.contoso.com"
        pending = cc.get_certificate("ordered")
        assert pending.cer is None and pending.properties.enabled is False
        assert [p.name for p in cc.list_properties_of_certificates()] == []
        assert [p.name for p in cc.list_properties_of_certificates(include_pending=True)] == ["ordered"]

        ca = local_ca()
        other = issue(ca, rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key(), "x")
        err = refused(lambda: cc.merge_certificate("ordered", [other.public_bytes(serialization.Encoding.DER)]),
                      400)
        assert err["message"] == "Public key from x509 certificate and key of this instance doesn't match"
        signed = issue(ca, csr.public_key(), "ordered.contoso.com")
        merged = cc.merge_certificate("ordered", [signed.public_bytes(serialization.Encoding.DER),
                                                  ca[1].public_bytes(serialization.Encoding.DER)])
        assert merged.cer == signed.public_bytes(serialization.Encoding.DER) and merged.properties.enabled is True
        assert cc.get_certificate_operation("ordered").status == "completed"
        deleted_op = cc.delete_certificate_operation("ordered")
        assert deleted_op.status == "completed"
        assert refused(lambda: cc.get_certificate_operation("ordered"), 404)["code"] == "PendingCertificateNotFound"

        # an issuer the vault has not configured
        err = refused(lambda: cc.begin_create_certificate("digi", CertificatePolicy(
            issuer_name="DigiCert", subject="CN=digi.contoso.com")), 400)
        assert err["code"] == "BadParameter" and "DigiCert" in err["message"]


def test_soft_delete_recover_purge_and_the_managed_objects(env: Env) -> None:
    vault = cert_vault(env)
    uri = vault.properties.vault_uri
    policy = CertificatePolicy.get_default()
    with client(env, uri) as cc, env.secrets(uri) as sc, key_client(env, uri) as kc:
        cc.begin_create_certificate("cert1", policy, _polling_interval=0).result()
        # the certificate's secret and key are Key Vault's to manage
        err = refused(lambda: sc.set_secret("cert1", "x"))
        assert err == {"code": "Forbidden", "innererror": {"code": "SecretManagedByKeyVault"},
                       "message": 'Operation "set" is not allowed as this object\'s lifetime is managed by Key '
                                  "Vault."}
        assert refused(lambda: sc.begin_delete_secret("cert1"))["innererror"] == {"code": "SecretManagedByKeyVault"}
        assert refused(lambda: kc.create_rsa_key("cert1"))["innererror"] == {"code": "KeyManagedByKeyVault"}
        assert refused(lambda: kc.begin_delete_key("cert1"))["innererror"] == {"code": "KeyManagedByKeyVault"}
        # and a plain secret's name cannot become a certificate's
        sc.set_secret("plain", "v")
        assert refused(lambda: cc.begin_create_certificate("plain", policy), 409)["code"] == "Conflict"

        deleted = cc.begin_delete_certificate("cert1", _polling_interval=0).result()
        assert deleted.recovery_id == f"{uri}deletedcertificates/cert1" and deleted.scheduled_purge_date
        assert deleted.policy is not None and deleted.policy.issuer_name == "Self"
        assert [d.name for d in cc.list_deleted_certificates()] == ["cert1"]
        assert cc.get_deleted_certificate("cert1").properties.version == deleted.properties.version
        assert refused(lambda: cc.get_certificate("cert1"), 404)["code"] == "CertificateNotFound"
        assert refused(lambda: sc.get_secret("cert1"), 404)["code"] == "SecretNotFound"
        assert refused(lambda: kc.get_key("cert1"), 404)["code"] == "KeyNotFound"
        conflict = refused(lambda: cc.begin_create_certificate("cert1", policy), 409)
        assert conflict["message"] == ("Certificate cert1 is currently in a deleted but recoverable state, and its "
                                       "name cannot be reused; in this state, the certificate can only be recovered "
                                       "or purged.")

        recovered = cc.begin_recover_deleted_certificate("cert1", _polling_interval=0).result()
        assert recovered.properties.version == deleted.properties.version
        assert sc.get_secret("cert1").properties.managed is True and kc.get_key("cert1").properties.managed

        cc.begin_delete_certificate("cert1", _polling_interval=0).result()
        cc.purge_deleted_certificate("cert1")
        assert list(cc.list_deleted_certificates()) == []
        assert [d.name for d in sc.list_deleted_secrets()] == [] and [d.name for d in kc.list_deleted_keys()] == []
        assert cc.begin_create_certificate("cert1", policy, _polling_interval=0).result().cer


def test_access_policies_and_rbac(env: Env) -> None:
    limited = cert_vault(env, ("Get", "List"))
    claims = claims_of(env.sim.token(KV_SCOPE))
    with client(env, limited.properties.vault_uri) as cc:
        err = refused(lambda: cc.begin_create_certificate("c", CertificatePolicy.get_default()))
        assert err == access_denied(claims, "certificates", "create", limited)
        assert list(cc.list_properties_of_certificates()) == []

    rbac_vault = env.vault(enable_rbac_authorization=True)
    uri = rbac_vault.properties.vault_uri
    with client(env, uri) as cc:
        err = refused(lambda: cc.begin_create_certificate("c", CertificatePolicy.get_default()))
        assert err["innererror"] == {"code": "ForbiddenByRbac"}
        assert "Action: 'Microsoft.KeyVault/vaults/certificates/create/action'" in err["message"]
        assert f"Resource: '{rbac_vault.id.lower()}/certificates/c'" in err["message"]
    env.assign(rbac_vault.id, CERTIFICATES_OFFICER, env.deployer_oid)
    with env.sim.credential() as cred, client(env, uri, cred) as cc, env.secrets(uri, cred) as sc:
        assert cc.begin_create_certificate("c", CertificatePolicy.get_default(), _polling_interval=0).result().cer
        # the Certificates Officer role holds no secrets data action: the managed secret stays closed
        assert refused(lambda: sc.get_secret("c"))["innererror"] == {"code": "ForbiddenByRbac"}


def test_protocol_shapes_and_errors(env: Env) -> None:
    uri = cert_vault(env).properties.vault_uri
    auth = {"Authorization": f"Bearer {env.sim.token(KV_SCOPE)}"}
    v = {"api-version": "7.5"}
    with httpx.Client(verify=env.sim.ca, timeout=30, headers=auth) as http:
        body = {"policy": {"key_props": {"kty": "RSA", "key_size": 2048}, "x509_props": {"subject": "CN=raw"},
                           "issuer": {"name": "self"}}}
        r = http.post(f"{uri}certificates/raw/create", params=v, json=body)
        assert r.status_code == 202, r.text
        op = r.json()
        assert op["status"] == "inProgress" and op["id"] == f"{uri}certificates/raw/pending"
        assert op["issuer"] == {"name": "Self"} and op["cancellation_requested"] is False and op["csr"]
        assert r.headers["location"].startswith(f"{uri}certificates/raw/pending")
        done = http.get(f"{uri}certificates/raw/pending", params=v).json()
        assert done["status"] == "completed" and done["target"] == f"{uri}certificates/raw"
        cert = http.get(f"{uri}certificates/raw", params=v).json()
        assert set(cert) >= {"id", "kid", "sid", "x5t", "cer", "attributes", "policy"}
        assert cert["policy"]["id"] == f"{uri}certificates/raw/policy"
        assert cert["policy"]["x509_props"]["ekus"] == ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]
        assert cert["policy"]["lifetime_actions"] == [{"trigger": {"lifetime_percentage": 80},
                                                       "action": {"action_type": "EmailContacts"}}]
        secret = http.get(f"{uri}secrets/raw", params=v).json()
        assert secret["managed"] is True and secret["kid"] == cert["kid"]

        def error(method: str, path: str, status: int, **kw: Any) -> dict[str, Any]:
            resp = http.request(method, f"{uri}{path}", params=v, **kw)
            assert resp.status_code == status, resp.text
            return dict(resp.json()["error"])

        assert error("POST", "certificates/x/create", 400, json={})["code"] == "BadParameter"
        assert error("POST", "certificates/x/create", 400, json={"policy": {"key_props": {"kty": "oct"},
                                                                            "x509_props": {"subject": "CN=x"}}})[
            "code"] == "BadParameter"
        assert error("POST", "certificates/x/create", 400, json={"policy": {"issuer": {"name": "Self"}}})[
            "code"] == "BadParameter"
        assert error("POST", "certificates/x/create", 400, json={"policy": {
            "x509_props": {"subject": "nonsense"}, "issuer": {"name": "Self"}}})["code"] == "BadParameter"
        assert error("POST", "certificates/x/create", 400, json={"policy": {
            "x509_props": {"subject": "CN=x", "validity_months": 0}, "issuer": {"name": "Self"}}})[
            "code"] == "BadParameter"
        assert error("POST", "certificates/x/create", 400, content=b"{nope",
                     headers={"content-type": "application/json"})["code"] == "BadParameter"
        for policy in ({"x509_props": {"subject": "CN=x", "sans": {"dns_names": ["bücher.example"]}}},
                       {"x509_props": {"subject": "CN=x"}, "lifetime_actions": [{"action": "AutoRenew"}]},
                       {"x509_props": {"subject": "CN=x", "ekus": ["not-an-oid"]}},
                       {"x509_props": {"subject": "CN=x"}, "secret_props": {"contentType": "text/plain"}}):
            policy["issuer"] = {"name": "Self"}
            assert error("POST", "certificates/x/create", 400, json={"policy": policy})["code"] == "BadParameter"
        assert error("POST", "certificates/x/import", 400, json={"value": 42})["code"] == "BadParameter"
        assert error("POST", "certificates/x/import", 400, json={"value": "MIIB", "policy": {"key_props": "x"}})[
            "code"] == "BadParameter"
        assert error("POST", "certificates/x/import", 400, json={"value": "!!!"})["code"] == "BadParameter"
        assert error("GET", "certificates/nothere", 404)["code"] == "CertificateNotFound"
        assert error("GET", "certificates/raw/pending/nope", 404)["code"] == "NotFound"
        assert error("GET", "certificates/nothere/pending", 404)["code"] == "PendingCertificateNotFound"
        assert error("GET", "certificates/bad_name", 400)["code"] == "BadParameter"
        for path in ("certificates/contacts", "certificates/issuers", "certificates/issuers/x",
                     "certificates/raw/backup"):
            method = "POST" if path.endswith("backup") else "GET"
            assert error(method, path, 501)["code"] == "NotImplementedInSimulator"
        assert error("POST", "certificates/restore", 501, json={"value": "x"})["code"] == "NotImplementedInSimulator"
