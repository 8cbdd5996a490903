"""whatIf: the deployment is executed for real inside a savepoint that is then rolled back, and each resource's
state before and after is compared. So the prediction uses exactly the rules a deployment would (provider
defaults, identity principals, role-assignment checks): Create, Modify (with property deltas), NoChange,
Delete (Complete mode) and Ignore (resources of the group the template does not mention).
"""

from __future__ import annotations

from typing import Any

from arm_sim.deployments.expand import Planned

VOLATILE = ("etag", "systemData")


def _clean(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if doc is None else {k: v for k, v in doc.items() if k not in VOLATILE}


def delta(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """whatIf's property changes: Create / Delete / Modify, and Array with per-index children."""
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[dict[str, Any]] = []
        for key in list(before) + [k for k in after if k not in before]:
            sub = f"{path}.{key}" if path else key
            if key not in after:
                out.append({"path": sub, "propertyChangeType": "Delete", "before": before[key]})
            elif key not in before:
                out.append({"path": sub, "propertyChangeType": "Create", "after": after[key]})
            else:
                out.extend(delta(before[key], after[key], sub))
        return out
    if isinstance(before, list) and isinstance(after, list):
        children: list[dict[str, Any]] = []
        for i in range(max(len(before), len(after))):
            if i >= len(after):
                children.append({"path": str(i), "propertyChangeType": "Delete", "before": before[i]})
            elif i >= len(before):
                children.append({"path": str(i), "propertyChangeType": "Create", "after": after[i]})
            elif before[i] != after[i]:
                inner = delta(before[i], after[i])
                change: dict[str, Any] = {"path": str(i), "propertyChangeType": "Modify", "before": before[i],
                                          "after": after[i]}
                if inner and isinstance(before[i], dict | list):
                    change["children"] = inner
                children.append(change)
        return [{"path": path, "propertyChangeType": "Array", "children": children}]
    return [{"path": path, "propertyChangeType": "Modify", "before": before, "after": after}]


class WhatIf:
    def __init__(self, full_payloads: bool = True) -> None:
        self.changes: list[dict[str, Any]] = []
        self.full = full_payloads

    def _add(self, resource_id: str, change_type: str, before: Any = None, after: Any = None,
             symbolic: str | None = None, **extra: Any) -> None:
        change: dict[str, Any] = {"resourceId": resource_id, "changeType": change_type}
        if self.full:
            change["before"], change["after"] = before, after
        if symbolic:
            change["symbolicName"] = symbolic
        change.update(extra)
        self.changes.append(change)

    def resource(self, p: Planned, before: dict[str, Any] | None, after: dict[str, Any] | None, created: bool,
                 changed: bool, error: dict[str, Any] | None) -> None:
        if error is not None:
            self._add(p.id, "Unsupported", _clean(before), None, p.symbolic,
                      unsupportedReason=f"arm-sim predicts that this operation fails: {error.get('code')}: "
                                        f"{error.get('message')}")
            return
        b, a = _clean(before), _clean(after)
        if created:
            self._add(p.id, "Create", None, a, p.symbolic)
        elif not changed:
            self._add(p.id, "NoChange", b, a, p.symbolic)
        else:
            self._add(p.id, "Modify", b, a, p.symbolic, delta=delta(b, a))

    def blocked(self, p: Planned) -> None:
        self._add(p.id, "Unsupported", None, None, p.symbolic,
                  unsupportedReason="arm-sim predicts that a resource this one depends on fails.")

    def deleted(self, resource_id: str, before: dict[str, Any], error: dict[str, Any] | None) -> None:
        if error is not None:
            self._add(resource_id, "Unsupported", _clean(before), None,
                      unsupportedReason=f"arm-sim predicts that deleting it fails: {error.get('code')}")
        else:
            self._add(resource_id, "Delete", _clean(before), None)

    def ignored(self, resource_id: str, before: dict[str, Any]) -> None:
        self._add(resource_id, "Ignore", _clean(before), None)
