"""Certificates on the data plane: /certificates… and /deletedcertificates… (Key Vault REST 7.x), and the managed
secret and key behind each certificate as /secrets… and /keys… show them (`kid`, `managed: true`; setting or
deleting them directly is refused, as Key Vault refuses it).

Issuers, contacts, backup and restore answer 501 (not simulated).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from arm_sim.core.errors import not_implemented
from arm_sim.domain import vault_certificates as vc
from arm_sim.domain import vault_secrets as vs
from arm_sim.domain.vault_access import CERT_OPS as OPS
from arm_sim.domain.vault_access import KEY_OPS, SECRET_OPS
from arm_sim.hosts.http import json_response
from arm_sim.hosts.keyvault.call import VaultCall, no_content, ok

Handler = Callable[[VaultCall], Response | None]
UNSUPPORTED = {"contacts": "Key Vault certificate contacts", "issuers": "Key Vault certificate issuers",
               "restore": "Key Vault certificate backup and restore"}


def _bundle(c: VaultCall, row: Any, policy: dict[str, Any] | None, *, versioned: bool = True) -> dict[str, Any]:
    level, days = c.recovery()
    return vc.bundle(row, c.uri, level, days, policy, versioned=versioned)


def _full(c: VaultCall, row: Any) -> dict[str, Any]:
    """The CertificateBundle of `row`, with the policy in force (the latest version's)."""
    return _bundle(c, row, vc.current_policy(c.ctx, c.vault, row.name))


def handle(c: VaultCall) -> Response | None:
    # HEAD answers exactly as GET (the server sends no body with it)
    m, segs = ("GET" if c.method == "HEAD" else c.method), c.segs
    if segs[0] == "certificates":
        return _certificates(c, m, segs[1:])
    return _deleted(c, m, segs[1:])


def _certificates(c: VaultCall, m: str, rest: list[str]) -> Response | None:
    if not rest or rest == [""]:
        if m == "GET":
            c.authorize(OPS["list"])
            pending = c.query.get("includePending", "").lower() == "true"
            rows = vc.listing(c.ctx, c.vault, deleted=False, include_pending=pending)
            return c.listing(rows, lambda r: r.name_key, lambda r: _bundle(c, r, None, versioned=False))
        return None
    name = rest[0]
    if name.lower() in UNSUPPORTED:
        raise not_implemented(UNSUPPORTED[name.lower()])
    if rest[1:] == ["backup"]:
        raise not_implemented(UNSUPPORTED["restore"])
    if rest[1:] == ["create"] and m == "POST":
        c.authorize(OPS["create"], name)
        row = vc.create(c.ctx, c.vault, name, c.body)
        operation = vc.render_operation(vc.operation_of(row), c.uri, row.name, just_created=True)
        location = f"{c.uri}certificates/{row.name}/pending?api-version={c.api_version}"
        return json_response(operation, 202, {"Location": location, "Retry-After": "10"})
    if rest[1:] == ["import"] and m == "POST":
        c.authorize(OPS["import"], name)
        return ok(_full(c, vc.import_certificate(c.ctx, c.vault, name, c.body)))
    if len(rest) >= 2 and rest[1].lower() == "pending":
        return _pending(c, m, name, rest[2:])
    if rest[1:] == ["policy"]:
        if m == "GET":
            c.authorize(OPS["get"], name)
            row = vc.get(c.ctx, c.vault, name, None)
            return ok(vc.render_policy(vc.policy_of(row), c.uri, row.name))
        if m == "PATCH":
            c.authorize(OPS["update"], name)
            policy, shown = vc.update_policy(c.ctx, c.vault, name, c.body), vc.get(c.ctx, c.vault, name, None).name
            return ok(vc.render_policy(policy, c.uri, shown))
        return None
    if rest[1:] == ["versions"] and m == "GET":
        c.authorize(OPS["list"], name)
        rows = vc.versions(c.ctx, c.vault, name)
        return c.listing(rows, lambda r: f"{r.created_at:020.3f}{r.id:012d}", lambda r: _bundle(c, r, None))
    if len(rest) == 1 and m == "DELETE":
        c.authorize(OPS["delete"], name)
        policy = vc.current_policy(c.ctx, c.vault, name)  # read first: without soft delete the rows are gone after
        return ok(_bundle(c, vc.remove(c.ctx, c.vault, name), policy))
    version = rest[1] if len(rest) == 2 else None
    if len(rest) <= 2 and m == "GET":
        c.authorize(OPS["get"], name)
        return ok(_full(c, vc.get(c.ctx, c.vault, name, version)))
    if len(rest) <= 2 and m == "PATCH":
        c.authorize(OPS["update"], name)
        return ok(_full(c, vc.update(c.ctx, c.vault, name, version, c.body)))
    return None


def _pending(c: VaultCall, m: str, name: str, rest: list[str]) -> Response | None:
    if rest == ["merge"] and m == "POST":
        c.authorize(OPS["create"], name)
        row = vc.merge(c.ctx, c.vault, name, c.body)
        return json_response(_full(c, row), 201)
    if rest:
        return None
    if m == "GET":
        c.authorize(OPS["get"], name)
        row = vc.operation_row(c.ctx, c.vault, name)
        return ok(vc.render_operation(vc.operation_of(row), c.uri, row.name))
    if m == "PATCH":
        c.authorize(OPS["update"], name)
        row = vc.cancel(c.ctx, c.vault, name, c.body)
        return ok(vc.render_operation(vc.operation_of(row), c.uri, row.name))
    if m == "DELETE":
        c.authorize(OPS["delete"], name)
        return ok(vc.render_operation(vc.delete_operation(c.ctx, c.vault, name), c.uri, name))
    return None


def _deleted(c: VaultCall, m: str, rest: list[str]) -> Response | None:
    vs.require_soft_delete(c.ctx, vc.CERTIFICATES, c.vault)
    if not rest or rest == [""]:
        if m == "GET":
            c.authorize(OPS["listDeleted"])
            rows = vc.listing(c.ctx, c.vault, deleted=True)
            return c.listing(rows, lambda r: r.name_key, lambda r: _bundle(c, r, None, versioned=False))
        return None
    name = rest[0]
    if len(rest) == 1 and m == "GET":
        c.authorize(OPS["getDeleted"], name)
        row = vc.deleted(c.ctx, c.vault, name)[-1]
        return ok(_bundle(c, row, vc.policy_of(row)))
    if len(rest) == 1 and m == "DELETE":
        c.authorize(OPS["purge"], name)
        vc.purge(c.ctx, c.vault, name)
        return no_content()
    if rest[1:] == ["recover"] and m == "POST":
        c.authorize(OPS["recover"], name)
        return ok(_full(c, vc.recover(c.ctx, c.vault, name)))
    return None


# --- the managed secret and key -------------------------------------------------------------------------------
# The secrets and keys handlers answer as for any secret or key; these wrappers refuse the writes Key Vault
# refuses on a certificate's secret or key and add what it shows on them. Plain secrets pay a substring test
# (reads) or one indexed look-up (writes).

# (collection, method, path after the name) -> Key Vault's word for the refused operation, and the permission the
# caller is checked for first
_REFUSED = {
    ("secrets", "PUT", ()): ("set", "set"), ("secrets", "DELETE", ()): ("delete", "delete"),
    ("secrets", "PATCH", ()): ("update", "update"), ("secrets", "PATCH", ("*",)): ("update", "update"),
    ("keys", "PUT", ()): ("import", "import"), ("keys", "POST", ("create",)): ("create", "create"),
    ("keys", "DELETE", ()): ("delete", "delete"),
    ("keys", "PATCH", ()): ("update", "update"), ("keys", "PATCH", ("*",)): ("update", "update"),
    ("deleted", "DELETE", ()): ("purge", "purge"), ("deleted", "POST", ("recover",)): ("recover", "recover"),
}


def _refuse_managed_writes(c: VaultCall, family: str, ops: dict[str, Any]) -> None:
    rest = c.segs[1:]
    if not rest or not rest[0] or rest == ["restore"]:
        return
    collection = family if c.segs[0] == family else "deleted"
    tail = tuple(rest[1:])
    refused = _REFUSED.get((collection, c.method, tail))
    if refused is None and len(tail) == 1 and tail[0] not in ("create", "recover", "versions", "backup"):
        refused = _REFUSED.get((collection, c.method, ("*",)))
    if refused is None or not vc.is_managed(c.ctx, c.vault, rest[0]):
        return
    operation, permission = refused
    c.authorize(ops[permission], rest[0])  # a caller without the permission learns no more than that
    raise vc.managed_refused(operation, family[:-1])


def _read(response: Response) -> Any:
    return json.loads(bytes(response.body))


def _mark_items(c: VaultCall, response: Response, id_field: str) -> Response:
    managed = vc.managed_names(c.ctx, c.vault)
    if not managed:
        return response
    body = _read(response)
    for item in body.get("value") or []:
        parts = str(item.get(id_field, "")).split("/")  # https:, '', host, collection, name[, version]
        if len(parts) > 4 and parts[4].lower() in managed:
            item["managed"] = True
    return json_response(body, response.status_code)


def secrets(handle_secrets: Handler) -> Handler:
    def wrapped(c: VaultCall) -> Response | None:
        _refuse_managed_writes(c, "secrets", SECRET_OPS)
        response = handle_secrets(c)
        if response is None or response.status_code != 200 or c.method not in ("GET", "HEAD"):
            return response
        rest = c.segs[1:]
        if not rest or not rest[0] or rest[1:] == ["versions"]:
            return _mark_items(c, response, "id")
        if c.segs[0] == "secrets" and len(rest) <= 2 and b"application/x-p" in bytes(response.body):
            body = _read(response)  # only a certificate's content types get this far
            if vc.is_managed(c.ctx, c.vault, rest[0]):
                body["kid"] = body["id"].replace("/secrets/", "/keys/", 1)
                body["managed"] = True
                return json_response(body, response.status_code)
        return response

    return wrapped


def keys(handle_keys: Handler) -> Handler:
    def wrapped(c: VaultCall) -> Response | None:
        _refuse_managed_writes(c, "keys", KEY_OPS)
        response = handle_keys(c)
        if response is None or response.status_code != 200 or c.method not in ("GET", "HEAD"):
            return response
        rest = c.segs[1:]
        if not rest or not rest[0] or rest[1:] == ["versions"]:
            return _mark_items(c, response, "kid")
        if c.segs[0] == "keys" and len(rest) <= 2 and vc.is_managed(c.ctx, c.vault, rest[0]):
            body = _read(response)
            body["managed"] = True
            return json_response(body, response.status_code)
        return response

    return wrapped
