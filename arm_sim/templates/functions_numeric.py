"""Numeric functions: add, sub, mul, div, mod, int, float, min, max, copyIndex.

Integers are .NET `long`: arithmetic wraps at 64 bits (C# unchecked), `div` truncates toward zero, `mod`
takes the sign of the dividend, division by zero and `long.MinValue / -1` fail as they do in .NET.
"""

from __future__ import annotations

import re
from typing import Any

from arm_sim.templates.calls import Call, spec
from arm_sim.templates.values import is_int, is_number, type_name

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_LONG_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")
_FLOAT_TEXT = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")


def wrap64(value: int) -> int:
    """Two's-complement wrap to a signed 64-bit integer, as unchecked .NET arithmetic does."""
    return ((value - _INT64_MIN) % 2**64) + _INT64_MIN


def _operands(call: Call, args: list[Any]) -> tuple[int, int]:
    return call.int_arg(args, 0), call.int_arg(args, 1)


def _add(call: Call, args: list[Any]) -> int:
    a, b = _operands(call, args)
    return wrap64(a + b)


def _sub(call: Call, args: list[Any]) -> int:
    a, b = _operands(call, args)
    return wrap64(a - b)


def _mul(call: Call, args: list[Any]) -> int:
    a, b = _operands(call, args)
    return wrap64(a * b)


def _checked_divisor(call: Call, a: int, b: int) -> None:
    if b == 0:
        raise call.fail("Attempted to divide by zero.")
    if a == _INT64_MIN and b == -1:
        raise call.fail("Arithmetic operation resulted in an overflow.")


def _div(call: Call, args: list[Any]) -> int:
    a, b = _operands(call, args)
    _checked_divisor(call, a, b)
    quotient = abs(a) // abs(b)  # truncate toward zero, not Python's floor
    return quotient if (a < 0) == (b < 0) else -quotient


def _mod(call: Call, args: list[Any]) -> int:
    a, b = _operands(call, args)
    _checked_divisor(call, a, b)
    remainder = abs(a) % abs(b)  # the sign follows the dividend, as in C#
    return -remainder if a < 0 else remainder


def _int(call: Call, args: list[Any]) -> int:
    value = args[0]
    if is_int(value):
        return value
    if isinstance(value, float):
        # Convert.ToInt64(double) rounds half to even; Python's round() does the same.
        result = round(value)
    elif isinstance(value, str) and _LONG_TEXT.match(value):
        result = int(value.strip())
    else:
        raise call.fail(f"the value '{value}' of type '{type_name(value)}' can't be converted to an integer.")
    if not _INT64_MIN <= result <= _INT64_MAX:
        raise call.fail("Value was either too large or too small for an Int64.")
    return result


def _float(call: Call, args: list[Any]) -> float:
    value = args[0]
    if is_number(value):
        return float(value)
    if isinstance(value, str) and _FLOAT_TEXT.match(value):
        return float(value.strip())
    raise call.fail(f"the value '{value}' of type '{type_name(value)}' can't be converted to a float.")


def _numbers(call: Call, args: list[Any]) -> list[int | float]:
    """min/max take integers, or arrays of integers, or a mix."""
    values: list[int | float] = []
    for i, arg in enumerate(args):
        items = arg if isinstance(arg, list) else [arg]
        for item in items:
            if not is_number(item):
                raise call.type_error(i, "Integer", item)
            values.append(item)
    if not values:
        raise call.fail("the array must contain at least one integer.")
    return values


def _min(call: Call, args: list[Any]) -> int | float:
    return min(_numbers(call, args))


def _max(call: Call, args: list[Any]) -> int | float:
    return max(_numbers(call, args))


def _copy_index(call: Call, args: list[Any]) -> int:
    """copyIndex(), copyIndex(offset), copyIndex('loop'), copyIndex('loop', offset)."""
    loop: str | None = None
    offset = 0
    if args and isinstance(args[0], str):
        loop = args[0]
        if len(args) == 2:
            offset = call.int_arg(args, 1)
    elif args:
        if len(args) == 2:
            raise call.type_error(0, "String", args[0])
        offset = call.int_arg(args, 0)
    return wrap64(call.ctx.copy_index(loop) + offset)


FUNCTIONS = (
    spec("add", _add, 2),
    spec("sub", _sub, 2),
    spec("mul", _mul, 2),
    spec("div", _div, 2),
    spec("mod", _mod, 2),
    spec("int", _int, 1),
    spec("float", _float, 1),
    spec("min", _min, 1, None),
    spec("max", _max, 1, None),
    spec("copyIndex", _copy_index, 0, 2),
)
