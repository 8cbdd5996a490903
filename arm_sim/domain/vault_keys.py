"""Key Vault keys: RSA and EC keys with versions and soft delete, and the cryptographic operations on them.

arm-sim holds the private key (this is a simulator) and performs sign/verify, encrypt/decrypt and
wrapKey/unwrapKey with `cryptography`, so results interoperate with any client that checks them locally.
Versions and soft delete use the machinery shared with secrets (`vault_secrets.Kind`).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from arm_sim.db.models import VaultKey as VaultKey  # re-exported: the data plane's hosts name the row type
from arm_sim.domain import events
from arm_sim.domain.context import Ctx
from arm_sim.domain.keypool import POOL
from arm_sim.domain.vault_secrets import (
    Kind,
    VaultError,
    active_rows,
    apply_attributes,
    attributes,
    bad_parameter,
    check_name,
    check_restore,
    check_tags,
    decode_blob,
    deleted_fields,
    encode_blob,
    ensure_name_free,
    new_version,
    purge_expired_rows,
    subject,
)
from arm_sim.domain.vaults import VaultLike

KEYS = Kind(VaultKey, "key", "keys", "deletedkeys", "KeyNotFound")
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

RSA_SIZES = (2048, 3072, 4096)
CURVES: dict[str, ec.EllipticCurve] = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1(),
                                       "P-256K": ec.SECP256K1()}
RSA_OPS = ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"]
EC_OPS = ["sign", "verify"]
KEY_OPS = set(RSA_OPS) | {"import", "export"}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
_EC_ALGS = {"ES256": ("P-256", hashes.SHA256), "ES384": ("P-384", hashes.SHA384), "ES512": ("P-521", hashes.SHA512),
            "ES256K": ("P-256K", hashes.SHA256)}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: Any, field: str = "value") -> bytes:
    if not isinstance(text, str):
        raise bad_parameter(f"The parameter '{field}' is required and must be a base64url string.")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as e:
        raise bad_parameter(f"The parameter '{field}' is not valid base64url.") from e


def _int_bytes(n: int, length: int | None = None) -> bytes:
    return n.to_bytes(length or max(1, (n.bit_length() + 7) // 8), "big")


def load(row: VaultKey) -> PrivateKey:
    # Stored keys were made or checked here (an import builds the key from its numbers, which validates it), so
    # the ~35 ms RSA consistency check on every operation is skipped.
    key = serialization.load_pem_private_key(row.private_key_pem.encode(), password=None,
                                             unsafe_skip_rsa_key_validation=True)
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    return key


def _pem(key: PrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


# --- create / import / update ---------------------------------------------------------------------------------

def _key_ops(raw: Any, default: list[str]) -> list[str]:
    if raw is None:
        return list(default)
    if not isinstance(raw, list) or not all(isinstance(o, str) for o in raw):
        raise bad_parameter("The parameter 'key_ops' must be an array of strings.")
    for o in raw:
        if o not in KEY_OPS:
            raise bad_parameter(f"Invalid key operation: {o}.")
    return list(raw)


def _generate(body: dict[str, Any], kty: str) -> tuple[PrivateKey, str | None]:
    if kty.startswith("RSA"):
        size = body.get("key_size") or 2048
        exponent = body.get("public_exponent") or 65537
        if size not in RSA_SIZES:
            raise bad_parameter(f"The key size {size} is not supported for key type {kty}. Supported sizes: 2048, "
                                "3072, 4096.")
        if exponent not in (3, 65537):
            raise bad_parameter(f"The public exponent {exponent} is not supported.")
        if size == 2048 and exponent == 65537:
            return POOL.take(), None  # generated ahead of need: RSA generation costs ~64 ms
        return rsa.generate_private_key(public_exponent=exponent, key_size=size), None
    crv = body.get("crv") or "P-256"
    if crv not in CURVES:
        raise bad_parameter(f"The curve {crv} is not supported. Supported curves: P-256, P-384, P-521, P-256K.")
    return ec.generate_private_key(CURVES[crv]), crv


def _check_kty(kty: Any) -> str:
    if kty in ("RSA", "RSA-HSM", "EC", "EC-HSM"):
        return str(kty)
    if kty in ("oct", "oct-HSM"):
        raise bad_parameter(f"Key type {kty} is only supported by Managed HSM.")
    raise bad_parameter(f"The parameter 'kty' is invalid: {kty}. Supported key types: RSA, RSA-HSM, EC, EC-HSM.")


def _store(ctx: Ctx, vault: VaultLike, name: str, key: PrivateKey, kty: str, crv: str | None, body: dict[str, Any],
           event: str) -> VaultKey:
    existing = ensure_name_free(ctx, KEYS, vault, name)
    ops = _key_ops(body.get("key_ops"), RSA_OPS if kty.startswith("RSA") else EC_OPS)
    now = int(ctx.now)
    row = VaultKey(vault_name=vault.name, name=existing[-1].name if existing else name, name_key=name.lower(),
                   version=new_version(), kty=kty, key_ops=ops, private_key_pem=_pem(key), curve=crv,
                   tags=check_tags(body.get("tags")), enabled=True, not_before=None, expires=None,
                   created_at=now, updated_at=now)
    apply_attributes(row, body.get("attributes"))
    ctx.session.add(row)
    ctx.session.flush()
    events.record(ctx, event, subject(vault, KEYS, row.name), version=row.version, kty=kty, curve=crv)
    return row


def create(ctx: Ctx, vault: VaultLike, name: str, body: Any) -> VaultKey:
    """POST /keys/{name}/create: {kty, key_size?, public_exponent?, crv?, key_ops?, attributes?, tags?}."""
    check_name(name)
    if not isinstance(body, dict):
        raise bad_parameter("The request body must be a JSON object.")
    kty = _check_kty(body.get("kty"))
    ensure_name_free(ctx, KEYS, vault, name)  # before paying for a key
    key, crv = _generate(body, kty)
    return _store(ctx, vault, name, key, kty, crv, body, "keyvault.key.created")


def _from_jwk(jwk: dict[str, Any]) -> tuple[PrivateKey, str, str | None]:
    kty = _check_kty(jwk.get("kty"))

    def num(field: str) -> int:
        return int.from_bytes(unb64url(jwk.get(field), field), "big")

    try:
        if kty.startswith("RSA"):
            n, e, d, p, q = (num(f) for f in ("n", "e", "d", "p", "q"))
            dp = num("dp") if jwk.get("dp") else rsa.rsa_crt_dmp1(d, p)
            dq = num("dq") if jwk.get("dq") else rsa.rsa_crt_dmq1(d, q)
            qi = num("qi") if jwk.get("qi") else rsa.rsa_crt_iqmp(p, q)
            key: PrivateKey = rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, rsa.RSAPublicNumbers(e, n)).private_key()
            return key, kty, None
        crv = str(jwk.get("crv") or "")
        if crv not in CURVES:
            raise bad_parameter(f"The curve {crv} is not supported.")
        pub = ec.EllipticCurvePublicNumbers(num("x"), num("y"), CURVES[crv])
        return ec.EllipticCurvePrivateNumbers(num("d"), pub).private_key(), kty, crv
    except ValueError as e:
        raise bad_parameter("The imported key is invalid: it must be a private RSA or EC key in JWK form.") from e


def import_key(ctx: Ctx, vault: VaultLike, name: str, body: Any) -> VaultKey:
    """PUT /keys/{name}: {key: JWK with its private part, hsm?, attributes?, tags?}."""
    check_name(name)
    if not isinstance(body, dict) or not isinstance(body.get("key"), dict):
        raise bad_parameter("The parameter 'key' is required and must be a JSON Web Key.")
    key, kty, crv = _from_jwk(body["key"])
    if body.get("hsm") and not kty.endswith("-HSM"):
        kty += "-HSM"
    merged = dict(body, key_ops=body["key"].get("key_ops"))
    return _store(ctx, vault, name, key, kty, crv, merged, "keyvault.key.imported")


def update(ctx: Ctx, vault: VaultLike, row: VaultKey, body: Any) -> VaultKey:
    """PATCH /keys/{name}/{version}: key_ops, attributes, tags."""
    if not isinstance(body, dict):
        raise bad_parameter("The request body must be a JSON object.")
    if body.get("key_ops") is not None:
        row.key_ops = _key_ops(body["key_ops"], [])
    apply_attributes(row, body.get("attributes"))
    if "tags" in body:
        row.tags = check_tags(body["tags"])
    row.updated_at = int(ctx.now)
    events.record(ctx, "keyvault.key.updated", subject(vault, KEYS, row.name), version=row.version)
    return row


def purge_expired(ctx: Ctx) -> int:
    """Purge soft-deleted keys whose scheduled purge date has passed (the management plane calls this)."""
    return purge_expired_rows(ctx, KEYS)


# --- rendering ------------------------------------------------------------------------------------------------

def jwk(row: VaultKey, uri: str) -> dict[str, Any]:
    """The public JSON Web Key, with `kid` = `{vaultUri}keys/{name}/{version}`."""
    key = load(row)
    out: dict[str, Any] = {"kid": f"{uri}keys/{row.name}/{row.version}", "kty": row.kty, "key_ops": list(row.key_ops)}
    if isinstance(key, rsa.RSAPrivateKey):
        pub = key.public_key().public_numbers()
        out.update(n=b64url(_int_bytes(pub.n)), e=b64url(_int_bytes(pub.e)))
    else:
        pub_ec = key.public_key().public_numbers()
        size = (key.curve.key_size + 7) // 8
        out.update(crv=row.curve, x=b64url(_int_bytes(pub_ec.x, size)), y=b64url(_int_bytes(pub_ec.y, size)))
    return out


def bundle(row: VaultKey, uri: str, level: str, days: int | None, *, item: bool = False,
           versioned: bool = False) -> dict[str, Any]:
    """KeyBundle (item=False) or KeyItem (`kid` with its version only in version lists), and their Deleted…
    forms."""
    out: dict[str, Any] = deleted_fields(uri, KEYS, row)
    if item:
        out["kid"] = f"{uri}keys/{row.name}/{row.version}" if versioned else f"{uri}keys/{row.name}"
    else:
        out["key"] = jwk(row, uri)
    attrs = attributes(row, level, days)
    attrs["exportable"] = False
    out["attributes"] = attrs
    if row.tags:
        out["tags"] = dict(row.tags)
    return out


# --- cryptographic operations ---------------------------------------------------------------------------------

def usable(row: VaultKey, operation: str) -> PrivateKey:
    """The private key, when the version is enabled and its key_ops allow `operation`."""
    if not row.enabled:
        raise VaultError(403, "Forbidden", f"Operation {operation} is not allowed on a disabled key.",
                         inner="KeyDisabled")
    if operation not in (row.key_ops or []):
        raise VaultError(403, "Forbidden", f"Operation {operation} is not permitted on this key.",
                         inner="KeyOperationForbidden")
    return load(row)


def _rsa_padding(alg: Any) -> padding.AsymmetricPadding:
    if alg == "RSA-OAEP":
        return padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    if alg == "RSA-OAEP-256":
        return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    if alg == "RSA1_5":
        return padding.PKCS1v15()
    raise bad_parameter(f"Invalid algorithm: {alg}. Supported algorithms for RSA keys: RSA-OAEP, RSA-OAEP-256, "
                        "RSA1_5.")


def cipher(row: VaultKey, operation: str, body: Any) -> bytes:
    """encrypt / decrypt / wrapKey / unwrapKey with RSA: {alg, value} -> the result bytes."""
    if not isinstance(body, dict):
        raise bad_parameter("The request body must be a JSON object.")
    key = usable(row, operation)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise bad_parameter(f"Operation {operation} is not supported for key type {row.kty}.")
    pad = _rsa_padding(body.get("alg"))
    data = unb64url(body.get("value"))
    try:
        if operation in ("encrypt", "wrapKey"):
            return key.public_key().encrypt(data, pad)
        return key.decrypt(data, pad)
    except ValueError as e:
        raise bad_parameter(f"The {operation} operation failed: the value does not fit this key and algorithm.") \
            from e


def _signature_scheme(row: VaultKey, key: PrivateKey, alg: Any) -> tuple[Any, hashes.HashAlgorithm]:
    alg = str(alg or "")
    if isinstance(key, rsa.RSAPrivateKey) and alg[:2] in ("RS", "PS") and alg[2:] in _HASHES:
        h = _HASHES[alg[2:]]()
        pad = padding.PKCS1v15() if alg.startswith("RS") else padding.PSS(mgf=padding.MGF1(h),
                                                                         salt_length=h.digest_size)
        return pad, h
    if isinstance(key, ec.EllipticCurvePrivateKey) and alg in _EC_ALGS and _EC_ALGS[alg][0] == row.curve:
        return None, _EC_ALGS[alg][1]()
    raise bad_parameter(f"Invalid algorithm: {alg} is not valid for key type {row.kty}"
                        + (f" and curve {row.curve}." if row.curve else "."))


def _digest(body: Any, field: str, h: hashes.HashAlgorithm) -> bytes:
    digest = unb64url(body.get(field), field)
    if len(digest) != h.digest_size:
        raise bad_parameter(f"Invalid digest length: {len(digest)} bytes; the algorithm expects {h.digest_size}.")
    return digest


def sign(row: VaultKey, body: Any) -> bytes:
    """{alg, value: the digest} -> the signature (EC: r||s as JWS wants it)."""
    if not isinstance(body, dict):
        raise bad_parameter("The request body must be a JSON object.")
    key = usable(row, "sign")
    pad, h = _signature_scheme(row, key, body.get("alg"))
    digest = _digest(body, "value", h)
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(digest, pad, utils.Prehashed(h))
    r, s = utils.decode_dss_signature(key.sign(digest, ec.ECDSA(utils.Prehashed(h))))
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def verify(row: VaultKey, body: Any) -> bool:
    """{alg, digest, value: the signature} -> whether it verifies."""
    if not isinstance(body, dict):
        raise bad_parameter("The request body must be a JSON object.")
    key = usable(row, "verify")
    pad, h = _signature_scheme(row, key, body.get("alg"))
    digest = _digest(body, "digest", h)
    signature = unb64url(body.get("value"))
    try:
        if isinstance(key, rsa.RSAPrivateKey):
            key.public_key().verify(signature, digest, pad, utils.Prehashed(h))
        else:
            size = (key.curve.key_size + 7) // 8
            if len(signature) != 2 * size:
                return False
            der = utils.encode_dss_signature(int.from_bytes(signature[:size], "big"),
                                             int.from_bytes(signature[size:], "big"))
            key.public_key().verify(der, digest, ec.ECDSA(utils.Prehashed(h)))
    except InvalidSignature:
        return False
    return True


def record_operation(ctx: Ctx, vault: VaultLike, row: VaultKey, operation: str, body: Any) -> None:
    alg = body.get("alg") if isinstance(body, dict) else None
    events.record(ctx, f"keyvault.key.{operation}", subject(vault, KEYS, row.name), version=row.version, alg=alg)


# --- backup / restore -----------------------------------------------------------------------------------------

def backup(ctx: Ctx, vault: VaultLike, name: str) -> str:
    check_name(name)
    rows = active_rows(ctx, KEYS, vault, name)
    versions = [{"version": r.version, "kty": r.kty, "key_ops": r.key_ops, "pem": r.private_key_pem,
                 "curve": r.curve, "tags": r.tags, "enabled": r.enabled, "nbf": r.not_before, "exp": r.expires,
                 "created": r.created_at, "updated": r.updated_at} for r in rows]
    events.record(ctx, "keyvault.key.backedUp", subject(vault, KEYS, rows[-1].name))
    return encode_blob({"kind": "key", "subscription": vault.subscription_id, "name": rows[-1].name,
                        "versions": versions})


def restore(ctx: Ctx, vault: VaultLike, blob: Any) -> VaultKey:
    payload = decode_blob(blob, KEYS)
    name = check_restore(ctx, KEYS, vault, payload)
    row = None
    for v in payload["versions"]:
        row = VaultKey(vault_name=vault.name, name=name, name_key=name.lower(), version=v["version"], kty=v["kty"],
                       key_ops=v.get("key_ops") or [], private_key_pem=v["pem"], curve=v.get("curve"),
                       tags=v.get("tags") or {}, enabled=bool(v.get("enabled", True)), not_before=v.get("nbf"),
                       expires=v.get("exp"), created_at=v["created"], updated_at=v["updated"])
        ctx.session.add(row)
    ctx.session.flush()
    events.record(ctx, "keyvault.key.restored", subject(vault, KEYS, name))
    assert row is not None
    return row
