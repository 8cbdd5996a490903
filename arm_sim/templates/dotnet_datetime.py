""".NET date/time formatting and parsing as ARM's date functions use them (invariant culture).

`utcNow('u')`, `utcNow('yyyyMMdd')`, `dateTimeAdd(base, 'P1D', 'o')` take .NET standard or custom format
strings; durations are ISO 8601 (`P1Y2M3DT4H5M6.5S`, `-P9D`).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")  # fmt: skip

# Standard format strings of the invariant culture, as custom patterns. (u, r and U first convert to UTC.)
_STANDARD = {
    "d": "MM/dd/yyyy",
    "D": "dddd, dd MMMM yyyy",
    "f": "dddd, dd MMMM yyyy HH:mm",
    "F": "dddd, dd MMMM yyyy HH:mm:ss",
    "g": "MM/dd/yyyy HH:mm",
    "G": "MM/dd/yyyy HH:mm:ss",
    "m": "MMMM dd",
    "M": "MMMM dd",
    "o": "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
    "O": "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
    "r": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
    "R": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
    "s": "yyyy'-'MM'-'dd'T'HH':'mm':'ss",
    "t": "HH:mm",
    "T": "HH:mm:ss",
    "u": "yyyy'-'MM'-'dd HH':'mm':'ss'Z'",
    "U": "dddd, dd MMMM yyyy HH:mm:ss",
    "y": "yyyy MMMM",
    "Y": "yyyy MMMM",
}
_TO_UTC = frozenset("rRuU")
_RUN_CHARS = frozenset("dfFghHKmMstyz")


class DateFormatError(ValueError):
    """The format string is not a valid .NET date/time format (FormatException in .NET)."""


def _offset_text(dt: datetime, width: int) -> str:
    offset = dt.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    hours, mins = divmod(minutes, 60)
    if width == 1:
        return f"{sign}{hours}"
    if width == 2:
        return f"{sign}{hours:02d}"
    return f"{sign}{hours:02d}:{mins:02d}"


def _token(dt: datetime, ch: str, n: int, out: list[str]) -> None:
    if ch == "d":
        out.append(str(dt.day) if n == 1 else f"{dt.day:02d}" if n == 2 else
                   _DAYS[dt.weekday()][:3] if n == 3 else _DAYS[dt.weekday()])  # fmt: skip
    elif ch in "fF":
        if n > 7:
            raise DateFormatError("Input string was not in a correct format.")
        digits = f"{dt.microsecond:06d}0"[:n]
        if ch == "F":
            digits = digits.rstrip("0")
            if not digits and out and out[-1].endswith("."):
                out[-1] = out[-1][:-1]  # .NET drops the decimal point before an empty 'F' fraction
        out.append(digits)
    elif ch == "g":
        out.append("A.D.")
    elif ch == "h":
        hour = dt.hour % 12 or 12
        out.append(str(hour) if n == 1 else f"{hour:02d}")
    elif ch == "H":
        out.append(str(dt.hour) if n == 1 else f"{dt.hour:02d}")
    elif ch == "K":
        out.append("" if dt.tzinfo is None else "Z" if dt.utcoffset() == timedelta(0) else _offset_text(dt, 3))
    elif ch == "m":
        out.append(str(dt.minute) if n == 1 else f"{dt.minute:02d}")
    elif ch == "M":
        out.append(str(dt.month) if n == 1 else f"{dt.month:02d}" if n == 2 else
                   _MONTHS[dt.month - 1][:3] if n == 3 else _MONTHS[dt.month - 1])  # fmt: skip
    elif ch == "s":
        out.append(str(dt.second) if n == 1 else f"{dt.second:02d}")
    elif ch == "t":
        designator = "AM" if dt.hour < 12 else "PM"
        out.append(designator[:1] if n == 1 else designator)
    elif ch == "y":
        out.append(str(dt.year % 100) if n == 1 else f"{dt.year % 100:02d}" if n == 2 else str(dt.year).zfill(n))
    elif ch == "z":
        out.append(_offset_text(dt, min(n, 3)))


def format_datetime(dt: datetime, fmt: str) -> str:
    """DateTime.ToString(fmt, CultureInfo.InvariantCulture)."""
    if not fmt:
        fmt = "G"
    if len(fmt) == 1:
        if fmt not in _STANDARD:
            raise DateFormatError(f"The format string '{fmt}' is not a valid standard date and time format.")
        if fmt in _TO_UTC and dt.tzinfo is not None:
            dt = dt.astimezone(UTC)
        fmt = _STANDARD[fmt]
    out: list[str] = []
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch in "'\"":
            end = fmt.find(ch, i + 1)
            if end < 0:
                raise DateFormatError(f"Cannot find a matching quote character for the character '{ch}'.")
            out.append(fmt[i + 1 : end])
            i = end + 1
        elif ch == "\\":
            if i + 1 >= len(fmt):
                raise DateFormatError("Invalid escape at the end of the format string.")
            out.append(fmt[i + 1])
            i += 2
        elif ch == "%" and i + 1 < len(fmt):
            _token(dt, fmt[i + 1], 1, out) if fmt[i + 1] in _RUN_CHARS else out.append(fmt[i + 1])
            i += 2
        elif ch in _RUN_CHARS:
            n = 1
            while i + n < len(fmt) and fmt[i + n] == ch:
                n += 1
            _token(dt, ch, n, out)
            i += n
        else:
            out.append(ch)  # ':' and '/' are the invariant separators themselves; the rest is literal
            i += 1
    return "".join(out)


# -- parsing ---------------------------------------------------------------------------------------------------
_ISO = re.compile(
    r"^\s*(\d{4})-?(\d{2})-?(\d{2})"  # date, with or without dashes
    r"(?:[T ](\d{2}):?(\d{2})(?::?(\d{2})(?:[.,](\d{1,7}))?)?)?"  # optional time and fraction
    r"\s*(Z|[+-]\d{2}:?\d{2})?\s*$",  # optional zone
    re.IGNORECASE,
)
_US = re.compile(
    r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AP]M)?)?\s*(Z)?\s*$", re.IGNORECASE
)


def parse_datetime(text: str) -> datetime:
    """Parse the ISO 8601 (and invariant M/d/yyyy) forms DateTime.Parse accepts. Naive when no zone is given."""
    m = _ISO.match(text)
    if m:
        year, month, day, hour, minute, second, fraction, zone = m.groups()
        micro = int((fraction or "0").ljust(7, "0")[:6])
    else:
        m = _US.match(text)
        if not m:
            raise ValueError(f"The string '{text}' was not recognized as a valid DateTime.")
        month, day, year, hour, minute, second, ampm, zone = m.groups()
        micro = 0
        if ampm and hour:
            hour = str(int(hour) % 12 + (12 if ampm.upper() == "PM" else 0))
    tz = None
    if zone:
        if zone.upper() == "Z":
            tz = UTC
        else:
            digits = zone.replace(":", "")
            delta = timedelta(hours=int(digits[1:3]), minutes=int(digits[3:5]))
            tz = timezone(-delta if digits[0] == "-" else delta)
    try:
        return datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                        micro, tzinfo=tz)  # fmt: skip
    except ValueError as exc:
        raise ValueError(f"The string '{text}' was not recognized as a valid DateTime.") from exc


@dataclass(frozen=True)
class Duration:
    """An ISO 8601 duration; years and months are calendar units, the rest an exact time span."""

    negative: bool
    years: int
    months: int
    span: timedelta


_DURATION = re.compile(
    r"^(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$"
)


def parse_duration(text: str) -> Duration:
    m = _DURATION.match(text.strip())
    if not m or not any(m.groups()[1:]) or text.strip().endswith("T"):
        raise ValueError(f"The string '{text}' is not a valid ISO 8601 duration.")
    sign, years, months, weeks, days, hours, minutes, seconds = m.groups()
    span = timedelta(
        weeks=int(weeks or 0),
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=float((seconds or "0").replace(",", ".")),
    )
    return Duration(bool(sign), int(years or 0), int(months or 0), span)


def _add_months(dt: datetime, months: int) -> datetime:
    """DateTime.AddMonths: the day is clamped to the target month's length."""
    total = dt.year * 12 + (dt.month - 1) + months
    year, month = divmod(total, 12)
    if not 1 <= year <= 9999:
        raise ValueError("The added or subtracted value results in an un-representable DateTime.")
    day = min(dt.day, calendar.monthrange(year, month + 1)[1])
    return dt.replace(year=year, month=month + 1, day=day)


def add_duration(dt: datetime, duration: Duration) -> datetime:
    factor = -1 if duration.negative else 1
    result = _add_months(dt, factor * (duration.years * 12 + duration.months))
    try:
        return result + factor * duration.span
    except OverflowError as exc:
        raise ValueError("The added or subtracted value results in an un-representable DateTime.") from exc
