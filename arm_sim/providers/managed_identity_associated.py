"""`POST …/userAssignedIdentities/{name}/listAssociatedResources` (2021-09-30-preview, 2022-01-31-preview): the
resources whose `identity.userAssignedIdentities` names the identity, as `AssociatedResourcesListResult`
({totalCount, value: [AzureResource]}), with `$filter`, `$orderby`, `$skip` and `$top`.

Azure answers from Azure Resource Graph (the spec example's nextLink carries a Kusto skip token), so the items are
Resource Graph's rows: `type` lower-case as the example shows it. Guesses, for want of a recording with items:
`totalCount` counts the matches of `$filter` before `$skip`/`$top` (the example's 4 against 2 items shown fits);
the filter is OData on the item's fields (`eq`, `ne`, `contains`, `startswith`, `endswith`, `and`, `or`, `not`,
parentheses), comparing text ignoring case as Resource Graph's `=~` does; a bad filter or paging value is a 400
`BadRequest`; every match comes in one page (no nextLink).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from arm_sim.core import ids
from arm_sim.core.errors import DomainError, bad_request
from arm_sim.db.models import Resource, Subscription
from arm_sim.domain import tenancy
from arm_sim.domain.context import Ctx

FIELDS = ("id", "name", "type", "resourceGroup", "subscriptionId", "subscriptionDisplayName")
_BY_LOWER = {f.lower(): f for f in FIELDS}
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<punct>[(),])|(?P<word>[A-Za-z_][\w.]*))")
_FUNCTIONS = {"contains": str.__contains__, "startswith": str.startswith, "endswith": str.endswith}
Item = dict[str, Any]
Test = Callable[[Item], bool]


def _bad(message: str) -> DomainError:
    return bad_request("BadRequest", message)


def associated(ctx: Ctx, identity_id: str) -> list[Item]:
    """Every resource of the identity's tenant whose identity block names it (ids compared ignoring case)."""
    key = ids.key(identity_id)
    tenant = tenancy.subscription_tenant(ctx, ids.parse(identity_id).subscription or "")
    names = {s.id: s.display_name for s in ctx.session.scalars(select(Subscription))}
    out = []
    for row in ctx.session.scalars(select(Resource).where(Resource.identity.is_not(None))):
        refs = ((row.identity or {}).get("userAssignedIdentities") or {})
        if not any(ids.key(r) == key for r in refs) or row.subscription_id is None:
            continue
        if tenancy.subscription_tenant(ctx, row.subscription_id) != tenant:
            continue
        path = ids.parse(row.id)
        out.append({"id": row.id, "name": row.name, "type": row.type.lower(), "resourceGroup": path.resource_group,
                    "subscriptionId": row.subscription_id,
                    "subscriptionDisplayName": names.get(row.subscription_id.lower())})
    return out


def _int(query: dict[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:  # the spec's minimum for both is 1
        raise _bad(f"The value '{raw}' of '{name}' is invalid: it must be an integer of at least 1.")
    return int(raw)


def _order(items: list[Item], text: str) -> list[Item]:
    for clause in reversed([c.strip() for c in text.split(",") if c.strip()]):  # last key first: a stable sort
        parts = clause.split()
        field = _BY_LOWER.get(parts[0].lower())
        direction = parts[1].lower() if len(parts) > 1 else "asc"
        if field is None or len(parts) > 2 or direction not in ("asc", "desc"):
            raise _bad(f"The $orderby clause '{clause}' is invalid: use a field of {', '.join(FIELDS)} and asc or "
                       "desc.")
        items = sorted(items, key=lambda i: str(i.get(field) or "").lower(), reverse=direction == "desc")
    return items


def answer(ctx: Ctx, identity_id: str, query: dict[str, str]) -> dict[str, Any]:
    items = associated(ctx, identity_id)
    if query.get("$filter"):
        test = _Parser(query["$filter"]).parse()
        items = [i for i in items if test(i)]
    items = _order(items, query.get("$orderby") or "name asc")
    total = len(items)
    skip, top = _int(query, "$skip") or 0, _int(query, "$top")
    items = items[skip:] if top is None else items[skip:skip + top]
    return {"totalCount": total, "value": items}


class _Parser:
    """or := and ('or' and)*; and := unary ('and' unary)*; unary := 'not' unary | '(' or ')' | f(field, 'text')
    | field ('eq'|'ne') 'text'."""

    def __init__(self, text: str) -> None:
        self.text, self.tokens, pos = text, [], 0
        while pos < len(text.rstrip()):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise _bad(f"The $filter '{text}' is invalid at position {pos}.")
            self.tokens.append((m.lastgroup or "", m.group(m.lastgroup or 0)))
            pos = m.end()
        self.i = 0

    def parse(self) -> Test:
        test = self.or_()
        if self.i != len(self.tokens):
            raise self.error()
        return test

    def error(self) -> DomainError:
        return _bad(f"The $filter '{self.text}' is invalid: use {', '.join(FIELDS)} with eq, ne, contains, "
                    "startswith or endswith, joined by and, or, not.")

    def next(self, kind: str, word: str | None = None) -> str:
        if self.i >= len(self.tokens):
            raise self.error()
        k, v = self.tokens[self.i]
        if k != kind or (word is not None and v.lower() != word):
            raise self.error()
        self.i += 1
        return v

    def at(self, word: str) -> bool:
        return self.i < len(self.tokens) and self.tokens[self.i][0] == "word" and self.tokens[self.i][1].lower() == word

    def or_(self) -> Test:
        terms = [self.and_()]
        while self.at("or"):
            self.i += 1
            terms.append(self.and_())
        return terms[0] if len(terms) == 1 else lambda item: any(t(item) for t in terms)

    def and_(self) -> Test:
        terms = [self.unary()]
        while self.at("and"):
            self.i += 1
            terms.append(self.unary())
        return terms[0] if len(terms) == 1 else lambda item: all(t(item) for t in terms)

    def unary(self) -> Test:
        if self.at("not"):
            self.i += 1
            inner = self.unary()
            return lambda item: not inner(item)
        if self.i < len(self.tokens) and self.tokens[self.i] == ("punct", "("):
            self.i += 1
            inner = self.or_()
            self.next("punct", ")")
            return inner
        word = self.next("word").lower()
        if word in _FUNCTIONS:
            self.next("punct", "(")
            field = self.field(self.next("word"))
            self.next("punct", ",")
            value = self.string()
            self.next("punct", ")")
            func = _FUNCTIONS[word]
            return lambda item: func(str(item.get(field) or "").lower(), value)
        field = self.field(word)
        op = self.next("word").lower()
        if op not in ("eq", "ne"):
            raise self.error()
        value = self.string()
        return lambda item: (str(item.get(field) or "").lower() == value) == (op == "eq")

    def field(self, word: str) -> str:
        field = _BY_LOWER.get(word.lower())
        if field is None:
            raise self.error()
        return field

    def string(self) -> str:
        return self.next("str")[1:-1].replace("''", "'").lower()
