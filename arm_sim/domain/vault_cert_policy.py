"""A Key Vault certificate's management policy: validation, Key Vault's defaults, and its wire form.

The stored form is the wire form without `id` (`key_props`, `secret_props`, `x509_props`, `lifetime_actions`,
`issuer`, `attributes`), with every default filled in, so GET answers exactly what the certificate was made with.
"""

from __future__ import annotations

from typing import Any

from arm_sim.domain.vault_secrets import bad_parameter

PKCS12 = "application/x-pkcs12"
PEM = "application/x-pem-file"
CONTENT_TYPES = (PKCS12, PEM)
KEY_TYPES = ("RSA", "RSA-HSM", "EC", "EC-HSM")
RSA_SIZES = (2048, 3072, 4096)
CURVES = ("P-256", "P-384", "P-521", "P-256K")
KEY_USAGES = ("digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement",
              "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly")
SERVER_AUTH, CLIENT_AUTH = "1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"
DEFAULT_EKUS = [SERVER_AUTH, CLIENT_AUTH]
DEFAULT_KEY_USAGE = ["digitalSignature", "keyEncipherment"]
DEFAULT_LIFETIME_ACTIONS = [{"trigger": {"lifetime_percentage": 80}, "action": {"action_type": "EmailContacts"}}]
SELF, UNKNOWN = "Self", "Unknown"
SAN_FIELDS = ("emails", "dns_names", "upns", "uris", "ipAddresses")


def obj(raw: Any, field: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise bad_parameter(f"The parameter '{field}' must be a JSON object.")
    return raw


def _strings(raw: Any, field: str) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise bad_parameter(f"The parameter '{field}' must be an array of strings.")
    return list(raw)


def _bool(raw: Any, field: str, default: bool) -> bool:
    if raw is None:
        return default
    if not isinstance(raw, bool):
        raise bad_parameter(f"The parameter '{field}' must be true or false.")
    return raw


def _key_props(raw: Any) -> dict[str, Any]:
    kp = obj(raw, "policy.key_props")
    kty = kp.get("kty") or "RSA"
    if kty not in KEY_TYPES:
        raise bad_parameter(f"The key type '{kty}' is not supported for certificates. Supported key types: RSA, "
                            "RSA-HSM, EC, EC-HSM.")
    out: dict[str, Any] = {"exportable": _bool(kp.get("exportable"), "policy.key_props.exportable", True),
                           "kty": kty}
    if kty.startswith("RSA"):
        size = kp.get("key_size") or 2048
        if size not in RSA_SIZES:
            raise bad_parameter(f"The key size {size} is not supported for key type {kty}. Supported sizes: 2048, "
                                "3072, 4096.")
        out["key_size"] = size
    else:
        crv = kp.get("crv") or "P-256"
        if crv not in CURVES:
            raise bad_parameter(f"The curve {crv} is not supported. Supported curves: P-256, P-384, P-521, P-256K.")
        out["key_size"] = {"P-256": 256, "P-256K": 256, "P-384": 384, "P-521": 521}[crv]
        out["crv"] = crv
    out["reuse_key"] = _bool(kp.get("reuse_key"), "policy.key_props.reuse_key", False)
    return out


def _x509_props(raw: Any) -> dict[str, Any]:
    xp = obj(raw, "policy.x509_props")
    out: dict[str, Any] = {}
    subject = xp.get("subject")
    if subject is not None:
        if not isinstance(subject, str):
            raise bad_parameter("The parameter 'policy.x509_props.subject' must be a string.")
        out["subject"] = subject
    sans_raw = obj(xp.get("sans"), "policy.x509_props.sans")
    sans = {f: _strings(sans_raw.get(f), f"policy.x509_props.sans.{f}") for f in SAN_FIELDS}
    if any(sans.values()):
        out["sans"] = {f: v for f, v in sans.items() if v}
    out["ekus"] = _strings(xp.get("ekus"), "policy.x509_props.ekus") if xp.get("ekus") is not None \
        else list(DEFAULT_EKUS)
    usage = _strings(xp.get("key_usage"), "policy.x509_props.key_usage") if xp.get("key_usage") is not None \
        else list(DEFAULT_KEY_USAGE)
    for u in usage:
        if u not in KEY_USAGES:
            raise bad_parameter(f"Invalid key usage: {u}.")
    out["key_usage"] = usage
    months = xp.get("validity_months", 12)
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 1200:
        raise bad_parameter("The parameter 'policy.x509_props.validity_months' must be a whole number of months "
                            "between 1 and 1200.")
    out["validity_months"] = months
    return out


def _issuer(raw: Any) -> dict[str, Any]:
    ip = obj(raw, "policy.issuer")
    name = ip.get("name") or UNKNOWN
    if not isinstance(name, str):
        raise bad_parameter("The parameter 'policy.issuer.name' must be a string.")
    # Key Vault answers the two built-in issuers in its own spelling, whatever case the client sent.
    out: dict[str, Any] = {"name": {"self": SELF, "unknown": UNKNOWN}.get(name.lower(), name)}
    if ip.get("cty") is not None:
        out["cty"] = ip["cty"]
    if ip.get("cert_transparency") is not None:
        out["cert_transparency"] = _bool(ip["cert_transparency"], "policy.issuer.cert_transparency", False)
    return out


def _lifetime_actions(raw: Any) -> list[Any]:
    if raw is None:
        return [dict(a) for a in DEFAULT_LIFETIME_ACTIONS]
    if not isinstance(raw, list) or not all(isinstance(a, dict) for a in raw):
        raise bad_parameter("The parameter 'policy.lifetime_actions' must be an array of objects.")
    for a in raw:
        action = obj(a.get("action"), "policy.lifetime_actions.action").get("action_type")
        if action not in ("EmailContacts", "AutoRenew"):
            raise bad_parameter(f"Invalid lifetime action type: {action}. Valid values: EmailContacts, AutoRenew.")
    return list(raw)


def normalize(raw: Any, now: int, *, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """A policy as a request sent it (sections absent keep `previous`'s, else take Key Vault's defaults)."""
    body = obj(raw, "policy")
    prev = previous or {}

    def section(name: str) -> Any:
        return body[name] if body.get(name) is not None else prev.get(name)

    secret = obj(section("secret_props"), "policy.secret_props")
    content_type = secret.get("contentType") or PKCS12
    if content_type not in CONTENT_TYPES:
        raise bad_parameter(f"The content type '{content_type}' is not supported. Supported content types: "
                            f"{PKCS12}, {PEM}.")
    enabled = _bool(obj(body.get("attributes"), "policy.attributes").get("enabled"), "policy.attributes.enabled",
                    bool((prev.get("attributes") or {}).get("enabled", True)))
    created = int((prev.get("attributes") or {}).get("created", now))
    return {"key_props": _key_props(section("key_props")), "secret_props": {"contentType": content_type},
            "x509_props": _x509_props(section("x509_props")),
            "lifetime_actions": _lifetime_actions(section("lifetime_actions")),
            "issuer": _issuer(section("issuer")),
            "attributes": {"enabled": enabled, "created": created, "updated": now}}


def require_subject(policy: dict[str, Any]) -> None:
    """Creating a certificate needs a subject or at least one subject alternative name."""
    xp = policy["x509_props"]
    if not xp.get("subject") and not xp.get("sans"):
        raise bad_parameter("Property policy.x509_props.subject or policy.x509_props.sans is required: a "
                            "certificate needs a subject or at least one subject alternative name.")


def render(policy: dict[str, Any], uri: str, name: str) -> dict[str, Any]:
    return {"id": f"{uri}certificates/{name}/policy", **policy}
