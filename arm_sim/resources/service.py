"""ResourceService: THE write path for every ARM resource (REST and template deployments).

Every rule is written once here or in a provider hook, so it holds whichever entry point is used.
Nothing here commits: the caller's unit of work does.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import orjson
from sqlalchemy import bindparam, select
from sqlalchemy.orm.attributes import flag_modified

from arm_sim.core import ids
from arm_sim.core.errors import DomainError, bad_request, not_found
from arm_sim.core.merge_patch import merge_patch
from arm_sim.db.engine import HotSelect
from arm_sim.db.models import Resource
from arm_sim.db.records import ResourceRecord
from arm_sim.domain import events
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx
from arm_sim.providers import shapes
from arm_sim.providers.base import ActionResult, Doc, Provider
from arm_sim.providers.catalog import check_types, normalize_location, unknown_type
from arm_sim.providers.registry import provider_for
from arm_sim.resources import effects, identity, locks, preflight, scope
from arm_sim.resources.documents import EXTRA_FIELDS, SIM_STATE, check_name, check_tags, request_object, to_doc

# Types that live inside a scope without a location of their own (proxy and extension types).
LOCATIONLESS_NAMESPACES = ("microsoft.authorization", "microsoft.insights", "microsoft.security",
                           "microsoft.policyinsights", "microsoft.resources")


def _not_found(path: ids.ArmPath) -> DomainError:
    last = path.parts[-1]
    what = "/".join((last.namespace, *last.types[:1], *last.segments[1:]))
    where = f" under resource group '{path.resource_group}'" if path.resource_group else ""
    return not_found("ResourceNotFound", f"The Resource '{what}'{where} was not found. For more details please "
                     "go to https://aka.ms/ARMResourceNotFoundFix")


def _new_etag() -> str:
    return f'"{uuid.uuid4()}"'


def _check_etag(row: Resource | None, if_match: str | None, if_none_match: str | None) -> None:
    failed = (
        (if_match is not None and (row is None or (if_match != "*" and if_match.strip() != row.etag)))
        or (if_none_match == "*" and row is not None)
    )
    if failed:
        raise DomainError(412, "PreconditionFailed",
                          "The condition specified using HTTP conditional header(s) is not met.")


def _needs_location(path: ids.ArmPath) -> bool:
    last = path.parts[-1]
    return (len(path.parts) == 1 and path.resource_group is not None and len(last.segments) == 2
            and last.namespace.lower() not in LOCATIONLESS_NAMESPACES)


def get_row(ctx: Ctx, path: ids.ArmPath) -> Resource | None:
    """The row a write will change (tracked by the ORM, so its etag is checked), or None for a new resource.

    Most writes of a deployment create: a prebuilt existence read answers "none" for a third of what the ORM's own
    lookup costs. The ORM is asked whenever the unit holds resource rows it has not flushed, which that read
    cannot see."""
    key = ids.key(path.id)
    session = ctx.session
    if (Resource, (key,), None) not in session.identity_map and not any(
            isinstance(o, Resource) for o in (*session.new, *session.deleted)) and \
            _KEY_ONLY.first(session, {"key": key}) is None:
        return None
    return session.get(Resource, key)


# Reads skip the ORM: a prebuilt Core statement costs half as much on the hot GET path, and HotSelect runs it
# straight on the driver where SQLAlchemy's execution machinery would cost more than the query (SQLite).
_TABLE = Resource.__table__
_BY_KEY: HotSelect[ResourceRecord] = HotSelect(select(_TABLE).where(_TABLE.c.key == bindparam("key")))
_KEY_ONLY: HotSelect[Any] = HotSelect(select(_TABLE.c.key).where(_TABLE.c.key == bindparam("key")))


def get(ctx: Ctx, path: ids.ArmPath) -> Doc:
    row = _BY_KEY.first(ctx.session, {"key": ids.key(path.id)})
    if row is None:
        virtual = provider_for(path.resource_type.lower()).virtual_get(ctx, path)
        if virtual is not None:
            return virtual
        scope.check_parent(ctx, path)
        raise _not_found(path)
    return to_doc(row)


def _write(ctx: Ctx, path: ids.ArmPath, row: Resource | None, doc: Doc, api_version: str, parent_key: str,
           identity_request: Any, patch: bool) -> tuple[Doc, bool]:
    type_key = path.resource_type.lower()
    provider = provider_for(type_key)
    before = to_doc(row) if row is not None else None
    shapes.coerce(type_key, api_version, doc)
    provider.validate(ctx, path, doc, before)
    if identity_request is not None or (before or {}).get("identity") is not None:
        doc["identity"] = identity.reconcile(ctx, path.id, path.name, (before or {}).get("identity"),
                                             identity_request, patch=patch, both=provider.identity_both)
    created = row is None
    if row is None:
        row = Resource(
            key=ids.key(path.id), id=path.id, subscription_id=(path.subscription or "").lower() or None,
            resource_group_key=ids.key(path.scope_id) if path.resource_group else None, parent_key=parent_key,
            type=path.resource_type, type_key=type_key, name=path.name, created_at=ctx.now,
            created_by=ctx.caller.client_id if ctx.caller else None,
        )
        ctx.session.add(row)
    row.location = doc.get("location")
    row.tags = doc.get("tags") or {}
    row.kind, row.sku, row.plan = doc.get("kind"), doc.get("sku"), doc.get("plan")
    row.identity = doc.get("identity")
    row.properties = doc.get("properties") or {}
    row.extra = _extra(doc)
    row.etag, row.api_version, row.changed_at = _new_etag(), api_version, ctx.now
    row.changed_by = ctx.caller.client_id if ctx.caller else None
    ctx.session.flush()
    written = _json_columns(row.identity, row.properties, row.extra)
    after = to_doc(row)
    _on_put(ctx, provider, before, after)
    _stamp_change(ctx, before, after)
    # hooks may fill server-side fields (identity principal ids, vault URIs, simulator state …), also in place in
    # the row's own JSON, which the ORM cannot see: a column is written again only if its JSON changed
    filled = (after.get("identity"), after.get("properties") or {}, _extra(after))
    for column, value, text, was in zip(("identity", "properties", "extra"), filled, _json_columns(*filled), written,
                                        strict=True):
        if text != was:
            setattr(row, column, value)
            flag_modified(row, column)
    events.record(ctx, "resource.created" if created else "resource.updated", row.id, type=row.type)
    return to_doc(row), created


def _json_columns(*values: Any) -> list[bytes]:
    """The JSON text of column values, to see whether hooks changed them (orjson: ~10x json's speed; json takes
    what it refuses, integers beyond 64 bits)."""
    try:
        return [orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS) for v in values]
    except TypeError:
        return [json.dumps(v, default=str).encode() for v in values]


_UNCHANGING = ("etag", "systemData", SIM_STATE)


def _stamp_change(ctx: Ctx, before: Doc | None, after: Doc) -> None:
    """The time of the last write that changed what the resource is (`_sim.changedAt`, read by `shapes.fill` for
    a provider's change times): a PUT of the same document again keeps the earlier one, as a provider's does."""
    changed = before is None or any(before.get(k) != after.get(k) for k in set(before) | set(after)
                                    if k not in _UNCHANGING)
    stamp = iso(ctx.now) if changed else (before or {}).get(SIM_STATE, {}).get("changedAt")
    if stamp:
        after.setdefault(SIM_STATE, {})["changedAt"] = stamp


def _on_put(ctx: Ctx, provider: Provider, before: Doc | None, after: Doc) -> None:
    """The provider's hook, then the effects it returns (resources it makes on its own), in this transaction;
    then the hook once more, to read what they made (AKS: the kubelet identity's principal)."""
    made = provider.on_put(ctx, before, after)
    if made:
        effects.apply(ctx, made)
        effects.apply(ctx, provider.on_put(ctx, before, after))  # none, normally: what it asked for exists now


def _extra(doc: Doc) -> dict[str, Any]:
    out = {f: doc[f] for f in EXTRA_FIELDS if doc.get(f) is not None}
    if doc.get(SIM_STATE):
        out[SIM_STATE] = doc[SIM_STATE]
    return out


def put(ctx: Ctx, path: ids.ArmPath, body: Any, api_version: str, *, if_match: str | None = None,
        if_none_match: str | None = None) -> tuple[Doc, bool]:
    """Create or replace. Returns the stored document and whether it was created."""
    body = request_object(body)
    for part in path.parts:  # a template names its types; REST paths were checked by the ARM host already
        check_types(part, action=False, api_version=api_version)
    for name in path.parts[-1].names:
        check_name(name)
    location = body.get("location")
    preflight.check(ctx, path, api_version, location if isinstance(location, str) else None)
    locks.check(ctx, path.id, "write")
    parent_key = scope.check_parent(ctx, path)
    provider = provider_for(path.resource_type.lower())
    if path.resource_type.lower() in provider.parent_operations:
        return _parent_operation(ctx, path, body, api_version), False
    handled = provider.virtual_put(ctx, path, body, api_version)
    if handled is not None:
        return handled
    row = get_row(ctx, path)
    _check_etag(row, if_match, if_none_match)
    properties = body.get("properties", {})
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise bad_request("InvalidRequestContent", "The 'properties' member must be a JSON object.")
    properties = {k: v for k, v in properties.items() if k != "provisioningState"}
    properties["provisioningState"] = "Succeeded"
    doc: Doc = {"properties": properties, "tags": check_tags(body.get("tags"))}
    location = body.get("location")
    if location is not None and not isinstance(location, str):
        raise bad_request("InvalidRequestContent", "The 'location' member must be a string.")
    if location:
        doc["location"] = normalize_location(location)
    elif _needs_location(path):
        raise bad_request("LocationRequired", "The location property is required for this definition.")
    if row is not None and row.location and doc.get("location") and doc["location"] != row.location:
        raise bad_request(
            "InvalidResourceLocation",
            f"The resource '{path.name}' already exists in location '{row.location}' in resource group "
            f"'{path.resource_group}'. A resource with the same name cannot be created in location "
            f"'{doc['location']}'. Please select a new resource name.",
        )
    for field in ("kind", "sku", "plan", *EXTRA_FIELDS):
        if body.get(field) is not None:
            doc[field] = body[field]
    if row is not None and SIM_STATE in row.extra:
        doc[SIM_STATE] = row.extra[SIM_STATE]
    return _write(ctx, path, row, doc, api_version, parent_key, body.get("identity"), patch=False)


def _parent_operation(ctx: Ctx, path: ids.ArmPath, body: Doc, api_version: str) -> Doc:
    """PUT of an operation on the parent resource (a vault's `accessPolicies/add`): the provider says how the
    parent changes, and the parent is written as any PATCH is (validation, hooks, a new ETag, the event)."""
    parent = ids.parse(path.parent_id)
    row = get_row(ctx, parent)
    if row is None:
        raise _not_found(parent)
    change, answer = provider_for(path.resource_type.lower()).parent_operation(ctx, path, body, to_doc(row))
    patch(ctx, parent, change, api_version)
    return answer


def patch(ctx: Ctx, path: ids.ArmPath, body: Any, api_version: str, *, if_match: str | None = None) -> Doc:
    """Update: `tags` replace, everything else merges as JSON merge-patch (RFC 7396)."""
    body = request_object(body)
    locks.check(ctx, path.id, "write")
    handled = provider_for(path.resource_type.lower()).virtual_patch(ctx, path, body, api_version)
    if handled is not None:
        return handled
    row = get_row(ctx, path)
    if row is None:
        scope.check_parent(ctx, path)
        raise _not_found(path)
    _check_etag(row, if_match, None)
    doc = to_doc(row)
    if "location" in body and body["location"] and normalize_location(str(body["location"])) != row.location:
        raise bad_request("InvalidResourceLocation", "The location of a resource cannot be changed.")
    if "tags" in body:
        doc["tags"] = check_tags(body["tags"])
    for field in ("properties", "sku", "plan", "kind", *EXTRA_FIELDS):
        if field in body:
            doc[field] = merge_patch(doc.get(field), body[field])
    if not isinstance(doc.get("properties") or {}, dict):
        raise bad_request("InvalidRequestContent", "The 'properties' member must be a JSON object.")
    props = doc.get("properties") or {}
    props["provisioningState"] = "Succeeded"
    doc["properties"] = props
    out, _ = _write(ctx, path, row, doc, api_version, row.parent_key or "", body.get("identity"), patch=True)
    return out


def children(ctx: Ctx, key: str) -> list[Resource]:
    """Every resource below `key` (child and extension resources), deepest first."""
    # A range of the primary key (keys compare bytewise on both databases, db.models.Resource.key), not a LIKE:
    # neither database can search an index by a LIKE pattern here, so each delete read every row of every group.
    rows = ctx.session.scalars(select(Resource).where(Resource.key > key + "/", Resource.key < key + "0")).all()
    return sorted(rows, key=lambda r: r.key.count("/"), reverse=True)


def delete_row(ctx: Ctx, row: Resource) -> None:
    """Delete one resource and everything below it, children first, running each provider's hook."""
    for child in [*children(ctx, row.key), row]:
        effects.apply(ctx, provider_for(child.type_key).on_delete(ctx, to_doc(child)))
        identity.release(ctx, child.identity)
        ctx.session.delete(child)
        events.record(ctx, "resource.deleted", child.id, type=child.type)
    ctx.session.flush()


def delete(ctx: Ctx, path: ids.ArmPath) -> bool:
    """Returns False when there was nothing to delete (ARM answers 204)."""
    locks.check(ctx, path.id, "delete")
    handled = provider_for(path.resource_type.lower()).virtual_delete(ctx, path)
    if handled is not None:
        return handled
    row = get_row(ctx, path)
    if row is None:
        scope.check_parent(ctx, path)
        return False
    delete_row(ctx, row)
    return True


def _target(ctx: Ctx, path: ids.ArmPath) -> tuple[ids.ArmPath, Resource]:
    """For `{resource id}/{name}` (an action or a view): the resource's path and its row (404 if missing)."""
    last = path.parts[-1]
    target = ids.ArmPath(path.subscription, path.resource_group,
                         (*path.parts[:-1], ids.ProviderPart(last.namespace, last.segments[:-1])), path.tail)
    row = get_row(ctx, target)
    if row is None:
        scope.check_parent(ctx, target)
        raise _not_found(target)
    return target, row


def action(ctx: Ctx, path: ids.ArmPath, body: Any, api_version: str,
           query: dict[str, str] | None = None) -> tuple[Doc, ActionResult]:
    """POST `{resource id}/{action}`: the provider of the resource decides; what it changed is saved."""
    last = path.parts[-1]
    if len(last.segments) < 2:  # `providers/{ns}/{name}` its provider did not answer: no such type, as ARM says
        raise unknown_type(last.namespace, last.segments, api_version)
    _, row = _target(ctx, path)
    locks.check(ctx, row.id, "write")  # a ReadOnly lock refuses every POST action, listKeys included
    doc = copy.deepcopy(to_doc(row))  # a copy: `save` compares it with the row to see what the action changed
    name = path.parts[-1].segments[-1]
    result = provider_for(row.type_key).action(ctx, doc, name, body, api_version, query)
    save(ctx, doc, name)
    return doc, result


def view(ctx: Ctx, path: ids.ArmPath, api_version: str) -> Doc | None:
    """GET `{resource id}/{view}` when the resource's provider computes that view; None otherwise (a list)."""
    last = path.parts[-1]
    if len(last.segments) < 3:
        return None
    view_type = f"{last.namespace}/{'/'.join(last.types[:-1])}/{last.segments[-1]}".lower()
    provider = provider_for(view_type.rsplit("/", 1)[0])
    if view_type not in provider.views:
        return None
    _, row = _target(ctx, path)
    return provider.view(ctx, to_doc(row), last.segments[-1], api_version)


def provider_call(ctx: Ctx, namespace: str, method: str, subscription_id: str | None, segments: tuple[str, ...],
                  body: Any, api_version: str, query: dict[str, str] | None = None
                  ) -> tuple[int, Any] | ActionResult | None:
    """A provider-level endpoint under a subscription (checkNameAvailability, deletedVaults …); with no subscription,
    a tenant-level provider read (`/providers/Microsoft.Web/webAppStacks`), answered by the provider's `tenant_call`
    (None: not simulated)."""
    provider = provider_for(namespace.lower() + "/")
    if subscription_id is None:
        return provider.tenant_call(ctx, method, segments, query or {}, api_version)
    scope.subscription(ctx, subscription_id)
    return provider.provider_call(ctx, method, subscription_id, segments, body, api_version)


def group_call(ctx: Ctx, namespace: str, method: str, subscription_id: str, resource_group: str,
               segments: tuple[str, ...], body: Any, api_version: str) -> tuple[int, Any] | None:
    """A provider-level endpoint under a resource group (App Service's `validate`), or None."""
    provider = provider_for(namespace.lower() + "/")
    scope.resource_group(ctx, subscription_id, resource_group)
    return provider.group_call(ctx, method, subscription_id, resource_group, segments, body, api_version)


def virtual_list(ctx: Ctx, path: ids.ArmPath, query: dict[str, str]) -> list[Doc] | None:
    """A collection its provider lists itself (role definitions, role assignments with their filters)."""
    scope.check_parent(ctx, path)
    return provider_for(path.resource_type.lower()).virtual_list(ctx, path, query)


def save(ctx: Ctx, doc: Doc, action: str) -> None:
    """Store what an action changed (properties or simulator state), as every write does: a new ETag and
    `resource.updated`. The action is the provider's own change, so validate and on_put do not run again (a
    hook would undo it: AKS keeps the stored power state on every PUT). An action that changed nothing (listKeys)
    writes nothing."""
    row = ctx.session.get(Resource, ids.key(doc["id"]))
    properties, extra = doc.get("properties") or {}, _extra(doc)
    if row is None or (properties == (row.properties or {}) and extra == (row.extra or {})):
        return
    row.properties, row.extra, row.etag, row.changed_at = properties, extra, _new_etag(), ctx.now
    row.changed_by = ctx.caller.client_id if ctx.caller else None
    for column in ("properties", "extra"):
        flag_modified(row, column)
    events.record(ctx, "resource.updated", row.id, type=row.type, action=action)


def render(ctx: Ctx, doc: Doc, api_version: str, expand: str | None = None) -> Doc:
    """What clients see: the provider's shape for `api_version` (plus `$expand`), without simulator state, with
    the readOnly properties the spec of `api_version` lists, and only the top-level keys its provider shows."""
    type_key = doc["type"].lower()
    provider = provider_for(type_key)
    shown = provider.render(ctx, doc, api_version)
    if expand:
        shown = provider.expand(ctx, doc, shown, expand, api_version)
    schema = shapes.body(type_key, api_version)
    if schema is not None:
        shown = shapes.fill(schema, shown, provider.read_only_nulls)
    shown = shapes.without_secrets(type_key, shown)
    hidden = provider.hidden_keys(shown, schema)
    return {k: v for k, v in shown.items() if k != SIM_STATE and k not in hidden}


def delete_returns_body(type_name: str) -> bool:
    return provider_for(type_name.lower()).delete_returns_body


def put_status(type_name: str, created: bool) -> int:
    return provider_for(type_name.lower()).put_status(type_name.lower(), created)


def is_async(type_name: str) -> bool:
    t = type_name.lower()
    return "/" in t and provider_for(t).is_async(t)  # a bare namespace (`providers/{ns}`) names no type
