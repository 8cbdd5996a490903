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
    # what a PUT that creates answers: ARM's 201, unless the provider's contract says otherwise (App Service: 200)
    created_status: int = 201
    # whether DELETE answers 200 with the deleted resource (Microsoft.Authorization does) instead of no body
    delete_returns_body: bool = False
    # computed sub-resources answered by `view`, as "{namespace}/{type}/{view}" lower-case (e.g. instanceView)
    views: frozenset[str] = frozenset()

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

    def expand(self, ctx: Ctx, doc: Doc, shown: Doc, expand: str, api_version: str) -> Doc:
        """GET with `$expand=…`: add what was asked for to the rendered resource."""
        return shown

    def view(self, ctx: Ctx, doc: Doc, view: str, api_version: str) -> Doc:
        """GET `{resource id}/{view}` for a name listed in `views` (e.g. a VM's instanceView)."""
        raise not_implemented(f"GET '{view}' on '{doc['type']}'")

    def action(self, ctx: Ctx, doc: Doc, action: str, body: Any, api_version: str) -> ActionResult:
        """POST `{resource id}/{action}` (start, powerOff, listKeys …). Unknown actions say so plainly."""
        raise not_implemented(f"the action '{action}' on '{doc['type']}'")

    def virtual_put(self, ctx: Ctx, path: ArmPath, body: Any, api_version: str) -> tuple[Doc, bool] | None:
        """A PUT this provider answers without storing a row of its own (e.g. a vault's
        `accessPolicies/add`, which changes the vault). Returns (document, created) or None."""
        return None

    def virtual_patch(self, ctx: Ctx, path: ArmPath, body: Any, api_version: str) -> Doc | None:
        """A PATCH on a resource this provider answers itself; None to merge into a stored row as usual."""
        return None

    def virtual_delete(self, ctx: Ctx, path: ArmPath) -> bool | None:
        """DELETE on a resource this provider answers itself; None to delete a stored row as usual."""
        return None

    def provider_call(self, ctx: Ctx, method: str, subscription_id: str, segments: tuple[str, ...], body: Any,
                      api_version: str) -> tuple[int, Any] | ActionResult | None:
        """`/subscriptions/{s}/providers/{namespace}/{segments…}` that is not a stored resource (e.g.
        checkNameAvailability, deletedVaults). Returns (status, body), an ActionResult for long-running
        ones, or None when not handled."""
        return None

    def virtual_list(self, ctx: Ctx, path: ArmPath, query: dict[str, str]) -> list[Doc] | None:
        """A list this provider answers itself (with its own `$filter`); None to list stored rows."""
        return None

    def virtual_get(self, ctx: Ctx, path: ArmPath) -> Doc | None:
        """A resource computed rather than stored (e.g. `identities/default`); None when not one."""
        return None
