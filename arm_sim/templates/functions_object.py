"""Object functions: createObject, items, json, null, objectKeys, shallowMerge.

(contains, empty, intersection, length and union take objects too; they live with the array functions.)
"""

from __future__ import annotations

from typing import Any

from arm_sim.core import jsonc
from arm_sim.templates.calls import Call, spec


def _sorted_keys(obj: dict[str, Any]) -> list[str]:
    """ARM hands back object keys alphabetically, ignoring case (then ordinal, so the order is stable)."""
    return sorted(obj.keys(), key=lambda k: (k.lower(), k))


def _create_object(call: Call, args: list[Any]) -> dict[str, Any]:
    if len(args) % 2:
        raise call.fail("the function requires an even number of arguments: keys and their values.")
    result: dict[str, Any] = {}
    for i in range(0, len(args), 2):
        result[call.str_arg(args, i)] = args[i + 1]
    return result


def _items(call: Call, args: list[Any]) -> list[dict[str, Any]]:
    obj = call.object_arg(args, 0)
    return [{"key": key, "value": obj[key]} for key in _sorted_keys(obj)]


def _object_keys(call: Call, args: list[Any]) -> list[str]:
    return _sorted_keys(call.object_arg(args, 0))


def _json(call: Call, args: list[Any]) -> Any:
    text = call.str_arg(args, 0)
    try:  # Newtonsoft's reader, as ARM's: comments, single quotes, trailing commas, `.25` (core/jsonc.py)
        return jsonc.loads(text)
    except jsonc.JsoncError as exc:
        raise call.fail(f"the parameter is not valid JSON: {exc}") from exc


def _shallow_merge(call: Call, args: list[Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for item in call.array_arg(args, 0):
        if item is None:
            continue
        if not isinstance(item, dict):
            raise call.fail("every element of the array must be an object.")
        result.update(item)  # top level only: nested objects are replaced, not merged
    return result


FUNCTIONS = (
    spec("createObject", _create_object, 0, None),
    spec("items", _items, 1),
    spec("objectKeys", _object_keys, 1),
    spec("json", _json, 1),
    spec("null", lambda call, args: None, 0),
    spec("shallowMerge", _shallow_merge, 1),
)
