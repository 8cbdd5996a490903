"""Static questions about expressions, answered without evaluating them.

The deployment engine needs them before anything runs: which template values call `reference()`/`list*()`
(implicit dependencies; placement rules such as "not in a resource name or copy count"), and the argument
nodes of those calls (to resolve `reference('name')` to a resource declared in the template).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from arm_sim.templates.nodes import FunctionCall, IndexAccess, MemberAccess, Node
from arm_sim.templates.parser import expression_text, is_expression, parse

RUNTIME_FUNCTIONS = frozenset({"reference", "references"})


def is_runtime_function(name: str) -> bool:
    """reference(), references() and every list*() read deployed state, so they run only at deployment time."""
    folded = name.lower()
    return folded in RUNTIME_FUNCTIONS or folded.startswith("list")


def iter_nodes_calls(node: Node) -> Iterator[FunctionCall]:
    """Every function call in an expression tree, outer calls before the calls in their arguments."""
    if isinstance(node, FunctionCall):
        yield node
        for arg in node.args:
            yield from iter_nodes_calls(arg)
    elif isinstance(node, MemberAccess):
        yield from iter_nodes_calls(node.target)
    elif isinstance(node, IndexAccess):
        yield from iter_nodes_calls(node.target)
        yield from iter_nodes_calls(node.index)


def iter_expressions(value: Any) -> Iterator[str]:
    """The text of every expression in a JSON value: string values and object keys, at any depth."""
    if isinstance(value, str):
        if is_expression(value):
            yield expression_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from iter_expressions(key)
            yield from iter_expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from iter_expressions(item)


def iter_calls(value: Any) -> Iterator[FunctionCall]:
    """Every function call of every expression in a JSON value (parse errors propagate as InvalidTemplate)."""
    for text in iter_expressions(value):
        yield from iter_nodes_calls(parse(text))


def calls_any(value: Any, names: Iterable[str]) -> bool:
    """Whether any expression in the value calls one of the named built-in functions (case-insensitive)."""
    wanted = {name.lower() for name in names}
    return any(call.namespace is None and call.name.lower() in wanted for call in iter_calls(value))


def runtime_calls(value: Any) -> list[FunctionCall]:
    """The reference()/references()/list*() calls in a value, for dependencies and placement checks."""
    return [call for call in iter_calls(value) if call.namespace is None and is_runtime_function(call.name)]
