"""Keys on the data plane: /keys… and /deletedkeys… (create, import, get, list, update, delete, recover, purge,
backup/restore, and the cryptographic operations)."""

from __future__ import annotations

from starlette.responses import Response

from arm_sim.core.errors import not_implemented
from arm_sim.domain import vault_keys as vk
from arm_sim.domain import vault_secrets as vs
from arm_sim.domain.vault_access import KEY_OPS as OPS
from arm_sim.domain.vault_keys import KEYS
from arm_sim.hosts.keyvault.call import VaultCall, no_content, ok

# URL segment (lower-case, as clients send it) -> the operation's name in Azure's permission list
CRYPTO = {"encrypt": "encrypt", "decrypt": "decrypt", "wrapkey": "wrapKey", "unwrapkey": "unwrapKey",
          "sign": "sign", "verify": "verify"}
UNSUPPORTED = {"release": "key release", "rotate": "key rotation", "rotationpolicy": "key rotation policies",
               "attestation": "key attestation"}


def _bundle(c: VaultCall, row: vk.VaultKey, *, item: bool = False, versioned: bool = False) -> dict[str, object]:
    level, days = c.recovery()
    return vk.bundle(row, c.uri, level, days, item=item, versioned=versioned)


def handle(c: VaultCall) -> Response | None:
    # HEAD answers exactly as GET (the server sends no body with it)
    m, segs = ("GET" if c.method == "HEAD" else c.method), c.segs
    if segs[0] == "keys":
        return _keys(c, m, segs[1:])
    return _deleted(c, m, segs[1:])


def _keys(c: VaultCall, m: str, rest: list[str]) -> Response | None:
    if not rest or rest == [""]:
        if m == "GET":
            c.authorize(OPS["list"])
            rows = vs.latest_per_name(c.ctx, KEYS, c.vault, deleted=False)
            return c.listing(rows, lambda r: r.name_key, lambda r: _bundle(c, r, item=True))
        return None
    name = rest[0]
    if rest == ["restore"] and m == "POST":
        c.authorize(OPS["restore"])
        return ok(_bundle(c, vk.restore(c.ctx, c.vault, (c.body or {}).get("value"))))
    if len(rest) >= 2 and rest[-1].lower() in UNSUPPORTED:
        raise not_implemented(UNSUPPORTED[rest[-1].lower()])
    if rest[1:] == ["create"] and m == "POST":
        c.authorize(OPS["create"], name)
        return ok(_bundle(c, vk.create(c.ctx, c.vault, name, c.body)))
    if len(rest) == 1 and m == "PUT":
        c.authorize(OPS["import"], name)
        return ok(_bundle(c, vk.import_key(c.ctx, c.vault, name, c.body)))
    if len(rest) == 1 and m == "DELETE":
        c.authorize(OPS["delete"], name)
        return ok(_bundle(c, vs.remove(c.ctx, KEYS, c.vault, name)))
    if rest[1:] == ["versions"] and m == "GET":
        c.authorize(OPS["list"], name)
        vs.check_name(name)
        rows = vs.active_rows(c.ctx, KEYS, c.vault, name)
        return c.listing(rows, lambda r: f"{r.created_at:020.3f}{r.id:012d}",
                         lambda r: _bundle(c, r, item=True, versioned=True))
    if rest[1:] == ["backup"] and m == "POST":
        c.authorize(OPS["backup"], name)
        return ok({"value": vk.backup(c.ctx, c.vault, name)})
    if len(rest) <= 2 and m == "GET":
        c.authorize(OPS["get"], name)
        return ok(_bundle(c, vs.read_row(c.ctx, KEYS, c.vault, name, rest[1] if len(rest) == 2 else None)))
    if len(rest) <= 2 and m == "PATCH":
        c.authorize(OPS["update"], name)
        row = vs.get_row(c.ctx, KEYS, c.vault, name, rest[1] if len(rest) == 2 else None)
        return ok(_bundle(c, vk.update(c.ctx, c.vault, row, c.body)))
    if len(rest) == 3 and m == "POST" and rest[2].lower() in CRYPTO:
        return _crypto(c, name, rest[1], CRYPTO[rest[2].lower()])
    return None


def _crypto(c: VaultCall, name: str, version: str, operation: str) -> Response:
    c.authorize(OPS[operation], name)
    row = vs.read_row(c.ctx, KEYS, c.vault, name, version or None)
    kid = f"{c.uri}keys/{row.name}/{row.version}"
    if operation == "verify":
        verified = vk.verify(row, c.body)
        vk.record_operation(c.ctx, c.vault, row, operation, c.body)
        return ok({"value": verified})
    result = vk.sign(row, c.body) if operation == "sign" else vk.cipher(row, operation, c.body)
    vk.record_operation(c.ctx, c.vault, row, operation, c.body)
    return ok({"kid": kid, "value": vk.b64url(result)})


def _deleted(c: VaultCall, m: str, rest: list[str]) -> Response | None:
    vs.require_soft_delete(c.ctx, KEYS, c.vault)
    if not rest or rest == [""]:
        if m == "GET":
            c.authorize(OPS["listDeleted"])
            rows = vs.latest_per_name(c.ctx, KEYS, c.vault, deleted=True)
            return c.listing(rows, lambda r: r.name_key, lambda r: _bundle(c, r, item=True))
        return None
    name = rest[0]
    if len(rest) == 1 and m == "GET":
        c.authorize(OPS["getDeleted"], name)
        return ok(_bundle(c, vs.deleted_rows(c.ctx, KEYS, c.vault, name)[-1]))
    if len(rest) == 1 and m == "DELETE":
        c.authorize(OPS["purge"], name)
        vs.purge(c.ctx, KEYS, c.vault, name)
        return no_content()
    if rest[1:] == ["recover"] and m == "POST":
        c.authorize(OPS["recover"], name)
        return ok(_bundle(c, vs.recover(c.ctx, KEYS, c.vault, name)))
    return None
