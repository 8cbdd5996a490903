"""The provider contract: the hooks ResourceService calls, in the request's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from arm_sim.core.errors import not_implemented
from arm_sim.core.ids import ArmPath
from arm_sim.domain.context import Ctx

Doc = dict[str, Any]  # a resource as ARM shows it: id, name, type, location, tags, properties, …


@dataclass
class ActionResult:
    """What an action answers: a status and body, and whether it runs as a long-running operation."""

    status: int = 200
    body: Any = None
    long_running: bool = False


class Provider:
    """Default behaviour: a generic, synchronous resource stored as given (ARM's proxy behaviour)."""

    namespace: str = "*"
    # types (lower-case, without namespace) that answer PUT/DELETE as long-running operations
    async_types: frozenset[str] = frozenset()
    # how this provider spells the combined identity type (Compute and Web put a space after the comma)
    identity_both: str = "SystemAssigned,UserAssigned"

    def handles(self, type_key: str) -> bool:
        return self.namespace == "*" or type_key.split("/", 1)[0] == self.namespace.lower()

    def is_async(self, type_key: str) -> bool:
        return type_key.split("/", 1)[1] in self.async_types

    def validate(self, ctx: Ctx, path: ArmPath, doc: Doc, before: Doc | None) -> None:
        """Refuse bad input with a DomainError before anything is written; may normalise `doc`."""

    def on_put(self, ctx: Ctx, before: Doc | None, after: Doc) -> None:
        """Runs after the row is written, in the same transaction; may fill server-side fields."""

    def on_delete(self, ctx: Ctx, doc: Doc) -> None:
        """Runs before the row is removed, in the same transaction."""

    def render(self, ctx: Ctx, doc: Doc, api_version: str) -> Doc:
        """The response body for `api_version`."""
        return doc

    def action(self, ctx: Ctx, doc: Doc, action: str, body: Any, api_version: str) -> ActionResult:
        """POST `{resource id}/{action}` (start, powerOff, listKeys …). Unknown actions say so plainly."""
        raise not_implemented(f"the action '{action}' on '{doc['type']}'")

    def virtual_get(self, ctx: Ctx, path: ArmPath) -> Doc | None:
        """A resource computed rather than stored (e.g. `identities/default`); None when not one."""
        return None
