"""Typed answers of `ArmSim.what_if()`, `ArmSim.validate()` and `ArmSim.audit()`. Standard library only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from arm_sim.testing.errors import ErrorDetail

__all__ = ["AUDIT_KEYS", "ORPHAN_KEYS", "Change", "PropertyChange", "Validation", "WhatIf", "in_scope", "scoped"]


@dataclass(frozen=True)
class PropertyChange:
    """One property's change in a `Modify`: `path` (`properties.sku.name`, or an index under an `Array`),
    `change_type` (`Create`, `Delete`, `Modify`, `Array`, `NoEffect`), `before`, `after`, nested `children`."""

    path: str
    change_type: str
    before: Any = None
    after: Any = None
    children: tuple[PropertyChange, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> PropertyChange:
        return cls(str(raw.get("path", "")), str(raw.get("propertyChangeType", "")), raw.get("before"),
                   raw.get("after"), tuple(cls.of(c) for c in raw.get("children") or []))


@dataclass(frozen=True)
class Change:
    """One resource of a what-if: `change_type` (`Create`, `Delete`, `Modify`, `NoChange`, `Ignore`, `Deploy`,
    `Unsupported`), `resource_id`, `before` / `after` (full payloads, None for `resultFormat=ResourceIdOnly`),
    `delta` (for `Modify`), `unsupported_reason` (arm-sim says so when it predicts that the resource fails)."""

    change_type: str
    resource_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    delta: tuple[PropertyChange, ...] = ()
    unsupported_reason: str | None = None
    symbolic_name: str | None = None

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Change:
        return cls(str(raw.get("changeType", "")), str(raw.get("resourceId", "")), raw.get("before"),
                   raw.get("after"), tuple(PropertyChange.of(d) for d in raw.get("delta") or []),
                   raw.get("unsupportedReason"), raw.get("symbolicName"))

    @property
    def paths(self) -> list[str]:
        """The top-level paths of `delta`: `["properties.sku.name", "tags.env"]`."""
        return [d.path for d in self.delta]


@dataclass(frozen=True)
class WhatIf:
    """A what-if's prediction: `changes`, and lookups by change type and by resource."""

    changes: tuple[Change, ...]
    raw: dict[str, Any]

    def of_type(self, change_type: str) -> list[Change]:
        return [c for c in self.changes if c.change_type.lower() == change_type.lower()]

    def ids(self, change_type: str) -> set[str]:
        """The resource ids of one change type, in lower case (ARM ids compare case-insensitively)."""
        return {c.resource_id.lower() for c in self.of_type(change_type)}

    def __getitem__(self, resource_id: str) -> Change:
        """The change of one resource (its id, case-insensitive); KeyError when the what-if does not name it."""
        for c in self.changes:
            if c.resource_id.lower() == resource_id.lower():
                return c
        raise KeyError(resource_id)

    @property
    def types(self) -> dict[str, str]:
        """`{resource id (lower case): change type}`."""
        return {c.resource_id.lower(): c.change_type for c in self.changes}


@dataclass(frozen=True)
class Validation:
    """`POST …/validate`: `ok`, the `error` (ErrorDetail, None when valid), the ids ARM validated (`resources`),
    the HTTP `status` and the `raw` answer."""

    status: int
    error: ErrorDetail | None
    resources: tuple[str, ...]
    raw: Any

    @property
    def ok(self) -> bool:
        return self.error is None


# --- the audit ----------------------------------------------------------------------------------------------------

AUDIT_KEYS = ("orphanedRoleAssignments", "orphanedAccessPolicies", "danglingUserAssignedIdentities",
              "expiredCredentials")
ORPHAN_KEYS = AUDIT_KEYS[:3]  # left behind by a delete; an expired credential is the clock's doing
# where each kind of entry lives: the field holding the id that places it in a scope
_PLACE = {"orphanedRoleAssignments": "scope", "orphanedAccessPolicies": "vault",
          "danglingUserAssignedIdentities": "resourceId", "expiredCredentials": "resourceId"}


def in_scope(resource_id: str | None, scope: str) -> bool:
    """Whether `resource_id` is `scope` or below it (ARM ids compare case-insensitively)."""
    if not resource_id:
        return False
    rid, s = resource_id.lower().rstrip("/"), scope.lower().rstrip("/")
    return rid == s or rid.startswith(s + "/")


def scoped(report: Mapping[str, Any], scope: str | None) -> dict[str, list[dict[str, Any]]]:
    """`report` (GET /_sim/audit, server-wide) with only the entries at or below `scope`."""
    out: dict[str, list[dict[str, Any]]] = {}
    for key in AUDIT_KEYS:
        entries = [dict(e) for e in report.get(key) or [] if isinstance(e, Mapping)]
        out[key] = entries if scope is None else [e for e in entries if in_scope(e.get(_PLACE[key]), scope)]
    return out
