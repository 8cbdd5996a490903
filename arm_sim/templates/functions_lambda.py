"""Lambda functions: map, filter, reduce, sort, toObject, groupBy, mapValues, and the plumbing Bicep compiles
`x => body` to: `lambda('x', body)` and `lambdaVariables('x')`.
"""

from __future__ import annotations

from functools import cmp_to_key
from typing import Any

from arm_sim.templates.calls import Call, spec
from arm_sim.templates.errors import InvalidTemplateError
from arm_sim.templates.nodes import Node
from arm_sim.templates.values import LambdaValue, type_name


def _lambda(call: Call, nodes: tuple[Node, ...]) -> LambdaValue:
    names = []
    for i, node in enumerate(nodes[:-1]):
        name = call.ev.evaluate(node)
        if not isinstance(name, str) or not name:
            raise call.type_error(i, "String", name)
        names.append(name)
    # Capture the variables visible here so a nested lambda can read its outer lambda's variables.
    return LambdaValue(tuple(names), nodes[-1], dict(call.ev.lambda_vars))


def _lambda_variables(call: Call, args: list[Any]) -> Any:
    name = call.str_arg(args, 0)
    key = name.lower()
    if key not in call.ev.lambda_vars:
        raise InvalidTemplateError(f"The lambda variable '{name}' is not defined at this location.")
    return call.ev.lambda_vars[key]


def _fn(call: Call, args: list[Any], index: int, max_params: int, min_params: int = 1) -> LambdaValue:
    fn = args[index]
    if not isinstance(fn, LambdaValue):
        raise call.type_error(index, "Lambda", fn)
    if not min_params <= len(fn.params) <= max_params:
        wanted = str(max_params) if min_params == max_params else f"{min_params} to {max_params}"
        raise call.fail(f"the lambda must take {wanted} parameter(s); it takes {len(fn.params)}.")
    return fn


def _map(call: Call, args: list[Any]) -> list[Any]:
    items, fn = call.array_arg(args, 0), _fn(call, args, 1, 2)
    return [call.ev.apply_lambda(fn, [item, i]) for i, item in enumerate(items)]


def _filter(call: Call, args: list[Any]) -> list[Any]:
    items, fn = call.array_arg(args, 0), _fn(call, args, 1, 2)
    result = []
    for i, item in enumerate(items):
        keep = call.ev.apply_lambda(fn, [item, i])
        if not isinstance(keep, bool):
            raise call.fail(f"the lambda must return a boolean, not a value of type '{type_name(keep)}'.")
        if keep:
            result.append(item)
    return result


def _reduce(call: Call, args: list[Any]) -> Any:
    items, accumulator, fn = call.array_arg(args, 0), args[1], _fn(call, args, 2, 3, min_params=2)
    for i, item in enumerate(items):
        accumulator = call.ev.apply_lambda(fn, [accumulator, item, i])
    return accumulator


def _sort(call: Call, args: list[Any]) -> list[Any]:
    items, fn = call.array_arg(args, 0), _fn(call, args, 1, 2, min_params=2)

    def before(a: Any, b: Any) -> bool:
        result = call.ev.apply_lambda(fn, [a, b])
        if not isinstance(result, bool):
            raise call.fail(f"the lambda must return a boolean, not a value of type '{type_name(result)}'.")
        return result

    # The lambda answers "does a come before b?"; a stable sort keeps equal items in their order.
    return sorted(items, key=cmp_to_key(lambda a, b: -1 if before(a, b) else 1 if before(b, a) else 0))


def _key(call: Call, fn: LambdaValue, item: Any) -> str:
    key = call.ev.apply_lambda(fn, [item])
    if not isinstance(key, str):
        raise call.fail(f"the key lambda must return a string, not a value of type '{type_name(key)}'.")
    return key


def _to_object(call: Call, args: list[Any]) -> dict[str, Any]:
    items, key_fn = call.array_arg(args, 0), _fn(call, args, 1, 1)
    value_fn = _fn(call, args, 2, 1) if len(args) == 3 else None
    result: dict[str, Any] = {}
    for item in items:
        result[_key(call, key_fn, item)] = call.ev.apply_lambda(value_fn, [item]) if value_fn else item
    return result


def _group_by(call: Call, args: list[Any]) -> dict[str, list[Any]]:
    items, key_fn = call.array_arg(args, 0), _fn(call, args, 1, 1)
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(_key(call, key_fn, item), []).append(item)
    return groups


def _map_values(call: Call, args: list[Any]) -> dict[str, Any]:
    obj, fn = call.object_arg(args, 0), _fn(call, args, 1, 1)
    return {key: call.ev.apply_lambda(fn, [value]) for key, value in obj.items()}


FUNCTIONS = (
    spec("lambda", _lambda, 2, None, lazy=True),
    spec("lambdaVariables", _lambda_variables, 1),
    spec("map", _map, 2),
    spec("filter", _filter, 2),
    spec("reduce", _reduce, 3),
    spec("sort", _sort, 2),
    spec("toObject", _to_object, 2, 3),
    spec("groupBy", _group_by, 2),
    spec("mapValues", _map_values, 2),
)
