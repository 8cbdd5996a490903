""".NET composite formatting (`String.Format`) as ARM's `format()` uses it, in the invariant culture.

Supports `{index[,alignment][:format]}`, `{{`/`}}` escapes, the standard numeric formats (C D E F G N P R X
with precision) and the common custom numeric patterns (`0`, `#`, `.`, `,` grouping and scaling, `%`,
quoted literals, `;` sections). Non-numeric arguments ignore the format part, as in .NET.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from arm_sim.templates.values import format_float, is_int, is_number, to_dotnet_string


class CompositeFormatError(ValueError):
    """FormatException: the composite format string or a numeric format is malformed."""


_BAD_FORMAT = "Input string was not in a correct format."
_STANDARD = re.compile(r"^([A-Za-z])(\d{0,9})$")


def format_composite(fmt: str, args: list[Any]) -> str:
    out: list[str] = []
    i, n = 0, len(fmt)
    while i < n:
        ch = fmt[i]
        if ch == "}":
            if i + 1 < n and fmt[i + 1] == "}":
                out.append("}")
                i += 2
                continue
            raise CompositeFormatError(_BAD_FORMAT)
        if ch != "{":
            out.append(ch)
            i += 1
            continue
        if i + 1 < n and fmt[i + 1] == "{":
            out.append("{")
            i += 2
            continue
        end = fmt.find("}", i)
        if end < 0:
            raise CompositeFormatError(_BAD_FORMAT)
        out.append(_format_item(fmt[i + 1 : end], args))
        i = end + 1
    return "".join(out)


def _format_item(item: str, args: list[Any]) -> str:
    spec_text, _, number_format = item.partition(":")
    index_text, _, align_text = spec_text.partition(",")
    if not index_text.strip().isdigit():
        raise CompositeFormatError(_BAD_FORMAT)
    index = int(index_text)
    if index >= len(args):
        raise CompositeFormatError(
            "Index (zero based) must be greater than or equal to zero and less than the size of the argument list."
        )
    value = args[index]
    text = format_number(value, number_format) if number_format and is_number(value) else to_dotnet_string(value)
    if align_text.strip():
        try:
            width = int(align_text.strip())
        except ValueError as exc:
            raise CompositeFormatError(_BAD_FORMAT) from exc
        text = text.rjust(width) if width > 0 else text.ljust(-width)
    return text


def _round(value: Decimal, places: int) -> Decimal:
    """Round half away from zero, like .NET's number formatting."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _grouped(digits: str) -> str:
    head = len(digits) % 3 or 3
    return ",".join([digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)])


def _fixed(value: Decimal, places: int, group: bool) -> str:
    text = f"{_round(abs(value), places):f}"
    whole, _, frac = text.partition(".")
    if group:
        whole = _grouped(whole)
    return whole + ("." + frac if places > 0 else "")


def format_number(value: int | float, fmt: str) -> str:
    """Int64/Double.ToString(fmt, CultureInfo.InvariantCulture)."""
    m = _STANDARD.match(fmt)
    if not m:
        return _format_custom(value, fmt)
    letter, precision_text = m.group(1), m.group(2)
    precision = int(precision_text) if precision_text else None
    kind = letter.upper()
    dec = Decimal(value)
    negative = dec < 0
    sign = "-" if negative else ""
    if kind in "DX":  # integers only
        if not is_int(value):
            raise CompositeFormatError("Format specifier was invalid.")
        if kind == "D":
            return sign + str(abs(value)).zfill(precision or 0)
        text = format(value & 0xFFFFFFFFFFFFFFFF if value < 0 else value, "X" if letter == "X" else "x")
        return text.zfill(precision or 0)
    if kind == "F":
        return sign + _fixed(dec, 2 if precision is None else precision, group=False)
    if kind == "N":
        return sign + _fixed(dec, 2 if precision is None else precision, group=True)
    if kind == "C":
        body = "¤" + _fixed(dec, 2 if precision is None else precision, group=True)
        return f"({body})" if negative else body
    if kind == "P":
        return sign + _fixed(dec * 100, 2 if precision is None else precision, group=True) + " %"
    if kind == "E":
        text = f"{abs(dec):.{6 if precision is None else precision}E}"
        mantissa, exponent = text.split("E")
        exp_sign = "-" if exponent.startswith("-") else "+"
        result = f"{mantissa}E{exp_sign}{exponent.lstrip('+-').zfill(3)}"
        return sign + (result if letter == "E" else result.lower())
    if kind in "GR":
        if precision is None or kind == "R":
            return str(value) if is_int(value) else format_float(value)
        text = f"{value:.{precision}{letter.lower()}}"
        if "e" in text:
            mantissa, exponent = text.split("e")
            text = f"{mantissa}{'E' if letter == 'G' else 'e'}{exponent[0]}{exponent[1:].zfill(2)}"
        return text
    raise CompositeFormatError("Format specifier was invalid.")


# -- custom numeric formats -------------------------------------------------------------------------------------
def _split_sections(fmt: str) -> list[str]:
    sections, current, quote, i = [], [], "", 0
    while i < len(fmt):
        ch = fmt[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "\\" and i + 1 < len(fmt):
            current.append(fmt[i : i + 2])
            i += 2
            continue
        elif ch == ";":
            sections.append("".join(current))
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    sections.append("".join(current))
    return sections


def _tokens(section: str) -> list[tuple[str, str]]:
    """('p', '0'|'#'), ('.', '.'), (',', ','), ('%', '%'), ('lit', text)."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(section):
        ch = section[i]
        if ch in "'\"":
            end = section.find(ch, i + 1)
            end = len(section) if end < 0 else end
            out.append(("lit", section[i + 1 : end]))
            i = end + 1
            continue
        if ch == "\\" and i + 1 < len(section):
            out.append(("lit", section[i + 1]))
            i += 2
            continue
        out.append(("p", ch) if ch in "0#" else (ch, ch) if ch in ".,%" else ("lit", ch))
        i += 1
    return out


def _format_custom(value: int | float, fmt: str) -> str:
    sections = _split_sections(fmt)
    dec = Decimal(value)
    section = sections[0]
    explicit_negative = False
    if dec < 0 and len(sections) >= 2 and sections[1]:
        section, explicit_negative = sections[1], True
    elif dec == 0 and len(sections) >= 3 and sections[2]:
        section = sections[2]
    tokens = _tokens(section)
    point = next((i for i, t in enumerate(tokens) if t[0] == "."), len(tokens))
    int_tokens, frac_tokens = tokens[:point], tokens[point + 1 :]
    # Commas right before the point (or at the end without one) scale by 1000; between digits they group.
    scale = 0
    while int_tokens and int_tokens[-1][0] == ",":
        int_tokens.pop()
        scale += 1
    group = any(t[0] == "," for t in int_tokens)
    int_tokens = [t for t in int_tokens if t[0] != ","]
    magnitude = abs(dec) / (Decimal(1000) ** scale)
    if any(t[0] == "%" for t in tokens):
        magnitude *= 100
    frac_places = [t[1] for t in frac_tokens if t[0] == "p"]
    rounded = _round(magnitude, len(frac_places))
    whole, _, frac = f"{rounded:f}".partition(".")
    # Fraction: '0' placeholders always show a digit, '#' ones only when significant.
    frac = frac.ljust(len(frac_places), "0")
    required = len(frac_places) - frac_places[::-1].index("0") if "0" in frac_places else 0
    frac = frac[:required] + frac[required:].rstrip("0")
    # Integer: the leftmost '0' placeholder fixes how many digits always show.
    placeholders = [i for i, t in enumerate(int_tokens) if t[0] == "p"]
    min_digits = len(placeholders) - next(
        (k for k, i in enumerate(placeholders) if int_tokens[i][1] == "0"), len(placeholders)
    )
    digits = ("" if whole == "0" else whole).zfill(min_digits)
    if group and digits:
        digits = _grouped(digits)
    out = _fill_integer(int_tokens, placeholders, digits, group)
    if frac:
        out += "."
    for kind, text in frac_tokens:
        if kind == "p":
            out += frac[:1]
            frac = frac[1:]
        elif kind != ",":
            out += text
    negative = dec < 0 and not explicit_negative and rounded != 0
    return ("-" if negative else "") + out


def _fill_integer(tokens: list[tuple[str, str]], placeholders: list[int], digits: str, group: bool) -> str:
    """Place digits right to left into the placeholders; the leftmost one takes any overflow.

    With grouping the digits (and their commas) stay together at the last placeholder.
    """
    if not placeholders:
        return "".join(t[1] for t in tokens)  # a pattern without digit placeholders shows no digits
    parts = [t[1] if t[0] != "p" else "" for t in tokens]
    if group:
        parts[placeholders[-1]] = digits
        return "".join(parts)
    remaining = digits
    for pos in reversed(placeholders[1:]):
        parts[pos] = remaining[-1:]
        remaining = remaining[:-1]
    parts[placeholders[0]] = remaining
    return "".join(parts)
