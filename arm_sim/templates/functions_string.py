"""String functions: endsWith, startsWith, format, guid, uniqueString, newGuid, indexOf, lastIndexOf, join,
padLeft, replace, split, string, substring, toLower, toUpper, trim.

Case rules are ARM's: indexOf/lastIndexOf/startsWith/endsWith on strings ignore case; contains, replace, split
and equals do not; indexOf/lastIndexOf on arrays compare items exactly.
"""

from __future__ import annotations

from typing import Any

from arm_sim.core.hashing import guid, unique_string
from arm_sim.templates.calls import Call, spec
from arm_sim.templates.dotnet_format import CompositeFormatError, format_composite
from arm_sim.templates.values import deep_equals, is_int, to_dotnet_string

# Char.IsWhiteSpace: what String.Trim() removes (Python's str.strip() also strips \x1c-\x1f).
_DOTNET_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def _starts_with(call: Call, args: list[Any]) -> bool:
    return call.str_arg(args, 0).lower().startswith(call.str_arg(args, 1).lower())


def _ends_with(call: Call, args: list[Any]) -> bool:
    return call.str_arg(args, 0).lower().endswith(call.str_arg(args, 1).lower())


def _index_of(call: Call, args: list[Any], last: bool) -> int:
    container, item = args
    if isinstance(container, list):
        indexes = [i for i, element in enumerate(container) if deep_equals(element, item)]
        if not indexes:
            return -1
        return indexes[-1] if last else indexes[0]
    text, find = call.str_arg(args, 0).lower(), call.str_arg(args, 1).lower()
    return text.rfind(find) if last else text.find(find)


def _format(call: Call, args: list[Any]) -> str:
    try:
        return format_composite(call.str_arg(args, 0), args[1:])
    except CompositeFormatError as exc:
        raise call.fail(str(exc)) from exc


def _string_args(call: Call, args: list[Any]) -> list[str]:
    return [call.str_arg(args, i) for i in range(len(args))]


def _join(call: Call, args: list[Any]) -> str:
    items = call.array_arg(args, 0)
    delimiter = call.str_arg(args, 1)
    for item in items:
        if isinstance(item, list | dict):
            raise call.fail("the array to join must contain only strings, integers or booleans.")
    return delimiter.join(to_dotnet_string(item) for item in items)


def _pad_left(call: Call, args: list[Any]) -> str:
    value = args[0]
    if not isinstance(value, str) and not is_int(value):
        raise call.type_error(0, "String", value)
    width = call.int_arg(args, 1)
    pad = call.str_arg(args, 2) if len(args) == 3 else " "
    if len(pad) != 1:
        raise call.fail("the padding character must be a single character.")
    if width < 0:
        raise call.fail("the total length must not be negative.")
    return to_dotnet_string(value).rjust(width, pad)


def _replace(call: Call, args: list[Any]) -> str:
    text, old, new = _string_args(call, args)
    if not old:
        raise call.fail("the string to replace must not be empty.")
    return text.replace(old, new)


def split_text(text: str, separators: list[str]) -> list[str]:
    """String.Split(string[], None): at each position the first listed separator that matches wins."""
    separators = [s for s in separators if s]
    if not separators:
        separators = list(_DOTNET_WHITESPACE)  # .NET splits on white space when no separator is usable
    parts: list[str] = []
    start = i = 0
    while i < len(text):
        for sep in separators:
            if text.startswith(sep, i):
                parts.append(text[start:i])
                i = start = i + len(sep)
                break
        else:
            i += 1
    parts.append(text[start:])
    return parts


def _split(call: Call, args: list[Any]) -> list[str]:
    text = call.str_arg(args, 0)
    delimiter = args[1]
    if isinstance(delimiter, list):
        if not all(isinstance(d, str) for d in delimiter):
            raise call.fail("the delimiters must be strings.")
        return split_text(text, delimiter)
    return split_text(text, [call.str_arg(args, 1)])


def _substring(call: Call, args: list[Any]) -> str:
    text = call.str_arg(args, 0)
    start = call.int_arg(args, 1) if len(args) > 1 else 0
    if len(args) == 3:
        length = call.int_arg(args, 2)
        if start < 0 or length < 0 or start + length > len(text):
            raise call.fail(
                "The index and length parameters must refer to a location within the string. The index parameter: "
                f"'{start}', the length parameter: '{length}', the length of the string parameter: '{len(text)}'."
            )
        return text[start : start + length]
    if start < 0 or start > len(text):
        raise call.fail(
            "The index parameter must refer to a location within the string. The index parameter: "
            f"'{start}', the length of the string parameter: '{len(text)}'."
        )
    return text[start:]


def _case(text: str, upper: bool) -> str:
    """Invariant-culture casing maps one character to one character ('ß' stays 'ß', unlike Python's 'SS')."""
    out = []
    for ch in text:
        mapped = ch.upper() if upper else ch.lower()
        out.append(mapped if len(mapped) == 1 else ch)
    return "".join(out)


FUNCTIONS = (
    spec("startsWith", _starts_with, 2),
    spec("endsWith", _ends_with, 2),
    spec("indexOf", lambda call, args: _index_of(call, args, last=False), 2),
    spec("lastIndexOf", lambda call, args: _index_of(call, args, last=True), 2),
    spec("format", _format, 1, None),
    spec("guid", lambda call, args: guid(*_string_args(call, args)), 1, None),
    spec("uniqueString", lambda call, args: unique_string(*_string_args(call, args)), 1, None),
    spec("newGuid", lambda call, args: call.ctx.new_guid(), 0),
    spec("join", _join, 2),
    spec("padLeft", _pad_left, 2, 3),
    spec("replace", _replace, 3),
    spec("split", _split, 2),
    spec("string", lambda call, args: to_dotnet_string(args[0]), 1),
    spec("substring", _substring, 1, 3),
    spec("toLower", lambda call, args: _case(call.str_arg(args, 0), upper=False), 1),
    spec("toUpper", lambda call, args: _case(call.str_arg(args, 0), upper=True), 1),
    spec("trim", lambda call, args: call.str_arg(args, 0).strip(_DOTNET_WHITESPACE), 1),
)
