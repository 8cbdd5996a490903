"""Secrets on the data plane: /secrets… and /deletedsecrets… (Key Vault REST 7.x / 2025-07-01)."""

from __future__ import annotations

from starlette.responses import Response

from arm_sim.domain import vault_secrets as vs
from arm_sim.domain.vault_access import SECRET_OPS as OPS
from arm_sim.domain.vault_secrets import SECRETS
from arm_sim.hosts.keyvault.call import VaultCall, no_content, ok


def _bundle(c: VaultCall, row: vs.VaultSecret, *, value: bool = True, versioned: bool = True) -> dict[str, object]:
    level, days = c.recovery()
    return vs.bundle(row, c.uri, level, days, value=value, versioned=versioned)


def handle(c: VaultCall) -> Response | None:
    """The answer for a /secrets or /deletedsecrets path, or None when no operation has this shape."""
    # HEAD answers exactly as GET (the server sends no body with it)
    m, segs = ("GET" if c.method == "HEAD" else c.method), c.segs
    if segs[0] == "secrets":
        return _secrets(c, m, segs[1:])
    return _deleted(c, m, segs[1:])


def _secrets(c: VaultCall, m: str, rest: list[str]) -> Response | None:
    if not rest or rest == [""]:
        if m == "GET":
            c.authorize(OPS["list"])
            rows = vs.latest_per_name(c.ctx, SECRETS, c.vault, deleted=False)
            return c.listing(rows, lambda r: r.name_key, lambda r: _bundle(c, r, value=False, versioned=False))
        return None
    name = rest[0]
    if rest == ["restore"] and m == "POST":
        c.authorize(OPS["restore"])
        return ok(_bundle(c, vs.restore(c.ctx, c.vault, (c.body or {}).get("value")), value=False))
    if len(rest) == 1 and m == "PUT":
        c.authorize(OPS["set"], name)
        return ok(_bundle(c, vs.set_from_request(c.ctx, c.vault, name, c.body)))
    if len(rest) == 1 and m == "DELETE":
        c.authorize(OPS["delete"], name)
        return ok(_bundle(c, vs.remove(c.ctx, SECRETS, c.vault, name), value=False))
    if len(rest) == 2 and rest[1] == "versions" and m == "GET":
        c.authorize(OPS["list"], name)
        vs.check_name(name)
        rows = vs.active_rows(c.ctx, SECRETS, c.vault, name)
        return c.listing(rows, lambda r: f"{r.created_at:020.3f}{r.id:012d}",
                         lambda r: _bundle(c, r, value=False))
    if len(rest) == 2 and rest[1] == "backup" and m == "POST":
        c.authorize(OPS["backup"], name)
        return ok({"value": vs.backup(c.ctx, c.vault, name)})
    if len(rest) <= 2 and m == "GET":
        c.authorize(OPS["get"], name)
        row = vs.read_row(c.ctx, SECRETS, c.vault, name, rest[1] if len(rest) == 2 else None)
        return ok(_bundle(c, vs.readable(row)))
    if len(rest) <= 2 and m == "PATCH":
        c.authorize(OPS["update"], name)
        row = vs.update(c.ctx, c.vault, name, rest[1] if len(rest) == 2 else None, c.body)
        return ok(_bundle(c, row, value=False))
    return None


def _deleted(c: VaultCall, m: str, rest: list[str]) -> Response | None:
    vs.require_soft_delete(c.ctx, SECRETS, c.vault)
    if not rest or rest == [""]:
        if m == "GET":
            c.authorize(OPS["listDeleted"])
            rows = vs.latest_per_name(c.ctx, SECRETS, c.vault, deleted=True)
            return c.listing(rows, lambda r: r.name_key, lambda r: _bundle(c, r, value=False, versioned=False))
        return None
    name = rest[0]
    if len(rest) == 1 and m == "GET":
        c.authorize(OPS["getDeleted"], name)
        return ok(_bundle(c, vs.deleted_rows(c.ctx, SECRETS, c.vault, name)[-1], value=False))
    if len(rest) == 1 and m == "DELETE":
        c.authorize(OPS["purge"], name)
        vs.purge(c.ctx, SECRETS, c.vault, name)
        return no_content()
    if rest[1:] == ["recover"] and m == "POST":
        c.authorize(OPS["recover"], name)
        return ok(_bundle(c, vs.recover(c.ctx, SECRETS, c.vault, name), value=False))
    return None
