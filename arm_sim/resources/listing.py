"""Listing resources: ARM's `$filter` subset, `$top` and keyset paging with `$skipToken`."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Select, select

from arm_sim.core import ids
from arm_sim.core.errors import bad_request
from arm_sim.db.models import Resource
from arm_sim.domain import rbac
from arm_sim.domain.context import Ctx
from arm_sim.resources import scope

_CLAUSE = re.compile(r"^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)
_SUBSTRING = re.compile(r"^\s*substringof\(\s*'((?:[^']|'')*)'\s*,\s*(\w+)\s*\)\s*$", re.IGNORECASE)
_FIELDS = {"resourcetype": "resourceType", "name": "name", "tagname": "tagName", "tagvalue": "tagValue",
           "location": "location", "resourcegroup": "resourceGroup"}
DEFAULT_PAGE = 1000
# A resources query (SQLAlchemy 2.1 types a select of one entity as Select[Entity]; 2.0 wrote Select[tuple[Entity]])
Query = Select[Resource]
Visible = Callable[[Ctx, Resource], bool]


@dataclass
class Filter:
    equals: dict[str, str]
    contains: dict[str, str]


def parse_filter(text: str | None) -> Filter:
    f = Filter({}, {})
    if not text:
        return f
    for clause in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        m = _CLAUSE.match(clause)
        if m and m.group(1).lower() in _FIELDS:
            f.equals[_FIELDS[m.group(1).lower()]] = m.group(2).replace("''", "'")
            continue
        m = _SUBSTRING.match(clause)
        if m and m.group(2).lower() in ("name", "resourcetype"):
            f.contains[_FIELDS[m.group(2).lower()]] = m.group(1).replace("''", "'").lower()
            continue
        raise bad_request("InvalidFilterInQueryString",
                          f"Invalid $filter '{text}' specified in the query string.")
    if "tagValue" in f.equals and "tagName" not in f.equals:
        raise bad_request("InvalidFilterInQueryString",
                          "A filter on tagValue must be combined with a filter on tagName.")
    return f


def apply(q: Query, f: Filter) -> Query:
    e = f.equals
    if "resourceType" in e:
        q = q.where(Resource.type_key == e["resourceType"].lower())
    if "name" in e:
        q = q.where(Resource.name.ilike(e["name"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"),
                                        escape="\\"))
    if "location" in e:
        q = q.where(Resource.location == e["location"].lower().replace(" ", ""))
    if "resourceGroup" in e:
        q = q.where(Resource.resource_group_key.like("%/resourcegroups/" + e["resourceGroup"].lower()))
    if "name" in f.contains:
        q = q.where(Resource.name.ilike("%" + f.contains["name"] + "%"))
    if "resourceType" in f.contains:
        q = q.where(Resource.type_key.like("%" + f.contains["resourceType"] + "%"))
    return q


def keep(row: Resource, f: Filter) -> bool:
    """Tag filters are checked in Python: tags are JSON and their names compare case-insensitively."""
    if "tagName" not in f.equals:
        return True
    tags = {k.lower(): v for k, v in (row.tags or {}).items()}
    name = f.equals["tagName"].lower()
    if name not in tags:
        return False
    return "tagValue" not in f.equals or tags[name] == f.equals["tagValue"]


def encode_token(last_key: str) -> str:
    return base64.urlsafe_b64encode(last_key.encode()).decode().rstrip("=")


def decode_token(token: str | None) -> str | None:
    if not token:
        return None
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except ValueError as e:
        raise bad_request("InvalidSkipToken", "The $skipToken in the query string is invalid.") from e


def page(ctx: Ctx, q: Query, f: Filter, top: int | None, skip_token: str | None,
         visible: Visible | None = None) -> tuple[list[Resource], str | None]:
    """One page ordered by key; returns the rows and the key to continue after (None at the end).
    `visible` keeps only the rows the caller may read."""
    size = top if top else DEFAULT_PAGE
    q = apply(q, f).order_by(Resource.key)
    last = decode_token(skip_token)
    out: list[Resource] = []
    while True:
        rows = list(ctx.session.scalars((q.where(Resource.key > last) if last else q).limit(size + 1)))
        for row in rows:
            if len(out) == size:
                return out, last  # at least one more row exists
            last = row.key
            if keep(row, f) and (visible is None or visible(ctx, row)):
                out.append(row)
        if len(rows) <= size:
            return out, None


def readable(ctx: Ctx, row: Resource) -> bool:
    """Whether the caller may read the resource (a list shows each item only to those who may read it)."""
    return rbac.visible(ctx, f"{row.type}/read", row.id)


def collection_query(ctx: Ctx, path: ids.ArmPath) -> Query:
    """`…/providers/{ns}/{type}` lists by scope; `…/{type}/{name}/{childType}` lists a parent's children."""
    q = select(Resource).where(Resource.type_key == path.resource_type.lower())
    parent_key = scope.check_parent(ctx, path)
    if path.resource_group is None and len(path.parts) == 1 and len(path.parts[-1].segments) == 1:
        return q.where(Resource.subscription_id == (path.subscription or "").lower())
    return q.where(Resource.parent_key == parent_key)


def scope_query(ctx: Ctx, path: ids.ArmPath) -> Query:
    """`/subscriptions/{s}[/resourceGroups/{rg}]/resources`: top-level resources only, as ARM lists them."""
    # extension resources on the group itself (role assignments, locks) are not listed, as in ARM
    not_extension = ~Resource.type_key.startswith("microsoft.authorization/")
    if path.resource_group is not None:
        rg = scope.resource_group(ctx, path.subscription or "", path.resource_group)
        return select(Resource).where(Resource.parent_key == rg.key, not_extension)
    sub = scope.subscription(ctx, path.subscription or "")
    return select(Resource).where(Resource.subscription_id == sub.id,
                                  Resource.parent_key == Resource.resource_group_key, not_extension)
