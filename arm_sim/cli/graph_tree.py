"""The identity graph (`GET /_sim/graph`) as a tree in the terminal: resource → principal → credential, role
assignments and access-policy entries; then the orphaned grants, marked as such."""

from __future__ import annotations

from typing import Any, TextIO


class _Tree:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def node(self, prefix: str, last: bool, text: str) -> str:
        print(f"{prefix}{'└─ ' if last else '├─ '}{text}", file=self.out)
        return prefix + ("   " if last else "│  ")


def _short(type_: str) -> str:
    return type_.split("/", 1)[-1] if "/" in type_ else type_


def _perms(permissions: dict[str, Any]) -> str:
    return "; ".join(f"{k} {','.join(v)}" for k, v in permissions.items() if v) or "nothing"


def _credential(c: dict[str, Any]) -> str:
    if c.get("kind") == "password":
        return f"secret {c.get('hint') or ''}… valid {c['notBefore'][:10]} → {c['notAfter'][:10]}"
    text = f"certificate {c.get('thumbprint')} valid {c['notBefore'][:10]} → {c['notAfter'][:10]}"
    if c.get("signs"):
        text += " (signs now)"
    if c.get("expired"):
        text += " (EXPIRED)"
    if c.get("nextRotation"):
        text += f", next rotation {c['nextRotation'][:10]}"
    return text


def _principal(tree: _Tree, prefix: str, last: bool, p: dict[str, Any]) -> None:
    kind = {"systemAssigned": "system-assigned", "userAssigned": "user-assigned"}.get(p.get("kind", ""), "")
    if not p.get("exists"):
        gone = f", deleted {p['deletedAt']}" if p.get("deletedAt") else ""
        where = f" ({p.get('identityId')})" if p.get("identityId") else ""
        tree.node(prefix, last, f"principal {p.get('objectId') or '?'} {kind}{where}: GONE{gone}")
        return
    text = f"principal {p['objectId']} ({p.get('displayName')}, {kind}) appId {p.get('appId')}"
    if p.get("identityId") and p.get("kind") == "userAssigned":
        text += f" via {p['identityId'].rsplit('/', 1)[-1]}"
    inner = tree.node(prefix, last, text)
    items: list[str] = [_credential(c) for c in p.get("credentials") or []]
    if not p.get("credentials"):
        items.append("certificate: not issued yet (made at the first token request)")
    items += [f"role {a['roleName']} at {a['scope']}" for a in p.get("roleAssignments") or []]
    items += [f"access policy on vault {a['vaultName']}: {_perms(a['permissions'])}"
              for a in p.get("accessPolicies") or []]
    for i, item in enumerate(items):
        tree.node(inner, i == len(items) - 1, item)


def render_graph(data: dict[str, Any], title: str, out: TextIO) -> None:
    tree = _Tree(out)
    print(title, file=out)
    resources = data.get("resources") or []
    orphans = data.get("orphans") or []
    violations = data.get("invariantViolations") or []
    if not resources and not orphans:
        print("└─ (no resource with an identity, no orphaned grant)", file=out)
    tops = len(resources) + (1 if orphans else 0) + (1 if violations else 0)
    n = 0
    for r in resources:
        n += 1
        inner = tree.node("", n == tops, f"{r['name']}  {_short(r['type'])}  identity {r.get('identityType')}")
        principals = r.get("principals") or []
        for i, p in enumerate(principals):
            _principal(tree, inner, i == len(principals) - 1, p)
    if orphans:
        n += 1
        inner = tree.node("", n == tops, f"ORPHANED grants ({len(orphans)}): their principal no longer exists")
        for i, o in enumerate(orphans):
            p = o.get("principal") or {}
            was = f"{p.get('displayName')}'s identity " if p.get("displayName") else ""
            named = f"names {o['principalId']} ({was}deleted {p.get('deletedAt') or '?'})"
            if o["kind"] == "roleAssignment":
                text = f"[orphan] role {o.get('roleName')} at {o['scope']}: {named}"
            else:
                text = f"[orphan] access policy on vault {o.get('vaultName')}: {_perms(o.get('permissions') or {})}" \
                       f": {named}"
            tree.node(inner, i == len(orphans) - 1, text)
    if violations:
        n += 1
        inner = tree.node("", n == tops, f"INVARIANT VIOLATIONS ({len(violations)})")
        for i, v in enumerate(violations):
            tree.node(inner, i == len(violations) - 1, str(v.get("message")))
