"""The expression AST: small frozen dataclasses, each with the offset (in the expression text) it starts at.

Frozen so parsed expressions can be cached and shared between evaluations (copy loops evaluate the same
text hundreds of times).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StringLiteral:
    value: str
    offset: int


@dataclass(frozen=True)
class IntLiteral:
    value: int
    offset: int


@dataclass(frozen=True)
class FunctionCall:
    """`name(args…)`; `namespace` is set for user-defined functions called as `ns.name(…)`."""

    name: str
    args: tuple[Node, ...]
    offset: int
    namespace: str | None = None

    @property
    def display_name(self) -> str:
        return f"{self.namespace}.{self.name}" if self.namespace else self.name


@dataclass(frozen=True)
class MemberAccess:
    """`target.name` — looked up case-insensitively on objects."""

    target: Node
    name: str
    offset: int


@dataclass(frozen=True)
class IndexAccess:
    """`target[index]` — an integer on arrays, a string on objects."""

    target: Node
    index: Node
    offset: int


Node = StringLiteral | IntLiteral | FunctionCall | MemberAccess | IndexAccess
