"""Date functions: dateTimeAdd, dateTimeFromEpoch, dateTimeToEpoch, utcNow.

`utcNow` is only legal in parameter default values; the context decides (and can pin the clock).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from arm_sim.templates.calls import Call, spec
from arm_sim.templates.dotnet_datetime import DateFormatError, add_duration, format_datetime, parse_datetime
from arm_sim.templates.dotnet_datetime import parse_duration as _parse_duration

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
UTC_NOW_DEFAULT_FORMAT = "yyyyMMddTHHmmssZ"


def _parse(call: Call, text: str) -> datetime:
    try:
        return parse_datetime(text)
    except ValueError as exc:
        raise call.fail(str(exc)) from exc


def _format(call: Call, value: datetime, fmt: str) -> str:
    try:
        return format_datetime(value, fmt)
    except DateFormatError as exc:
        raise call.fail(str(exc)) from exc


def _iso_format(value: datetime) -> str:
    """The ISO 8601 text dateTimeAdd answers when no format is given: seconds, fraction if any, zone if any."""
    fmt = "yyyy-MM-ddTHH:mm:ss" + (".FFFFFFF" if value.microsecond else "")
    if value.tzinfo is not None:
        fmt += "Z" if value.utcoffset() == timedelta(0) else "zzz"
    return format_datetime(value, fmt)


def _date_time_add(call: Call, args: list[Any]) -> str:
    base = _parse(call, call.str_arg(args, 0))
    try:
        duration = _parse_duration(call.str_arg(args, 1))
        result = add_duration(base, duration)
    except ValueError as exc:
        raise call.fail(str(exc)) from exc
    if len(args) == 3:
        return _format(call, result, call.str_arg(args, 2))
    return _iso_format(result)


def _date_time_from_epoch(call: Call, args: list[Any]) -> str:
    seconds = call.int_arg(args, 0)
    try:
        value = _EPOCH + timedelta(seconds=seconds)
    except OverflowError as exc:
        raise call.fail(f"the epoch time '{seconds}' is outside the range of a date.") from exc
    return format_datetime(value, "yyyy-MM-ddTHH:mm:ssZ")


def _date_time_to_epoch(call: Call, args: list[Any]) -> int:
    value = _parse(call, call.str_arg(args, 0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # an unzoned time is taken as UTC
    return int((value - _EPOCH).total_seconds() // 1)


def _utc_now(call: Call, args: list[Any]) -> str:
    fmt = call.str_arg(args, 0) if args else UTC_NOW_DEFAULT_FORMAT
    try:
        return call.ctx.utc_now(fmt)
    except DateFormatError as exc:
        raise call.fail(str(exc)) from exc


FUNCTIONS = (
    spec("dateTimeAdd", _date_time_add, 2, 3),
    spec("dateTimeFromEpoch", _date_time_from_epoch, 1),
    spec("dateTimeToEpoch", _date_time_to_epoch, 1),
    spec("utcNow", _utc_now, 0, 1),
)
