"""Helpers on template values (JSON: None, bool, int, float, str, list, dict) with ARM's rules.

ARM evaluates on Newtonsoft JTokens in .NET: type names in messages are JTokenType names, booleans print
as `True`/`False`, objects and arrays print as compact JSON, object member lookup is case-insensitive.
"""

from __future__ import annotations

import json
import math
from typing import Any, TypeGuard

from arm_sim.templates.errors import InvalidTemplateError


class LambdaValue:
    """The value of `lambda('x', …, body)`: only valid as an argument of map/filter/reduce/sort/…"""

    def __init__(self, params: tuple[str, ...], body: Any, captured: dict[str, Any]) -> None:
        self.params = params
        self.body = body  # a nodes.Node, evaluated each time the lambda is applied
        self.captured = captured  # lambda variables visible where the lambda was written (closures)


def type_name(value: Any) -> str:
    """The JTokenType name ARM uses in its messages."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, LambdaValue):
        return "Lambda"
    return type(value).__name__


def is_int(value: Any) -> TypeGuard[int]:
    """True for integers but not booleans (Python's bool is an int subclass; ARM's is not).

    A TypeGuard (not TypeIs): False does not mean "not an int", since booleans are ints to Python."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> TypeGuard[int | float]:
    return is_int(value) or isinstance(value, float)


def get_member(obj: dict[str, Any], name: str) -> tuple[bool, Any]:
    """Case-insensitive member lookup (exact match first): real templates write `keyVaultDns` for `keyvaultDns`."""
    if name in obj:
        return True, obj[name]
    folded = name.lower()
    for key, value in obj.items():
        if key.lower() == folded:
            return True, value
    return False, None


def has_member(obj: dict[str, Any], name: str) -> bool:
    return get_member(obj, name)[0]


def deep_equals(a: Any, b: Any) -> bool:
    """JToken.DeepEquals: strings case-sensitive, object key order irrelevant, 1 == 1.0, True != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(deep_equals(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(deep_equals(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def format_float(value: float) -> str:
    """Double.ToString() in the invariant culture: shortest round-trip, no trailing '.0', 'E' exponents."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        text = f"{mantissa}E{sign}{exponent.lstrip('+-').zfill(2)}"
    return text


def to_json(value: Any) -> str:
    """Compact JSON as Newtonsoft writes it (Formatting.None; non-ASCII characters kept)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    # Newtonsoft escapes these three even with the default escape handling; json.dumps does not.
    return text.replace("\u0085", "\\u0085").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _json_default(value: Any) -> Any:
    if isinstance(value, LambdaValue):
        raise InvalidTemplateError("A lambda expression can only be used as an argument of a lambda function.")
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def to_dotnet_string(value: Any) -> str:
    """How ARM turns a value into text (string(), format(), concat()): JValue.ToString() or compact JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return value
    if is_int(value):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    return to_json(value)


def culture_compare(a: str, b: str) -> int:
    """String comparison like .NET's invariant culture: letters alphabetically, then lower before upper.

    ARM's greater/less use it: `greater('A', 'a')` is true, `less('a', 'B')` is true.
    """
    fa, fb = a.casefold(), b.casefold()
    if fa != fb:
        return -1 if fa < fb else 1
    for ca, cb in zip(a, b, strict=False):
        if ca != cb:
            return -1 if ca.islower() else 1
    return (len(a) > len(b)) - (len(a) < len(b))


def compare(a: Any, b: Any, function: str) -> int:
    """Order two ints (or floats) or two strings for greater/less; anything else is ARM's type error."""
    if is_number(a) and is_number(b):
        return (a > b) - (a < b)
    if isinstance(a, str) and isinstance(b, str):
        return culture_compare(a, b)
    raise InvalidTemplateError(
        f"The template language function '{function}' expects two parameters of matching types 'Integer' or "
        f"'String'. The provided values are of type '{type_name(a)}' and '{type_name(b)}'."
    )
