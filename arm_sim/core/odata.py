"""OData `$filter` for the Microsoft Graph subset arm-sim serves.

A tokenizer and a recursive-descent parser build a tiny AST of frozen dataclasses that
evaluates against Graph-shaped dicts (camelCase keys). The Graph rules that matter here:
keywords, function and property names are case-insensitive; string `eq`, `ne`, `in`,
`startsWith` and `endsWith` ignore case; string values (GUIDs included) must be quoted.

Grammar, loosest binding first:
    or_expr  := and_expr ('or' and_expr)*
    and_expr := unary ('and' unary)*
    unary    := 'not' unary | primary
    primary  := '(' or_expr ')'
              | ('startsWith' | 'endsWith') '(' path ',' string ')'
              | path '/' ('any' | 'all') '(' name ':' or_expr ')'
              | path ('eq' | 'ne') literal
              | path 'in' '(' literal (',' literal)* ')'
    path     := name ('/' name)*          (may start with a lambda variable)
    literal  := string | 'null' | 'true' | 'false'
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from arm_sim.core.errors import DomainError, bad_request

Value = str | bool | None
Env = Mapping[str, Any]  # lambda variable (casefolded) -> the collection item it is bound to

_MAX_DEPTH = 64  # filters come from clients: fail with a 400, not a RecursionError
_CONSTANTS: dict[str, Value] = {"null": None, "true": True, "false": False}
_FUNCTIONS = ("startswith", "endswith")
# Never property names in Graph; reserving them turns `x eq 'a' or or ...` into a clear error.
_RESERVED = frozenset({"and", "or", "not", "eq", "ne", "in", *_CONSTANTS})
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
# A "word" also swallows '-' and '.', so an unquoted GUID is reported as one literal.
_TOKEN = re.compile(
    r"(?P<ws>\s+)|(?P<string>'(?:[^']|'')*')|(?P<word>[A-Za-z0-9_][\w.\-]*)|(?P<punct>[(),:/])"
)


def _error(reason: str) -> DomainError:
    return bad_request("BadRequest", f"Invalid filter clause: {reason}")


# --- AST -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prop:
    """A property path, rooted at the object or, inside a lambda, at the bound item."""

    path: tuple[str, ...]
    var: str | None = None

    def resolve(self, obj: Mapping[str, Any], env: Env) -> Any:
        value: Any = env[self.var] if self.var is not None else obj
        for name in self.path:
            value = _get(value, name)
        return value


@dataclass(frozen=True)
class Compare:
    op: str  # "eq" | "ne"
    prop: Prop
    value: Value

    def evaluate(self, obj: Mapping[str, Any], env: Env) -> bool:
        equal = _equals(self.prop.resolve(obj, env), self.value)
        return equal if self.op == "eq" else not equal


@dataclass(frozen=True)
class In:
    prop: Prop
    values: tuple[Value, ...]

    def evaluate(self, obj: Mapping[str, Any], env: Env) -> bool:
        actual = self.prop.resolve(obj, env)
        return any(_equals(actual, v) for v in self.values)


@dataclass(frozen=True)
class StringFunc:
    name: str  # "startswith" | "endswith"
    prop: Prop
    value: str

    def evaluate(self, obj: Mapping[str, Any], env: Env) -> bool:
        actual = self.prop.resolve(obj, env)
        if not isinstance(actual, str):
            return False
        text, affix = actual.casefold(), self.value.casefold()
        return text.startswith(affix) if self.name == "startswith" else text.endswith(affix)


@dataclass(frozen=True)
class Lambda:
    kind: str  # "any" | "all"
    collection: Prop
    var: str
    body: Expr

    def evaluate(self, obj: Mapping[str, Any], env: Env) -> bool:
        items = self.collection.resolve(obj, env)
        if not isinstance(items, list | tuple):
            items = ()  # a missing (null) collection has no members: any -> false, all -> true
        results = (self.body.evaluate(obj, {**env, self.var: item}) for item in items)
        return any(results) if self.kind == "any" else all(results)


@dataclass(frozen=True)
class And:
    terms: tuple[Expr, ...]

    def evaluate(self, obj: Mapping[str, Any], env: Env) -> bool:
        return all(t.evaluate(obj, env) for t in self.terms)


@dataclass(frozen=True)
class Or:
    terms: tuple[Expr, ...]

    def evaluate(self, obj: Mapping[str, Any], env: Env) -> bool:
        return any(t.evaluate(obj, env) for t in self.terms)


@dataclass(frozen=True)
class Not:
    operand: Expr

    def evaluate(self, obj: Mapping[str, Any], env: Env) -> bool:
        return not self.operand.evaluate(obj, env)


Expr = Compare | In | StringFunc | Lambda | And | Or | Not


def _get(value: Any, name: str) -> Any:
    """Graph property names are case-insensitive; a missing property reads as null."""
    if not isinstance(value, Mapping):
        return None
    if name in value:
        return value[name]
    folded = name.casefold()
    return next((v for k, v in value.items() if isinstance(k, str) and k.casefold() == folded), None)


def _equals(actual: Any, expected: Value) -> bool:
    if expected is None:
        return actual is None
    if isinstance(expected, bool):
        return actual is expected  # keeps 'true' (a string) and 1 from equalling true
    return isinstance(actual, str) and actual.casefold() == expected.casefold()


def _conjuncts(expr: Expr) -> Iterator[Expr]:
    if isinstance(expr, And):
        for term in expr.terms:
            yield from _conjuncts(term)
    else:
        yield expr


def _plain_equality(term: Expr) -> tuple[str, str] | None:
    if (
        isinstance(term, Compare)
        and term.op == "eq"
        and term.prop.var is None
        and len(term.prop.path) == 1
        and isinstance(term.value, str)
    ):
        return term.prop.path[0], term.value
    return None


@dataclass(frozen=True)
class Filter:
    """A parsed `$filter`; build one with `parse_filter`."""

    root: Expr

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return self.root.evaluate(obj, {})

    def equalities(self) -> dict[str, str]:
        """Top-level `prop eq 'string'` pairs, for pushing into SQL as a pre-filter.

        Only when the whole filter is an AND of such terms and lambdas; otherwise {}. Lambdas
        are left out, so callers must still apply `matches`. Keys are spelled as in the filter
        (the first spelling wins when a property repeats); values must be compared ignoring case.
        """
        found: dict[str, str] = {}
        seen: set[str] = set()
        for term in _conjuncts(self.root):
            if isinstance(term, Lambda):
                continue
            pair = _plain_equality(term)
            if pair is None:
                return {}
            name, value = pair
            if name.casefold() not in seen:
                seen.add(name.casefold())
                found[name] = value
        return found


def parse_filter(text: str) -> Filter:
    """Parse a Graph `$filter`; bad syntax raises a 400 `BadRequest` DomainError."""
    if not text or not text.strip():
        raise _error("the filter is empty")
    return Filter(_Parser(_tokenize(text)).parse())


# --- tokenizer -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # "string" | "word" | "end" | one of the punctuation characters ( ) , : /
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            if text[pos] == "'":
                raise _error(f"unterminated string literal at position {pos}")
            raise _error(f"unexpected character {text[pos]!r} at position {pos}")
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(_Token(m.group() if kind == "punct" else kind, m.group(), pos))
        pos = m.end()
    tokens.append(_Token("end", "", pos))
    return tokens


def _describe(tok: _Token) -> str:
    return "the end of the filter" if tok.kind == "end" else f"{tok.text!r} at position {tok.pos}"


# --- parser --------------------------------------------------------------------------------


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0
        self.scope: list[str] = []  # lambda variables in scope, innermost last

    def parse(self) -> Expr:
        expr = self.or_expr()
        if self.peek().kind != "end":
            raise _error(f"unexpected {_describe(self.peek())}")
        return expr

    # token helpers

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        tok = self.peek()
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    def at_keyword(self, *words: str) -> bool:
        tok = self.peek()
        return tok.kind == "word" and tok.text.lower() in words

    def expect(self, kind: str) -> _Token:
        if self.peek().kind != kind:
            raise _error(f"expected {kind!r} but found {_describe(self.peek())}")
        return self.advance()

    def name(self, what: str = "a property name") -> str:
        tok = self.peek()
        if tok.kind != "word" or not _IDENTIFIER.fullmatch(tok.text) or tok.text.lower() in _RESERVED:
            raise _error(f"expected {what} but found {_describe(tok)}")
        return self.advance().text

    # grammar

    def or_expr(self) -> Expr:
        terms = [self.and_expr()]
        while self.at_keyword("or"):
            self.advance()
            terms.append(self.and_expr())
        return terms[0] if len(terms) == 1 else Or(tuple(terms))

    def and_expr(self) -> Expr:
        terms = [self.unary()]
        while self.at_keyword("and"):
            self.advance()
            terms.append(self.unary())
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def unary(self) -> Expr:
        # Every nesting (parentheses, not, lambda bodies) passes through here.
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _error("the filter is nested too deeply")
        if self.at_keyword("not"):
            self.advance()
            expr: Expr = Not(self.unary())
        else:
            expr = self.primary()
        self.depth -= 1
        return expr

    def primary(self) -> Expr:
        tok = self.peek()
        if tok.kind == "(":
            self.advance()
            expr = self.or_expr()
            self.expect(")")
            return expr
        if tok.kind == "word" and self.peek(1).kind == "(":
            return self.function()
        if tok.kind != "word":
            raise _error(f"expected a condition but found {_describe(tok)}")
        target = self.path_or_lambda()
        if isinstance(target, Lambda):
            return target
        if self.at_keyword("eq", "ne"):
            op = self.advance().text.lower()
            return Compare(op, target, self.literal())
        if self.at_keyword("in"):
            self.advance()
            return In(target, self.literal_list())
        if self.peek().kind == "word":
            raise _error(f"unsupported operator {_describe(self.peek())}")
        raise _error(f"expected 'eq', 'ne' or 'in' but found {_describe(self.peek())}")

    def function(self) -> StringFunc:
        tok = self.advance()
        if tok.text.lower() not in _FUNCTIONS:
            raise _error(f"unsupported function {_describe(tok)}")
        self.expect("(")
        prop = self.prop()
        self.expect(",")
        value = self.literal()
        if not isinstance(value, str):
            raise _error(f"{tok.text} needs a string literal as its second argument")
        self.expect(")")
        return StringFunc(tok.text.lower(), prop, value)

    def prop(self) -> Prop:
        target = self.path_or_lambda()
        if isinstance(target, Lambda):
            raise _error("a lambda cannot be used as a value")
        return target

    def path_or_lambda(self) -> Prop | Lambda:
        names = [self.name()]
        while self.peek().kind == "/":
            self.advance()
            # `any`/`all` are only operators when called; otherwise they are property names.
            if self.at_keyword("any", "all") and self.peek(1).kind == "(":
                return self.lambda_(self.make_prop(names), self.advance().text.lower())
            names.append(self.name())
        return self.make_prop(names)

    def make_prop(self, names: list[str]) -> Prop:
        head = names[0].casefold()
        if head in self.scope:
            return Prop(tuple(names[1:]), var=head)
        return Prop(tuple(names))

    def lambda_(self, collection: Prop, kind: str) -> Lambda:
        self.expect("(")
        var = self.name("a lambda variable").casefold()
        self.expect(":")
        self.scope.append(var)
        body = self.or_expr()
        self.scope.pop()
        self.expect(")")
        return Lambda(kind, collection, var, body)

    def literal(self) -> Value:
        tok = self.peek()
        if tok.kind == "string":
            self.advance()
            return tok.text[1:-1].replace("''", "'")
        if tok.kind == "word":
            if tok.text.lower() in _CONSTANTS:
                self.advance()
                return _CONSTANTS[tok.text.lower()]
            raise _error(f"unquoted literal {_describe(tok)}; string values must be in single quotes")
        raise _error(f"expected a literal but found {_describe(tok)}")

    def literal_list(self) -> tuple[Value, ...]:
        self.expect("(")
        values = [self.literal()]
        while self.peek().kind == ",":
            self.advance()
            values.append(self.literal())
        self.expect(")")
        return tuple(values)
