"""Key Vault certificates: import (PFX or PEM), create with the `Self` issuer (done at once) or the `Unknown` one
(pending with a CSR until a merge), versions, attributes and tags, the policy, the pending operation, and soft
delete / recover / purge.

As in Key Vault, a certificate is backed by a managed secret and a managed key of the same name and version. Here a
certificate version *is* its managed secret's version (`VaultSecret` whose `certificate` holds the X.509, the
policy and the pending operation) plus a `VaultKey` row, so versions and soft delete go through the machinery
secrets and keys share (`vault_secrets.Kind`), with the certificate's own wording. The policy in force is the one on
the latest version. Values and private keys are never logged.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from arm_sim.db.models import VaultKey, VaultSecret
from arm_sim.domain import events
from arm_sim.domain import vault_cert_policy as cp
from arm_sim.domain import vault_cert_x509 as cx
from arm_sim.domain import vault_secrets as vs
from arm_sim.domain.context import Ctx
from arm_sim.domain.vault_keys import EC_OPS, KEYS, RSA_OPS
from arm_sim.domain.vault_secrets import Kind, VaultError, bad_parameter, subject
from arm_sim.domain.vaults import VaultLike

CERTIFICATES = Kind(VaultSecret, "certificate", "certificates", "deletedcertificates", "CertificateNotFound")
IN_PROGRESS, COMPLETED = "inProgress", "completed"
PENDING_DETAILS = ("Pending certificate created. Certificate request is in progress. This may take some time based "
                   "on the issuer provider. Please check again later.")
MERGE_DETAILS = "Pending certificate created. Please Perform Merge to complete the request."


# --- errors ---------------------------------------------------------------------------------------------------

def pending_not_found(name: str) -> VaultError:
    return VaultError(404, "PendingCertificateNotFound", f"Pending certificate not found: {name}")


def managed_refused(operation: str, noun: str) -> VaultError:
    """Setting or deleting a certificate's secret or key directly (Key Vault's 403)."""
    return VaultError(403, "Forbidden", f'Operation "{operation}" is not allowed as this object\'s lifetime is '
                                        "managed by Key Vault.", inner=f"{noun.capitalize()}ManagedByKeyVault")


def _issuer_not_configured(issuer: str) -> VaultError:
    """A GUESS (status, code and wording): Azure's answer to a create naming an issuer the vault has no issuer
    object for was not found. Searched (2026-12-08): azure-sdk-for-net's Certificates CertificateClientLiveTests.cs
    and its SessionRecords (VerifyCertificateOperationError uses a *configured* DigiCert issuer with bad credentials:
    202, then an operation that ends `failed`), azure-cli's keyvault recordings (test_keyvault_pending_certificate:
    only `Unknown`), azure-sdk-for-js's certificate recordings, GitHub issues of the SDKs and of
    terraform-provider-azurerm, and Microsoft Learn's certificate creation scenarios (only configured issuers); again
    (2026-12-08, second pass) the issues, code, docs and pages corpora for "issuer not found", "issuer was not found",
    "IssuerNotFound", "CertificateIssuerNotFound", a `BadParameter` naming an issuer, and the REST reference for
    create-certificate/set-certificate-issuer (no error example). The one issuer error on record is for setting an
    issuer, 400 `BadParameter` "Id in organization details is not set" (Azure/azure-sdk-for-java#29166): the code
    Key Vault uses for bad input, hence `BadParameter` here."""
    return VaultError(400, "BadParameter",
                      f"Issuer '{issuer}' is not configured in this vault: a certificate's issuer must be 'Self', "
                      "'Unknown' or an issuer set on the vault (arm-sim does not simulate certificate issuers).")


def _body(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise bad_parameter("The request body must be a JSON object.")
    return raw


# --- reading --------------------------------------------------------------------------------------------------

def managed_names(ctx: Ctx, vault: VaultLike) -> set[str]:
    """The (case-folded) names whose secret and key back a certificate, live or soft-deleted."""
    q = select(VaultSecret.name_key).where(VaultSecret.vault_name == vault.name,
                                           VaultSecret.certificate.is_not(None)).distinct()
    return set(ctx.session.scalars(q))


def is_managed(ctx: Ctx, vault: VaultLike, name: str) -> bool:
    q = select(VaultSecret.id).where(VaultSecret.vault_name == vault.name, VaultSecret.name_key == name.lower(),
                                     VaultSecret.certificate.is_not(None)).limit(1)
    return ctx.session.scalar(q) is not None


def _live(ctx: Ctx, vault: VaultLike, name: str) -> list[Any]:
    vs.check_name(name)
    rows = vs.active_rows(ctx, CERTIFICATES, vault, name)
    if rows[-1].certificate is None:
        raise vs.not_found(CERTIFICATES, name)
    return rows


def get(ctx: Ctx, vault: VaultLike, name: str, version: str | None) -> Any:
    """The latest version (version empty) or the named one, as a read-only snapshot."""
    row = vs.read_row(ctx, CERTIFICATES, vault, name, version)
    if row.certificate is None:
        raise vs.not_found(CERTIFICATES, name, version)
    return row


def current_policy(ctx: Ctx, vault: VaultLike, name: str) -> dict[str, Any]:
    return dict(get(ctx, vault, name, None).certificate["policy"])


def listing(ctx: Ctx, vault: VaultLike, *, deleted: bool, include_pending: bool = True) -> list[Any]:
    rows = [r for r in vs.latest_per_name(ctx, CERTIFICATES, vault, deleted=deleted) if r.certificate is not None]
    return rows if include_pending else [r for r in rows if r.certificate.get("cer")]


def versions(ctx: Ctx, vault: VaultLike, name: str) -> list[Any]:
    return _live(ctx, vault, name)


def deleted(ctx: Ctx, vault: VaultLike, name: str) -> list[Any]:
    rows = vs.deleted_rows(ctx, CERTIFICATES, vault, name)
    if rows[-1].certificate is None:
        raise vs.deleted_not_found(CERTIFICATES, name)
    return rows


# --- making versions ------------------------------------------------------------------------------------------

def _claim_name(ctx: Ctx, vault: VaultLike, name: str) -> tuple[str, list[VaultKey]]:
    """The name's display form and its managed key's versions; refuses names held by a plain secret or key (a
    certificate's secret and key take its name) and soft-deleted names."""
    vs.check_name(name)
    secrets = vs.ensure_name_free(ctx, CERTIFICATES, vault, name)
    if secrets and secrets[-1].certificate is None:
        raise VaultError(409, "Conflict", f"A secret named {name} already exists and is not managed by a "
                                          "certificate: a certificate's secret cannot take its name.")
    keys = vs.ensure_name_free(ctx, KEYS, vault, name)
    if keys and not secrets:
        raise VaultError(409, "Conflict", f"A key named {name} already exists and is not managed by a certificate: "
                                          "a certificate's key cannot take its name.")
    return (secrets[-1].name if secrets else name), keys


def _enabled(attrs: Any) -> bool:
    probe = VaultSecret(enabled=True, not_before=None, expires=None)
    vs.apply_attributes(probe, attrs)
    return bool(probe.enabled)


def _store(ctx: Ctx, vault: VaultLike, name: str, material: cx.Material | None, key: cx.PrivateKey,
           policy: dict[str, Any], body: dict[str, Any], operation: dict[str, Any] | None) -> VaultSecret:
    """A new version: the managed secret (carrying the certificate) and the managed key, one version id."""
    version, now = vs.new_version(), int(ctx.now)
    content_type = policy["secret_props"]["contentType"]
    nbf, exp = cx.times(material.leaf) if material else (None, None)
    enabled = material is not None and _enabled(body.get("attributes"))  # a pending certificate stays disabled
    row = VaultSecret(vault_name=vault.name, name=name, name_key=name.lower(), version=version,
                      value=cx.secret_value(material, content_type) if material else "", content_type=content_type,
                      tags=vs.check_tags(body.get("tags")), enabled=enabled, not_before=nbf, expires=exp,
                      created_at=now, updated_at=now,
                      certificate={"cer": cx.der(material.leaf) if material else None, "policy": policy,
                                   "operation": operation})
    kty = policy["key_props"]["kty"]
    key_row = VaultKey(vault_name=vault.name, name=name, name_key=name.lower(), version=version, kty=kty,
                       key_ops=list(RSA_OPS if kty.startswith("RSA") else EC_OPS),
                       private_key_pem=cx.private_pem(key), curve=policy["key_props"].get("crv"), tags={},
                       enabled=enabled, not_before=nbf, expires=exp, created_at=now, updated_at=now)
    ctx.session.add_all([row, key_row])
    ctx.session.flush()
    return row


def import_certificate(ctx: Ctx, vault: VaultLike, name: str, body: Any) -> VaultSecret:
    """POST /certificates/{name}/import: {value (base64 PFX, or PEM), pwd?, policy?, attributes?, tags?}."""
    vs.check_name(name)
    body = _body(body)
    material, found_type = cx.load_import(body.get("value"), body.get("pwd"))
    given = cp.obj(body.get("policy"), "policy")
    secret_props = cp.obj(given.get("secret_props"), "policy.secret_props")
    key_props = cp.obj(given.get("key_props"), "policy.key_props")
    # the imported certificate itself says what its key and X.509 properties are
    policy = cp.normalize({**given, "key_props": {**cx.key_props_of(material.key, key_props.get("exportable", True)),
                                                  "reuse_key": key_props.get("reuse_key")},
                           "x509_props": cx.x509_props_of(material.leaf),
                           "secret_props": {"contentType": secret_props.get("contentType") or found_type},
                           "issuer": given.get("issuer") or {"name": cp.UNKNOWN}}, int(ctx.now))
    display, _ = _claim_name(ctx, vault, name)
    row = _store(ctx, vault, display, material, material.key, policy, body, None)
    events.record(ctx, "keyvault.certificate.imported", subject(vault, CERTIFICATES, display), version=row.version,
                  thumbprint=cx.x5t(row.certificate["cer"]) if row.certificate else None)
    return row


def create(ctx: Ctx, vault: VaultLike, name: str, body: Any) -> VaultSecret:
    """POST /certificates/{name}/create: {policy, attributes?, tags?}. `Self` completes at once; `Unknown` leaves
    the operation pending with its CSR until a merge."""
    vs.check_name(name)
    body = _body(body)
    if body.get("policy") is None:
        raise bad_parameter("The parameter 'policy' is required to create a certificate.")
    policy = cp.normalize(body["policy"], int(ctx.now))
    cp.require_subject(policy)
    issuer = policy["issuer"]["name"]
    if issuer not in (cp.SELF, cp.UNKNOWN):
        raise _issuer_not_configured(issuer)
    cx.parse_subject(policy["x509_props"].get("subject") or "")  # refused before a key is paid for
    display, keys = _claim_name(ctx, vault, name)
    live_keys = [k for k in keys if k.deleted_at is None]
    if policy["key_props"]["reuse_key"] and live_keys and live_keys[-1].kty == policy["key_props"]["kty"]:
        key = cx.load_private_pem(live_keys[-1].private_key_pem)
    else:
        key = cx.generate_key(policy["key_props"])
    operation: dict[str, Any] = {"issuer": dict(policy["issuer"]), "csr": cx.b64(cx.csr(key, policy["x509_props"])),
                                 "cancellation_requested": False, "request_id": uuid.uuid4().hex}
    material = None
    if issuer == cp.SELF:
        material = cx.Material(key, cx.self_signed(key, policy["x509_props"], ctx.now), [])
        operation["status"] = COMPLETED
    else:
        operation.update(status=IN_PROGRESS, status_details=MERGE_DETAILS)
    row = _store(ctx, vault, display, material, key, policy, body, operation)
    events.record(ctx, "keyvault.certificate.created", subject(vault, CERTIFICATES, display), version=row.version,
                  issuer=issuer, status=operation["status"])
    return row


# --- the pending operation ------------------------------------------------------------------------------------

def operation_row(ctx: Ctx, vault: VaultLike, name: str) -> VaultSecret:
    """The latest version, holding the certificate's operation (404 PendingCertificateNotFound without one)."""
    vs.check_name(name)
    rows = [r for r in vs.all_rows(ctx, CERTIFICATES, vault, name) if r.deleted_at is None]
    if not rows or rows[-1].certificate is None or not rows[-1].certificate.get("operation"):
        raise pending_not_found(name)
    row: VaultSecret = rows[-1]
    return row


def _set_operation(row: VaultSecret, operation: dict[str, Any] | None, **fields: Any) -> None:
    # the column is plain JSON: a changed copy is assigned so the unit of work sees the change
    row.certificate = {**(row.certificate or {}), "operation": operation, **fields}


def cancel(ctx: Ctx, vault: VaultLike, name: str, body: Any) -> VaultSecret:
    """PATCH /certificates/{name}/pending: {cancellation_requested}."""
    body = _body(body)
    flag = body.get("cancellation_requested")
    if not isinstance(flag, bool):
        raise bad_parameter("The parameter 'cancellation_requested' is required and must be true or false.")
    row = operation_row(ctx, vault, name)
    assert row.certificate is not None
    _set_operation(row, {**row.certificate["operation"], "cancellation_requested": flag})
    events.record(ctx, "keyvault.certificate.operationUpdated", subject(vault, CERTIFICATES, row.name),
                  cancellation_requested=flag)
    return row


def delete_operation(ctx: Ctx, vault: VaultLike, name: str) -> dict[str, Any]:
    """DELETE /certificates/{name}/pending: the operation as it was, now gone."""
    row = operation_row(ctx, vault, name)
    assert row.certificate is not None
    operation = dict(row.certificate["operation"])
    _set_operation(row, None)
    events.record(ctx, "keyvault.certificate.operationDeleted", subject(vault, CERTIFICATES, row.name))
    return operation


def merge(ctx: Ctx, vault: VaultLike, name: str, body: Any) -> VaultSecret:
    """POST /certificates/{name}/pending/merge: {x5c, attributes?, tags?}: the CA's answer to the pending CSR."""
    body = _body(body)
    row = operation_row(ctx, vault, name)
    assert row.certificate is not None
    operation = row.certificate["operation"]
    if operation.get("status") != IN_PROGRESS:
        raise pending_not_found(name)
    certs = cx.leaf_from_x5c(body.get("x5c"))
    key_row = ctx.session.scalar(select(VaultKey).where(VaultKey.vault_name == vault.name,
                                                        VaultKey.name_key == name.lower(),
                                                        VaultKey.version == row.version))
    assert key_row is not None
    key = cx.load_private_pem(key_row.private_key_pem)
    if not cx.matches(key, certs[0]):
        raise bad_parameter("Public key from x509 certificate and key of this instance doesn't match")
    material = cx.Material(key, certs[0], certs[1:])
    row.value = cx.secret_value(material, row.content_type or cp.PKCS12)
    row.not_before, row.expires = key_row.not_before, key_row.expires = cx.times(certs[0])
    row.enabled = key_row.enabled = _enabled(body.get("attributes"))
    if body.get("tags") is not None:
        row.tags = vs.check_tags(body["tags"])
    row.updated_at = key_row.updated_at = int(ctx.now)
    done = {k: v for k, v in operation.items() if k != "status_details"}
    _set_operation(row, {**done, "status": COMPLETED}, cer=cx.der(certs[0]))
    events.record(ctx, "keyvault.certificate.merged", subject(vault, CERTIFICATES, row.name), version=row.version)
    return row


# --- changing a certificate -----------------------------------------------------------------------------------

def update_policy(ctx: Ctx, vault: VaultLike, name: str, body: Any) -> dict[str, Any]:
    """PATCH /certificates/{name}/policy: the sections sent replace the current ones (for the next versions)."""
    body = _body(body)
    row: VaultSecret = _live(ctx, vault, name)[-1]
    assert row.certificate is not None
    policy = cp.normalize(body, int(ctx.now), previous=row.certificate["policy"])
    row.certificate = {**row.certificate, "policy": policy}
    events.record(ctx, "keyvault.certificate.policyUpdated", subject(vault, CERTIFICATES, row.name))
    return policy


def update(ctx: Ctx, vault: VaultLike, name: str, version: str | None, body: Any) -> VaultSecret:
    """PATCH /certificates/{name}/{version}: {attributes: {enabled}, tags, policy?}. nbf/exp are the X.509's."""
    body = _body(body)
    _live(ctx, vault, name)
    row: VaultSecret = vs.get_row(ctx, CERTIFICATES, vault, name, version)
    attrs = body.get("attributes")
    if attrs is not None:
        if not isinstance(attrs, dict):
            raise bad_parameter("The parameter 'attributes' must be a JSON object.")
        row.enabled = _enabled({"enabled": attrs.get("enabled")}) if attrs.get("enabled") is not None \
            else row.enabled
    if "tags" in body:
        row.tags = vs.check_tags(body["tags"])
    if body.get("policy") is not None:
        update_policy(ctx, vault, name, body["policy"])
    row.updated_at = int(ctx.now)
    key_row = ctx.session.scalar(select(VaultKey).where(VaultKey.vault_name == vault.name,
                                                        VaultKey.name_key == name.lower(),
                                                        VaultKey.version == row.version))
    if key_row is not None:  # the managed key follows the certificate's enabled state
        key_row.enabled, key_row.updated_at = row.enabled, row.updated_at
    events.record(ctx, "keyvault.certificate.updated", subject(vault, CERTIFICATES, row.name), version=row.version)
    return row


# --- soft delete ----------------------------------------------------------------------------------------------

def _key_rows(ctx: Ctx, vault: VaultLike, name: str) -> list[Any]:
    return vs.all_rows(ctx, KEYS, vault, name)


def remove(ctx: Ctx, vault: VaultLike, name: str) -> Any:
    """DELETE /certificates/{name}: every version, with its managed secret and key."""
    _live(ctx, vault, name)
    row = vs.remove(ctx, CERTIFICATES, vault, name)
    if any(k.deleted_at is None for k in _key_rows(ctx, vault, name)):
        vs.remove(ctx, KEYS, vault, name)
    return row


def recover(ctx: Ctx, vault: VaultLike, name: str) -> Any:
    deleted(ctx, vault, name)
    row = vs.recover(ctx, CERTIFICATES, vault, name)
    keys = _key_rows(ctx, vault, name)
    if keys and keys[-1].deleted_at is not None:
        vs.recover(ctx, KEYS, vault, name)
    return row


def purge(ctx: Ctx, vault: VaultLike, name: str) -> None:
    deleted(ctx, vault, name)
    vs.purge(ctx, CERTIFICATES, vault, name)  # refuses under purge protection before anything is removed
    keys = _key_rows(ctx, vault, name)
    if keys and keys[-1].deleted_at is not None:
        vs.purge(ctx, KEYS, vault, name)


# --- rendering ------------------------------------------------------------------------------------------------

def bundle(row: Any, uri: str, level: str, days: int | None, policy: dict[str, Any] | None, *,
           versioned: bool = True) -> dict[str, Any]:
    """CertificateBundle (policy given) or CertificateItem (policy None), and their Deleted… forms."""
    cert = row.certificate or {}
    out: dict[str, Any] = vs.deleted_fields(uri, CERTIFICATES, row)
    out["id"] = f"{uri}certificates/{row.name}/{row.version}" if versioned else f"{uri}certificates/{row.name}"
    if policy is not None:
        out["kid"] = f"{uri}keys/{row.name}/{row.version}"
        out["sid"] = f"{uri}secrets/{row.name}/{row.version}"
    if cert.get("cer"):
        out["x5t"] = cx.x5t(cert["cer"])
        if policy is not None:
            out["cer"] = cert["cer"]
    out["attributes"] = vs.attributes(row, level, days)
    if policy is not None:
        out["policy"] = cp.render(policy, uri, row.name)
    if row.tags:
        out["tags"] = dict(row.tags)
    return out


def operation_of(row: Any) -> dict[str, Any]:
    operation: dict[str, Any] = (row.certificate or {}).get("operation") or {}
    return operation


def policy_of(row: Any) -> dict[str, Any]:
    policy: dict[str, Any] = (row.certificate or {}).get("policy") or {}
    return policy


def render_policy(policy: dict[str, Any], uri: str, name: str) -> dict[str, Any]:
    return cp.render(policy, uri, name)


def render_operation(operation: dict[str, Any], uri: str, name: str, *, just_created: bool = False) -> dict[str, Any]:
    """CertificateOperation. A create answers its operation as still in progress, as Key Vault's first answer
    does, even when the `Self` issuer has already completed it (GET …/pending then reports `completed`)."""
    status = operation["status"]
    out: dict[str, Any] = {"id": f"{uri}certificates/{name}/pending", "issuer": operation["issuer"],
                           "csr": operation["csr"], "cancellation_requested": operation["cancellation_requested"]}
    if just_created and status == COMPLETED:
        out.update(status=IN_PROGRESS, status_details=PENDING_DETAILS)
    else:
        out["status"] = status
        if operation.get("status_details"):
            out["status_details"] = operation["status_details"]
        if status == COMPLETED:
            out["target"] = f"{uri}certificates/{name}"
    out["request_id"] = operation["request_id"]
    return out

