"""The provider contract: the hooks ResourceService calls, in the request's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from arm_sim.core.errors import not_implemented
from arm_sim.core.ids import ArmPath
from arm_sim.domain.context import Ctx

Doc = dict[str, Any]  # a resource as ARM shows it: id, name, type, location, tags, properties, …


@dataclass(frozen=True)
class PutResourceGroup:
    subscription_id: str
    name: str
    body: Doc


@dataclass(frozen=True)
class PutResource:
    resource_id: str
    body: Doc
    api_version: str


@dataclass(frozen=True)
class DeleteResourceGroup:
    subscription_id: str
    name: str


# What a hook returns: resources and groups the resource provider makes or removes on its own (AKS's node
# resource group and the identities in it). The service applies them after the hook, in its transaction and
# through the same write path, so their own validation, hooks, ETags and events apply.
Effect = PutResourceGroup | PutResource | DeleteResourceGroup


@dataclass
class ActionResult:
    """What an action answers: a status and body, and whether it runs as a long-running operation."""

    status: int = 200
    body: Any = None
    long_running: bool = False
    media_type: str | None = None  # a body that is not JSON (text as given): App Service's publishing XML


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
    # child types (lower-case, with namespace) whose PUT is an operation on the parent resource rather than a
    # resource of its own (a vault's `accessPolicies/add`): see `parent_operation`
    parent_operations: frozenset[str] = frozenset()

    # whether the provider's answers carry ARM's `systemData` (MSI, Compute and App Service leave it out, whatever
    # their specs declare: seen in Azure's recorded answers, tests/conformance/recordings/az)
    system_data: bool = True
    # whether readOnly properties the provider has no value for are answered as null (App Service's serializer
    # writes nulls; most leave them out) — see providers/shapes.fill
    read_only_nulls: bool = False
    # whether an empty `tags` is shown (App Service shows `tags` only once some are set)
    empty_tags: bool = True

    def hidden_keys(self, shown: Doc, schema: dict[str, Any] | None) -> set[str]:
        """Top-level keys left out of an answer: `etag`, `tags` and `systemData` where the type's schema (for the
        request's api version) has none, `systemData` where the provider does not fill it, an empty `tags` where
        the provider shows none."""
        hidden: set[str] = set()
        if schema is not None:
            hidden.update(k for k in ("etag", "tags", "systemData") if k not in (schema.get("p") or {}))
        if not self.system_data:
            hidden.add("systemData")
        if not self.empty_tags and not shown.get("tags"):
            hidden.add("tags")
        return hidden

    def preflight(self, ctx: Ctx, path: ArmPath, doc: Doc, declared: frozenset[str]) -> None:
        """What the provider refuses of a template's resource before the deployment creates anything (`doc` as it
        will be written; `declared`: keys of the template's resources, which count as existing)."""
        return None

    def put_status(self, type_key: str, created: bool) -> int:
        """What a PUT answers: `created_status` when it created the resource, else 200."""
        return self.created_status if created else 200

    def handles(self, type_key: str) -> bool:
        return self.namespace == "*" or type_key.split("/", 1)[0] == self.namespace.lower()

    def is_async(self, type_key: str) -> bool:
        return type_key.split("/", 1)[1] in self.async_types

    def validate(self, ctx: Ctx, path: ArmPath, doc: Doc, before: Doc | None) -> None:
        """Refuse bad input with a DomainError before anything is written; may normalise `doc`."""

    def on_put(self, ctx: Ctx, before: Doc | None, after: Doc) -> list[Effect] | None:
        """Runs after the row is written, in the same transaction; may fill server-side fields. When it returns
        effects, the service applies them and then runs it once more, so it can read what they made."""
        return None

    def on_delete(self, ctx: Ctx, doc: Doc) -> list[Effect] | None:
        """Runs before the row is removed, in the same transaction; the service applies the effects it returns."""
        return None

    def render(self, ctx: Ctx, doc: Doc, api_version: str) -> Doc:
        """The response body for `api_version`."""
        return doc

    def expand(self, ctx: Ctx, doc: Doc, shown: Doc, expand: str, api_version: str) -> Doc:
        """GET with `$expand=…`: add what was asked for to the rendered resource."""
        return shown

    def view(self, ctx: Ctx, doc: Doc, view: str, api_version: str) -> Doc:
        """GET `{resource id}/{view}` for a name listed in `views` (e.g. a VM's instanceView)."""
        raise not_implemented(f"GET '{view}' on '{doc['type']}'")

    def action(self, ctx: Ctx, doc: Doc, action: str, body: Any, api_version: str,
               query: dict[str, str] | None = None) -> ActionResult:
        """POST `{resource id}/{action}` (start, powerOff, listKeys …), with the request's query (`$filter` and the
        like, for actions that list). Unknown actions say so plainly."""
        raise not_implemented(f"the action '{action}' on '{doc['type']}'")

    def parent_operation(self, ctx: Ctx, path: ArmPath, body: Doc, parent: Doc) -> tuple[Doc, Doc]:
        """PUT `path`, of a type in `parent_operations`; `parent` is the parent's document. Returns the parent's
        change as a merge-patch, which the service writes as a PATCH of the parent, and the answer."""
        raise not_implemented(f"PUT '{path.resource_type}'")

    def virtual_put(self, ctx: Ctx, path: ArmPath, body: Any, api_version: str) -> tuple[Doc, bool] | None:
        """A PUT this provider answers without storing a row of its own (e.g. a vault's secret, which lives in
        the vault's store). Returns (document, created) or None."""
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

    def group_call(self, ctx: Ctx, method: str, subscription_id: str, resource_group: str,
                   segments: tuple[str, ...], body: Any, api_version: str) -> tuple[int, Any] | None:
        """A provider-level endpoint under a resource group (`POST {group}/providers/Microsoft.Web/validate`);
        None: not one of this provider's (the request then names a resource type)."""
        return None

    def tenant_call(self, ctx: Ctx, method: str, segments: tuple[str, ...], query: dict[str, str],
                    api_version: str) -> tuple[int, Any] | None:
        """`/providers/{namespace}/{segments…}` with no subscription (a tenant-level read such as Microsoft.Web's
        webAppStacks): (status, body), or None when not simulated."""
        return None

    def virtual_list(self, ctx: Ctx, path: ArmPath, query: dict[str, str]) -> list[Doc] | None:
        """A list this provider answers itself (with its own `$filter`); None to list stored rows."""
        return None

    def virtual_get(self, ctx: Ctx, path: ArmPath) -> Doc | None:
        """A resource computed rather than stored (e.g. `identities/default`); None when not one."""
        return None
