"""`arm-sim events | audit | explain | graph`: what the simulator knows about the identity lifecycle, read from the
running server's simulator API (`/_sim/events`, `/_sim/audit`, `/_sim/explain`, `/_sim/graph`) as the bootstrap
principal, shown as tables and trees (names beside ids), or as the API's JSON with `-o json`."""

from __future__ import annotations

import json
import re
import sys
import time
from typing import Any, TextIO

from arm_sim.cli.client import Client, CommandError, Server
from arm_sim.cli.graph_tree import render_graph

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def _sim(client: Client, path: str, **query: Any) -> Any:
    return client.call("GET", f"/_sim/{path}", query={k: str(v) for k, v in query.items() if v is not None},
                       api_version=None).body


def _dump(value: Any, out: TextIO) -> None:
    print(json.dumps(value, indent=2), file=out)


def table(rows: list[list[str]], head: list[str], out: TextIO) -> None:
    if not rows:
        return
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, ["-" * w for w in widths], *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)


# --- events ---------------------------------------------------------------------------------------------------

class _Names:
    """Display names of principals and applications, from the event log's creation events (one call each)."""

    def __init__(self, client: Client) -> None:
        self.by_id: dict[str, str] = {}
        self.app_of: dict[str, str] = {}  # principal object id -> its appId / client id
        self.resource_of: dict[str, str] = {}  # principal object id -> the resource it belongs to
        for e in _sim(client, "events", kind="servicePrincipal.*", top=5000)["value"]:
            d = e.get("details") or {}
            oid = str(d.get("principalId") or e["subject"]).lower()
            rid = str(d.get("resourceId") or "")
            app = str(d.get("clientId") or d.get("appId") or "")
            name = rid.rsplit("/", 1)[-1] if rid else str(d.get("displayName") or "")
            if name:
                self.by_id.setdefault(oid, name)
                if app:
                    self.by_id.setdefault(app.lower(), f"{name} (appId)")
            if app:
                self.app_of[oid] = app.lower()
            if rid:
                self.resource_of[oid] = rid.lower()

    def of(self, value: str | None) -> str:
        if not value:
            return ""
        name = self.by_id.get(value.lower())
        return f"{value} ({name})" if name else value


def _resource_ids(client: Client, resource: str) -> list[str]:
    if resource.startswith("/"):
        return [resource]
    sub = client.server.creds.subscription
    page = client.call("GET", f"/subscriptions/{sub}/resources", query={"$filter": f"name eq '{resource}'"}).body
    found = [str(r["id"]) for r in page.get("value") or [] if str(r.get("name", "")).lower() == resource.lower()]
    if not found:
        raise CommandError(f"no resource named '{resource}' in subscription {sub} (give its id for a deleted one)")
    return found


def collect_events(client: Client, names: _Names, resource: str | None, principal: str | None, kind: str | None,
                   after: int = 0) -> list[dict[str, Any]]:
    """The events of a resource (its own, its children's, and those of every principal it ever had) or of a
    principal (those naming its object id and those filed under its appId), merged in log order."""
    seen: dict[int, dict[str, Any]] = {}

    def add(**query: Any) -> None:
        for e in _sim(client, "events", kind=kind, after=after, top=5000, **query)["value"]:
            seen[int(e["seq"])] = e

    principals: set[str] = set()
    if principal:
        principals.add(principal.lower())
    if resource:
        for rid in _resource_ids(client, resource):
            add(resource=rid)
            add(resource=f"{rid}/*")
            principals |= {oid for oid, r in names.resource_of.items() if r == rid.lower()}
    for oid in sorted(principals):
        add(principal=oid)
        if oid in names.app_of:  # credential events are filed under the appId
            add(principal=names.app_of[oid])
    if not resource and not principal:
        add()
    return [seen[k] for k in sorted(seen)]


def _short(value: str) -> str:
    """A resource id as its provider's type and name (`Microsoft.Compute/virtualMachines/web1`), for tables."""
    if value.startswith("/subscriptions/") and "/providers/" in value:
        return value.rsplit("/providers/", 1)[1]
    return value


def _summary(e: dict[str, Any], names: _Names) -> str:
    d = e.get("details") or {}
    kind = e["kind"]
    if kind == "token.rejected" and "missing" in str(d.get("reason", "")).lower():
        return "challenge: the client's first request carries no token (normal handshake)"
    if kind == "grant.orphaned":  # what is left behind, and whose it was
        perms = ", ".join(f"{k}: {'/'.join(v)}" for k, v in (d.get("permissions") or {}).items())
        what = (f"role {d.get('role')} at {_short(str(d.get('scope')))}" if d.get("grant") == "roleAssignment"
                else f"access policy {perms}")
        return f"{what}; names deleted {names.of(d.get('principalId'))}"[:200]
    parts = []
    for key in ("reason", "permission", "action", "resourceId", "keyId", "thumbprint", "kind", "by"):
        if d.get(key) not in (None, ""):
            parts.append(f"{key}={_short(str(d[key]))}")
    return "; ".join(parts)[:160]


def events(server: Server, resource: str | None, principal: str | None, kind: str | None, follow: bool,
           output: str, out: TextIO = sys.stdout, interval: float = 1.0) -> int:
    client = Client(server)
    names = _Names(client)
    rows = collect_events(client, names, resource, principal, kind)
    _print_events(rows, names, output, out, head=True)
    last = max([int(e["seq"]) for e in rows], default=0)
    while follow:
        time.sleep(interval)
        names = _Names(client) if resource else names
        more = [e for e in collect_events(client, names, resource, principal, kind, after=last)
                if int(e["seq"]) > last]
        if more:
            _print_events(more, names, output, out, head=False)
            last = int(more[-1]["seq"])
    return 0


def _print_events(rows: list[dict[str, Any]], names: _Names, output: str, out: TextIO, head: bool) -> None:
    if output == "json":
        for e in rows:
            print(json.dumps(e), file=out)
        out.flush()
        return
    lines = [[str(e["seq"]), str(e["time"])[:19], e["kind"], _short(names.of(e["subject"])), names.of(e.get("actor")),
              _summary(e, names)] for e in rows]
    if head:
        table(lines, ["Seq", "Time (simulated)", "Kind", "Subject", "Actor", "Details"], out)
    else:
        for line in lines:
            print("  ".join(line), file=out)
    out.flush()


# --- audit ----------------------------------------------------------------------------------------------------

def audit(server: Server, output: str, out: TextIO = sys.stdout) -> int:
    client = Client(server)
    report = _sim(client, "audit")
    graph = _sim(client, "graph")
    violations = report.get("invariantViolations") or []
    if output == "json":
        _dump(report | {"orphans": graph.get("orphans") or []}, out)
        return 1 if violations else 0
    orphans = graph.get("orphans") or []
    print(f"Orphaned grants (their principal is gone): {len(orphans)}", file=out)
    table([[o["kind"], _grant(o), _who(o.get("principal") or {})] for o in orphans],
          ["Kind", "Grant", "Named principal"], out)
    dangling = report.get("danglingUserAssignedIdentities") or []
    print(f"\nDangling user-assigned identity references: {len(dangling)}", file=out)
    table([[d["resourceId"], d["identityId"]] for d in dangling], ["Resource", "Identity (gone)"], out)
    expired = report.get("expiredCredentials") or []
    print(f"\nExpired credentials: {len(expired)}", file=out)
    table([[e["principalId"], str(e.get("resourceId") or ""), e["expiredAt"]] for e in expired],
          ["Principal", "Resource", "Expired at"], out)
    print(f"\nInvariant violations: {len(violations)}", file=out)
    for v in violations:
        print(f"  {v.get('kind')}: {v.get('message')}", file=out)
    if not violations:
        print("  none (orphans are no violation: Azure leaves them behind too)", file=out)
    return 1 if violations else 0


def _grant(o: dict[str, Any]) -> str:
    if o["kind"] == "roleAssignment":
        return f"{o.get('roleName')} at {o['scope']}"
    perms = "; ".join(f"{k} {','.join(v)}" for k, v in (o.get("permissions") or {}).items() if v)
    return f"vault {o.get('vaultName')}: {perms}"


def _who(p: dict[str, Any]) -> str:
    text = str(p.get("objectId", ""))
    if p.get("displayName"):
        text += f" ({p['displayName']}"
        text += f", deleted {p['deletedAt']})" if p.get("deletedAt") else ")"
    elif p.get("deletedAt"):
        text += f" (deleted {p['deletedAt']})"
    return text


# --- explain --------------------------------------------------------------------------------------------------

def _principal_id(client: Client, principal: str) -> str:
    """An object id as given, or the (first) identity of the resource so named."""
    if _GUID.match(principal):
        return principal
    graph = _sim(client, "graph")
    for r in graph.get("resources") or []:
        if principal.lower() in (str(r["name"]).lower(), str(r["id"]).lower()):
            for p in r.get("principals") or []:
                if p.get("objectId"):
                    return str(p["objectId"])
    raise CommandError(f"'{principal}' is neither an object id nor a resource with an identity")


def explain(server: Server, principal: str, action: str, scope: str, output: str, out: TextIO = sys.stdout) -> int:
    client = Client(server)
    oid = _principal_id(client, principal)
    d = _sim(client, "explain", principalId=oid, action=action, scope=scope)
    if output == "json":
        _dump(d, out)
        return 0
    kv = d.get("keyVault")
    print(f"{'ALLOWED' if d['allowed'] else 'DENIED'}: {action}", file=out)
    print(f"  principal: {_who(kv['principal']) if kv else oid}", file=out)
    print(f"  scope:     {d['scope']}", file=out)
    if kv:
        mode = {"accessPolicy": "access policies", "rbac": "Azure RBAC (access policies ignored)"}.get(
            kv["mode"], kv["mode"])
        print(f"  decided by Key Vault: {mode} ({kv.get('permission')})", file=out)
    print(f"  why: {d['reason']}", file=out)
    if kv and kv.get("entries"):
        print("\nAccess-policy entries considered:", file=out)
        table([[_who(e.get("principal") or {}), ",".join(e["permissions"]) or "-", "yes" if e["matches"] else "no",
                "yes" if e["grants"] else "no"] for e in kv["entries"]],
              ["Entry's principal", kv["permission"].split()[0], "Names caller", "Grants"], out)
    if not kv or kv["mode"] == "rbac":
        rows = [[a["roleName"], a["scope"], "grants"] for a in d.get("grantedBy") or []]
        rows += [[a["roleName"], a["scope"], "does not grant"] for a in d.get("considered") or []]
        if rows:
            print("\nRole assignments considered:", file=out)
            table(rows, ["Role", "Scope", "Decision"], out)
    for miss in (kv or {}).get("nearMisses") or []:
        print(f"\nNear miss: {miss}", file=out)
    if not d["allowed"] and kv and kv.get("wouldGrant"):
        print(f"\nWould grant it: {kv['wouldGrant']}", file=out)
    return 0


# --- graph ----------------------------------------------------------------------------------------------------

def graph(server: Server, resource_group: str | None, output: str, out: TextIO = sys.stdout) -> int:
    client = Client(server)
    sub = server.creds.subscription
    scope = f"/subscriptions/{sub}/resourceGroups/{resource_group}" if resource_group else None
    data = _sim(client, "graph", scope=scope)
    if output == "json":
        _dump(data, out)
        return 0
    render_graph(data, scope or f"subscription {sub}", out)
    return 0
