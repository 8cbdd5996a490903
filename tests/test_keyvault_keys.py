"""Key Vault keys through azure-keyvault-keys: KeyClient (create RSA/EC, get, list, versions, update, delete,
recover, purge, backup/restore, import) and CryptographyClient (sign/verify, encrypt/decrypt, wrap/unwrap),
results checked locally with `cryptography`, under access policies and RBAC, as the deployer and from a VM."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx
from azure.identity import ManagedIdentityCredential
from azure.keyvault.keys import JsonWebKey, KeyClient, KeyCurveName, KeyType
from azure.keyvault.keys.crypto import CryptographyClient, EncryptionAlgorithm, KeyWrapAlgorithm, SignatureAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from tests import test_keyvault_secrets as secrets_module
from tests.test_imds import identities
from tests.test_keyvault_secrets import (
    KV_SCOPE,
    Env,
    access_denied,
    mi_claims,
    refused,
    unique,
)

# The secrets module's fixtures (a Key Vault simulator of this module's own, its vault, code "inside" a VM)
env, vault, inside = secrets_module.env, secrets_module.vault, secrets_module.inside

CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
CRYPTO_OFFICER = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603"


def b64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def public_key(jwk: Any) -> Any:
    """The public key from a JsonWebKey, rebuilt locally."""
    if jwk.kty.startswith("RSA"):
        return rsa.RSAPublicNumbers(int.from_bytes(jwk.e, "big"), int.from_bytes(jwk.n, "big")).public_key()
    curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}[jwk.crv]
    return ec.EllipticCurvePublicNumbers(int.from_bytes(jwk.x, "big"), int.from_bytes(jwk.y, "big"),
                                         curve).public_key()


def keys(env: Env, uri: str, credential: Any = None) -> KeyClient:
    return KeyClient(uri, credential or env.credential, verify_challenge_resource=False,
                     connection_verify=env.sim.ca)


def crypto(env: Env, key: Any, credential: Any = None) -> CryptographyClient:
    return CryptographyClient(key, credential or env.credential, verify_challenge_resource=False,
                              connection_verify=env.sim.ca)


def test_key_lifecycle_with_key_client(env: Env, vault: Any) -> None:
    uri = vault.properties.vault_uri
    with keys(env, uri) as kc:
        rsa_key = kc.create_rsa_key("signer", size=3072, tags={"use": "sig"})
        assert rsa_key.id == f"{uri}keys/signer/{rsa_key.properties.version}" and len(rsa_key.properties.version) == 32
        assert rsa_key.key_type == KeyType.rsa and len(rsa_key.key.n) == 384 and rsa_key.key.e == b"\x01\x00\x01"
        assert rsa_key.key_operations == ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"]
        assert rsa_key.properties.tags == {"use": "sig"}
        assert rsa_key.properties.recovery_level == "Recoverable+Purgeable"
        for crv, size in ((KeyCurveName.p_256, 32), (KeyCurveName.p_384, 48), (KeyCurveName.p_521, 66)):
            k = kc.create_ec_key(f"ec-{crv.lower()}", curve=crv)
            assert k.key_type == KeyType.ec and k.key.crv == crv and len(k.key.x) == len(k.key.y) == size
            assert k.key_operations == ["sign", "verify"]
        second = kc.create_rsa_key("signer", key_operations=["sign", "verify"])  # a new version, 2048 bits
        assert len(second.key.n) == 256
        assert kc.get_key("signer").properties.version == second.properties.version
        assert kc.get_key("signer", rsa_key.properties.version).key.n == rsa_key.key.n
        assert sorted(p.version for p in kc.list_properties_of_key_versions("signer")) == sorted(
            [rsa_key.properties.version, second.properties.version])
        assert [p.name for p in kc.list_properties_of_keys(max_page_size=2)] == [
            "ec-p-256", "ec-p-384", "ec-p-521", "signer"]
        updated = kc.update_key_properties("signer", second.properties.version, enabled=False, tags={"x": "y"})
        assert updated.properties.enabled is False and updated.properties.tags == {"x": "y"}
        with crypto(env, updated.id) as cc:
            err = refused(lambda: cc.sign(SignatureAlgorithm.rs256, hashlib.sha256(b"m").digest()))
        assert err == {"code": "Forbidden", "message": "Operation sign is not allowed on a disabled key.",
                              "innererror": {"code": "KeyDisabled"}}
        err = refused(lambda: kc.create_rsa_key("odd", size=1024), 400)
        assert err["code"] == "BadParameter"

        deleted = kc.begin_delete_key("signer").result()
        assert deleted.recovery_id == f"{uri}deletedkeys/signer" and deleted.key.n == second.key.n
        assert [d.name for d in kc.list_deleted_keys()] == ["signer"]
        refused(lambda: kc.create_rsa_key("signer"), 409)
        kc.begin_recover_deleted_key("signer").result()
        blob = kc.backup_key("signer")
        kc.begin_delete_key("signer").result()
        kc.purge_deleted_key("signer")
        err = refused(lambda: kc.get_deleted_key("signer"), 404)
        assert err == {"code": "KeyNotFound", "message": "Deleted Key not found: signer"}
        restored = kc.restore_key_backup(blob)
        assert restored.properties.version == second.properties.version and restored.key.n == second.key.n

        # import: a key made elsewhere keeps its public half
        local = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        nums = local.private_numbers()

        def raw(n: int) -> bytes:
            return n.to_bytes((n.bit_length() + 7) // 8, "big")

        jwk = JsonWebKey(kty="RSA", n=raw(nums.public_numbers.n), e=raw(nums.public_numbers.e), d=raw(nums.d),
                         p=raw(nums.p), q=raw(nums.q), dp=raw(nums.dmp1), dq=raw(nums.dmq1), qi=raw(nums.iqmp),
                         key_ops=["sign", "verify"])
        imported = kc.import_key("imported", jwk)
        assert imported.key.n == raw(nums.public_numbers.n) and imported.key.d is None  # never the private part
        with crypto(env, imported.id) as cc:
            signed = cc.sign(SignatureAlgorithm.ps256, hashlib.sha256(b"doc").digest())
        local.public_key().verify(signed.signature, hashlib.sha256(b"doc").digest(),
                                  padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                                  utils.Prehashed(hashes.SHA256()))


def test_cryptography_operations_interoperate(env: Env, vault: Any) -> None:
    uri = vault.properties.vault_uri
    digest = hashlib.sha384(b"payload").digest()
    with keys(env, uri) as kc:
        rk = kc.create_rsa_key(unique("rsa-"))
        ek = kc.create_ec_key(unique("ec-"), curve=KeyCurveName.p_384)
    with crypto(env, rk.id) as cc:
        for alg, pad in ((SignatureAlgorithm.rs384, padding.PKCS1v15()),
                         (SignatureAlgorithm.ps384, padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48))):
            sig = cc.sign(alg, digest)
            assert sig.key_id == rk.id
            public_key(rk.key).verify(sig.signature, digest, pad, utils.Prehashed(hashes.SHA384()))
            assert cc.verify(alg, digest, sig.signature).is_valid
            assert not cc.verify(alg, digest, bytes(len(sig.signature))).is_valid
        for alg, pad in ((EncryptionAlgorithm.rsa_oaep, padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)),
                         (EncryptionAlgorithm.rsa_oaep_256,
                          padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)),
                         (EncryptionAlgorithm.rsa1_5, padding.PKCS1v15())):
            ciphertext = public_key(rk.key).encrypt(b"a secret", pad)  # encrypted here, decrypted by the vault
            assert cc.decrypt(alg, ciphertext).plaintext == b"a secret"
        wrapped = cc.wrap_key(KeyWrapAlgorithm.rsa_oaep_256, b"k" * 32)
        assert cc.unwrap_key(KeyWrapAlgorithm.rsa_oaep_256, wrapped.encrypted_key).key == b"k" * 32
    with crypto(env, ek.id) as cc:
        sig = cc.sign(SignatureAlgorithm.es384, digest)
        assert len(sig.signature) == 96  # r||s, as JWS has it
        der = utils.encode_dss_signature(int.from_bytes(sig.signature[:48], "big"),
                                         int.from_bytes(sig.signature[48:], "big"))
        public_key(ek.key).verify(der, digest, ec.ECDSA(utils.Prehashed(hashes.SHA384())))
        # the wrong curve for the algorithm
        err = refused(lambda: cc.sign(SignatureAlgorithm.es256, hashlib.sha256(b"x").digest()), 400)
        assert err["code"] == "BadParameter"

    # the remote operations as raw REST (CryptographyClient does public-key ones locally when it can)
    token = env.sim.token(KV_SCOPE)
    with httpx.Client(verify=env.sim.ca, timeout=30, headers={"Authorization": f"Bearer {token}"}) as plain:
        r = plain.post(f"{rk.id}/encrypt", params={"api-version": "7.4"},
                       json={"alg": "RSA-OAEP", "value": base64.urlsafe_b64encode(b"hi").decode().rstrip("=")})
        assert r.status_code == 200 and r.json()["kid"] == rk.id
        r = plain.post(f"{uri}keys/{rk.name}//decrypt", params={"api-version": "7.4"},  # empty version: latest
                       json={"alg": "RSA-OAEP", "value": r.json()["value"]})
        assert r.status_code == 200 and b64(r.json()["value"]) == b"hi"
        sig = base64.urlsafe_b64encode(b"\x00" * 256).decode().rstrip("=")
        r = plain.post(f"{rk.id}/verify", params={"api-version": "7.4"},
                       json={"alg": "RS256", "digest": base64.urlsafe_b64encode(bytes(32)).decode().rstrip("="),
                             "value": sig})
        assert r.status_code == 200 and r.json() == {"value": False}


def test_key_permissions_from_a_vm(env: Env, inside: Any) -> None:
    vm = env.vm(unique("vm-"), identities("SystemAssigned"))
    principal = vm.identity.principal_id
    shared = env.vault([env.policy(env.deployer_oid, keys=("all",)),
                        env.policy(principal, keys=("get", "wrapKey", "unwrapKey"))])
    with keys(env, shared.properties.vault_uri) as kc:
        kek = kc.create_rsa_key("kek")
    rbac_vault = env.vault(enable_rbac_authorization=True)
    env.assign(rbac_vault.id, CRYPTO_OFFICER, env.deployer_oid)
    env.assign(rbac_vault.id, CRYPTO_SERVICE_ENCRYPTION_USER, principal)  # read metadata, wrap and unwrap
    with keys(env, rbac_vault.properties.vault_uri) as kc:
        rbac_kek = kc.create_rsa_key("kek")

    inside(env.endpoint(vm.id))
    with ManagedIdentityCredential() as cred:
        with crypto(env, kek.id, cred) as cc:
            wrapped = cc.wrap_key(KeyWrapAlgorithm.rsa_oaep, b"d" * 32)
            assert cc.unwrap_key(KeyWrapAlgorithm.rsa_oaep, wrapped.encrypted_key).key == b"d" * 32
            err = refused(lambda: cc.sign(SignatureAlgorithm.rs256, hashlib.sha256(b"m").digest()))
            assert err == access_denied(mi_claims(cred), "keys", "sign", shared)
        with keys(env, shared.properties.vault_uri, cred) as kc:
            err = refused(lambda: kc.create_ec_key("mine"))
        assert err == access_denied(mi_claims(cred), "keys", "create", shared)

        with crypto(env, rbac_kek.id, cred) as cc:
            wrapped = cc.wrap_key(KeyWrapAlgorithm.rsa_oaep_256, b"e" * 32)
            assert cc.unwrap_key(KeyWrapAlgorithm.rsa_oaep_256, wrapped.encrypted_key).key == b"e" * 32
            err = refused(lambda: cc.decrypt(EncryptionAlgorithm.rsa_oaep_256, wrapped.encrypted_key))
            assert err["innererror"] == {"code": "ForbiddenByRbac"}
            assert "Action: 'Microsoft.KeyVault/vaults/keys/decrypt/action'" in err["message"]
            assert f"Resource: '{rbac_vault.id.lower()}/keys/kek'" in err["message"]
        with keys(env, rbac_vault.properties.vault_uri, cred) as kc:
            assert kc.get_key("kek").key.n == rbac_kek.key.n
            err = refused(lambda: kc.create_rsa_key("mine"))
            assert "Action: 'Microsoft.KeyVault/vaults/keys/create/action'" in err["message"]
