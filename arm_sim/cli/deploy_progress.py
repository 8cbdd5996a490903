"""`arm-sim deploy`'s progress: a line per resource, from ARM's deployment operations (`DeploymentOperation`:
`properties.provisioningState`, `provisioningOperation`, `statusCode`, `duration`, `targetResource.id/resourceType/
resourceName`). On a terminal the lines are rewritten in place as states change; piped, each change is a plain line
of its own, so a log reads the same as a terminal's final screen."""

from __future__ import annotations

import shutil
import time
from typing import Any

_SPIN = "|/-\\"
_UP, _CLEAR = "\x1b[{}F", "\x1b[2K"  # ANSI: to the start of the line n lines up; erase the line


class _Row:
    __slots__ = ("duration", "error", "name", "operation", "since", "state", "status", "type")

    def __init__(self, resource_type: str, name: str) -> None:
        self.type, self.name = resource_type, name
        self.state, self.operation, self.status, self.duration = "Waiting", "", "", ""
        self.error: dict[str, Any] | None = None
        self.since = time.monotonic()


def _type_and_name(resource_id: str) -> tuple[str, str]:
    """`…/providers/Ns/type/a/child/b` as ARM's `targetResource` writes it: (`Ns/type/child`, `a/b`)."""
    tail = resource_id.rsplit("/providers/", 1)[-1].split("/")
    if len(tail) < 3:
        return resource_id, ""
    return "/".join([tail[0], *tail[1::2]]), "/".join(tail[2::2])


class Progress:
    def __init__(self, out: Any, live: bool) -> None:
        self.out, self.live = out, live
        self.rows: dict[str, _Row] = {}
        self.drawn = 0  # lines of the last live drawing
        self.ticks = 0

    def _row(self, resource_id: str, target: dict[str, Any] | None = None) -> _Row:
        key = resource_id.lower()
        row = self.rows.get(key)
        if row is None:
            kind, name = _type_and_name(resource_id)
            row = self.rows[key] = _Row(str((target or {}).get("resourceType") or kind),
                                        str((target or {}).get("resourceName") or name))
        return row

    def expect(self, resource_ids: list[str]) -> None:
        """The resources the template will deploy, before any has run (shown on a terminal only)."""
        for rid in resource_ids:
            self._row(rid)
        self._draw()

    def update(self, operations: list[dict[str, Any]]) -> None:
        """Apply the operations listed so far (in order: a resource's last operation is its state)."""
        for op in operations:
            p = op.get("properties") or {}
            target = p.get("targetResource") or {}
            if not target.get("id"):
                continue  # e.g. EvaluateDeploymentOutput: no resource of its own
            row = self._row(str(target["id"]), target)
            state = str(p.get("provisioningState") or "Running")
            changed = (state, p.get("statusCode")) != (row.state, row.status or None)
            row.state, row.operation = state, str(p.get("provisioningOperation") or "")
            row.status, row.duration = str(p.get("statusCode") or ""), str(p.get("duration") or "")
            row.error = ((p.get("statusMessage") or {}).get("error") or {}) if state == "Failed" else None
            if changed and not self.live:
                self._print(row)
        self.ticks += 1
        self._draw()

    def succeeded(self) -> set[str]:
        """The (lower-case) ids of the resources deployed."""
        return {k for k, r in self.rows.items() if r.state == "Succeeded"}

    def close(self) -> None:
        """The final drawing: a resource with no operation was not deployed (a failure stopped the deployment)."""
        if not self.live:
            return
        for row in self.rows.values():
            if row.state in ("Waiting", "Running") and not row.operation:
                row.state = "NotRun"
        self._draw()
        for row in self.rows.values():
            if row.error is not None:
                self._error(row)

    def _line(self, row: _Row, width: int | None = None) -> str:
        if row.state in ("Waiting", "Running"):
            mark = _SPIN[self.ticks % len(_SPIN)] + " "
            tail = f"{time.monotonic() - row.since:.0f}s"
        else:
            mark = {"Succeeded": "ok", "Failed": "ERR"}.get(row.state, "-")
            tail = row.duration
        # the resource last: a narrow terminal cuts it short rather than the columns after it
        text = f"{mark:<3} {row.state:<9} {row.operation:<7} {row.status:<11} {tail:>10}  {row.type}/{row.name}"
        return text if width is None else text[:width]

    def _print(self, row: _Row) -> None:
        print(self._line(row), file=self.out, flush=True)
        if row.error is not None:
            self._error(row)

    def _error(self, row: _Row) -> None:
        print(f"      {row.type}/{row.name}: {row.error.get('code') if row.error else ''}: "
              f"{row.error.get('message') if row.error else ''}", file=self.out, flush=True)

    def _draw(self) -> None:
        if not self.live or not self.rows:
            return
        width = max(shutil.get_terminal_size().columns - 1, 20)  # a wrapped line would break the rewriting
        text = _UP.format(self.drawn) if self.drawn else ""
        text += "".join(f"{_CLEAR}{self._line(row, width)}\n" for row in self.rows.values())
        self.out.write(text)
        self.out.flush()
        self.drawn = len(self.rows)
