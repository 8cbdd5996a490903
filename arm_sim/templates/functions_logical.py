"""Logical and comparison functions: and, or, not, if, bool, true, false, coalesce, equals, greater…, fail.

`if`, `and`, `or` and `coalesce` are lazy: they evaluate their arguments only as far as needed, so a guard
such as `if(empty(x), 'none', x[0])` or `and(contains(o, 'a'), o.a)` never touches the unsafe branch.
"""

from __future__ import annotations

from typing import Any

from arm_sim.templates.calls import Call, spec
from arm_sim.templates.errors import InvalidTemplateError
from arm_sim.templates.nodes import Node
from arm_sim.templates.values import compare, deep_equals, is_int, type_name


def _bool_of(call: Call, node: Node, index: int) -> bool:
    value = call.ev.evaluate(node)
    if not isinstance(value, bool):
        raise call.type_error(index, "Boolean", value)
    return value


def _and(call: Call, nodes: tuple[Node, ...]) -> bool:
    return all(_bool_of(call, node, i) for i, node in enumerate(nodes))


def _or(call: Call, nodes: tuple[Node, ...]) -> bool:
    return any(_bool_of(call, node, i) for i, node in enumerate(nodes))


def _if(call: Call, nodes: tuple[Node, ...]) -> Any:
    condition = call.ev.evaluate(nodes[0])
    if not isinstance(condition, bool):
        raise InvalidTemplateError(
            "The template language function 'if' expects its first parameter to be of type 'Boolean'. The provided "
            f"value is of type '{type_name(condition)}'."
        )
    return call.ev.evaluate(nodes[1] if condition else nodes[2])


def _coalesce(call: Call, nodes: tuple[Node, ...]) -> Any:
    for node in nodes:
        value = call.ev.evaluate(node)
        if value is not None:
            return value
    return None


def _not(call: Call, args: list[Any]) -> bool:
    return not call.bool_arg(args, 0)


def _bool(call: Call, args: list[Any]) -> bool:
    value = args[0]
    if isinstance(value, bool):
        return value
    if is_int(value):
        return value != 0
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise call.fail(
        f"the value '{value}' of type '{type_name(value)}' can't be converted to a boolean: use 'true', 'false', "
        "0, 1 or a boolean."
    )


def _equals(call: Call, args: list[Any]) -> bool:
    return deep_equals(args[0], args[1])


def _greater(call: Call, args: list[Any]) -> bool:
    return compare(args[0], args[1], call.name) > 0


def _greater_or_equals(call: Call, args: list[Any]) -> bool:
    return compare(args[0], args[1], call.name) >= 0


def _less(call: Call, args: list[Any]) -> bool:
    return compare(args[0], args[1], call.name) < 0


def _less_or_equals(call: Call, args: list[Any]) -> bool:
    return compare(args[0], args[1], call.name) <= 0


def _fail(call: Call, args: list[Any]) -> Any:
    """Bicep's `fail()`: stop the deployment with the template author's message."""
    raise InvalidTemplateError(call.str_arg(args, 0))


FUNCTIONS = (
    spec("and", _and, 2, None, lazy=True),
    spec("or", _or, 2, None, lazy=True),
    spec("if", _if, 3, lazy=True),
    spec("coalesce", _coalesce, 1, None, lazy=True),
    spec("not", _not, 1),
    spec("bool", _bool, 1),
    spec("true", lambda call, args: True, 0),
    spec("false", lambda call, args: False, 0),
    spec("equals", _equals, 2),
    spec("greater", _greater, 2),
    spec("greaterOrEquals", _greater_or_equals, 2),
    spec("less", _less, 2),
    spec("lessOrEquals", _less_or_equals, 2),
    spec("fail", _fail, 1),
)
