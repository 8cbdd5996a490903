"""Array (and shared array/object/string) functions: array, concat, contains, createArray, empty, first, last,
flatten, intersection, length, range, skip, take, union, tryGet, indexFromEnd, tryIndexFromEnd.
"""

from __future__ import annotations

from typing import Any

from arm_sim.templates.calls import Call, spec
from arm_sim.templates.errors import InvalidTemplateError
from arm_sim.templates.values import deep_equals, get_member, has_member, is_int, to_dotnet_string, type_name

_RANGE_MAX_COUNT = 10000
_INT32_MAX = 2**31 - 1


def _array(call: Call, args: list[Any]) -> list[Any]:
    value = args[0]
    return list(value) if isinstance(value, list) else [value]


def _create_array(call: Call, args: list[Any]) -> list[Any]:
    return list(args)


def _concat(call: Call, args: list[Any]) -> Any:
    """All arrays, or all scalars joined as text (`concat('vm', copyIndex())` is everywhere)."""
    first = next((a for a in args if a is not None), None)
    if isinstance(first, list):
        result: list[Any] = []
        for i, arg in enumerate(args):
            if arg is None:
                continue
            if not isinstance(arg, list):
                raise call.type_error(i, "Array", arg)
            result.extend(arg)
        return result
    parts = []
    for i, arg in enumerate(args):
        if isinstance(arg, list | dict):
            raise call.type_error(i, "String", arg)
        parts.append(to_dotnet_string(arg))
    return "".join(parts)


def _contains(call: Call, args: list[Any]) -> bool:
    container, item = args
    if isinstance(container, str):
        if isinstance(item, list | dict) or item is None:
            raise call.type_error(1, "String", item)
        return to_dotnet_string(item) in container  # ordinal, case-sensitive
    if isinstance(container, list):
        return any(deep_equals(element, item) for element in container)
    if isinstance(container, dict):
        if not isinstance(item, str):
            raise call.type_error(1, "String", item)
        return has_member(container, item)  # object keys compare case-insensitively
    raise call.type_error(0, "Array, Object or String", container)


def _empty(call: Call, args: list[Any]) -> bool:
    value = args[0]
    if value is None:
        return True
    if isinstance(value, str | list | dict):
        return len(value) == 0
    raise call.type_error(0, "Array, Object or String", value)


def _first(call: Call, args: list[Any]) -> Any:
    value = args[0]
    if isinstance(value, list):
        return value[0] if value else None
    if isinstance(value, str):
        return value[:1]
    raise call.type_error(0, "Array or String", value)


def _last(call: Call, args: list[Any]) -> Any:
    value = args[0]
    if isinstance(value, list):
        return value[-1] if value else None
    if isinstance(value, str):
        return value[-1:]
    raise call.type_error(0, "Array or String", value)


def _length(call: Call, args: list[Any]) -> int:
    value = args[0]
    if isinstance(value, str | list | dict):
        return len(value)
    raise call.type_error(0, "Array, Object or String", value)


def _flatten(call: Call, args: list[Any]) -> list[Any]:
    result: list[Any] = []
    for item in call.array_arg(args, 0):
        if not isinstance(item, list):
            raise call.fail(f"every element must be an array; found an element of type '{type_name(item)}'.")
        result.extend(item)
    return result


def _range(call: Call, args: list[Any]) -> list[int]:
    start, count = call.int_arg(args, 0), call.int_arg(args, 1)
    if count < 0 or count > _RANGE_MAX_COUNT:
        raise call.fail(f"the count '{count}' must be between 0 and {_RANGE_MAX_COUNT}.")
    if start + count > _INT32_MAX or start < -_INT32_MAX - 1:
        raise call.fail(f"the sum of the start index and the count must not exceed {_INT32_MAX}.")
    return list(range(start, start + count))


def _skip(call: Call, args: list[Any]) -> Any:
    count = max(call.int_arg(args, 1), 0)
    value = args[0]
    if isinstance(value, list | str):
        return value[count:]
    raise call.type_error(0, "Array or String", value)


def _take(call: Call, args: list[Any]) -> Any:
    count = max(call.int_arg(args, 1), 0)
    value = args[0]
    if isinstance(value, list | str):
        return value[:count]
    raise call.type_error(0, "Array or String", value)


def _distinct(items: list[Any]) -> list[Any]:
    result: list[Any] = []
    for item in items:
        if not any(deep_equals(item, seen) for seen in result):
            result.append(item)
    return result


def deep_merge(base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """union() of objects: the last value wins, nested objects merge recursively."""
    result = dict(base)
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = value
    return result


def _collection_kind(call: Call, args: list[Any]) -> type:
    present = [a for a in args if a is not None]
    kind = list if present and isinstance(present[0], list) else dict
    for i, arg in enumerate(args):
        if arg is not None and not isinstance(arg, kind):
            raise call.type_error(i, "Array" if kind is list else "Object", arg)
    return kind


def _union(call: Call, args: list[Any]) -> Any:
    if _collection_kind(call, args) is list:
        return _distinct([item for arg in args if arg is not None for item in arg])
    result: dict[str, Any] = {}
    for arg in args:
        if arg is not None:
            result = deep_merge(result, arg)
    return result


def _intersection(call: Call, args: list[Any]) -> Any:
    if _collection_kind(call, args) is list:
        rest = [a or [] for a in args[1:]]
        common = [x for x in (args[0] or []) if all(any(deep_equals(x, y) for y in other) for other in rest)]
        return _distinct(common)  # ordered as in the first array
    first = args[0] or {}
    return {
        key: value
        for key, value in first.items()
        if all(other is not None and key in other and deep_equals(other[key], value) for other in args[1:])
    }


def _step(value: Any, segment: Any) -> tuple[bool, Any]:
    """One tryGet path step: an object key, an array index, or Bicep's {value: n, fromEnd: bool} index."""
    if isinstance(value, dict) and isinstance(segment, str):
        return get_member(value, segment)
    if isinstance(segment, dict) and is_int(segment.get("value")):
        from_end = segment.get("fromEnd") is True
        segment = len(value) - segment["value"] if from_end and isinstance(value, list) else segment["value"]
    if isinstance(value, list) and is_int(segment) and 0 <= segment < len(value):
        return True, value[segment]
    return False, None


def try_path(value: Any, path: list[Any]) -> Any:
    for segment in path:
        if value is None:
            return None
        found, value = _step(value, segment)
        if not found:
            return None
    return value


def _try_get(call: Call, args: list[Any]) -> Any:
    return try_path(args[0], args[1:])


def _index_from_end(call: Call, args: list[Any]) -> Any:
    array, position = call.array_arg(args, 0), call.int_arg(args, 1)
    if not 1 <= position <= len(array):
        raise InvalidTemplateError(f"The language expression property array index '^{position}' is out of bounds.")
    return array[len(array) - position]


def _try_index_from_end(call: Call, args: list[Any]) -> Any:
    array, position = args[0], call.int_arg(args, 1)
    if not isinstance(array, list) or not 1 <= position <= len(array):
        return None
    return try_path(array[len(array) - position], args[2:])


FUNCTIONS = (
    spec("array", _array, 1),
    spec("createArray", _create_array, 0, None),
    spec("concat", _concat, 1, None),
    spec("contains", _contains, 2),
    spec("empty", _empty, 1),
    spec("first", _first, 1),
    spec("last", _last, 1),
    spec("length", _length, 1),
    spec("flatten", _flatten, 1),
    spec("range", _range, 2),
    spec("skip", _skip, 2),
    spec("take", _take, 2),
    spec("union", _union, 2, None),
    spec("intersection", _intersection, 2, None),
    spec("tryGet", _try_get, 2, None),
    spec("indexFromEnd", _index_from_end, 2),
    spec("tryIndexFromEnd", _try_index_from_end, 2, None),
)
