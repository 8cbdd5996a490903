"""JSON as ARM reads it (Newtonsoft's lenient reader): `//` and `/* */` comments, raw newlines inside strings,
trailing commas, unquoted property names, single-quoted strings and numbers with a bare dot (`.25`, `1.`). Not
taken (Newtonsoft's rarer extensions, which templates do not rely on): NaN, Infinity, `undefined`, hexadecimal and
octal integers, `new Date(…)`. Request bodies, template files and the template function `json()` all read so.

The Azure CLI relies on the last one: it splices the template file's raw text into its request body after an
unquoted key (`…, template:{…}`), so that body is not JSON (reference/clients.md §5).

`loads` tries the fast standard parser first. `locate` re-reads a text to find where a value starts (line and
column, 1-based), which ARM puts in its `InvalidTemplate` errors.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

Path = tuple[str | int, ...]
# Newtonsoft also reads `.25`, `-.5` and `1.` as numbers (doubles); a template's json('.25') relies on it
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_BARE_KEY = re.compile(r"[A-Za-z_$][\w$]*")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "'": "'"}
_LITERALS = {"true": True, "false": False, "null": None}


class JsoncError(ValueError):
    """A parse failure in Newtonsoft's words: what, the JSON path, line and position."""

    def __init__(self, message: str, path: str, line: int, column: int) -> None:
        super().__init__(f"{message} Path '{path}', line {line}, position {column}.")
        self.path, self.line, self.column = path, line, column


def format_path(path: Path) -> str:
    """`('resources', 0, 'properties')` -> `resources[0].properties` (ARM's path notation)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Reader:
    def __init__(self, text: str, want: Path | None = None) -> None:
        self.text = text
        self.pos = 0
        self.path: list[str | int] = []
        self.want = want  # locate(): stop at this path
        self.found: int | None = None

    # -- positions ---------------------------------------------------------------------------------------------
    def line_col(self, offset: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, offset) + 1
        return line, offset - (self.text.rfind("\n", 0, offset) + 1) + 1

    def fail(self, message: str) -> JsoncError:
        line, col = self.line_col(self.pos)
        return JsoncError(message, format_path(tuple(self.path)), line, col)

    # -- scanning ---------------------------------------------------------------------------------------------
    def skip(self) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n:
            ch = text[self.pos]
            if ch in " \t\r\n\ufeff":
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = n if end < 0 else end + 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("Unexpected end while parsing comment.")
                self.pos = end + 2
            else:
                return

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    # -- values -----------------------------------------------------------------------------------------------
    def value(self) -> Any:
        ch = self.peek()
        if self.want is not None and tuple(self.path) == self.want and self.found is None:
            self.found = self.pos
        if ch == "{":
            return self.obj()
        if ch == "[":
            return self.array()
        if ch in "\"'":
            return self.string()
        if not ch:
            raise self.fail("Unexpected end when reading JSON.")
        m = _NUMBER.match(self.text, self.pos)
        if m:
            self.pos = m.end()
            raw = m.group()
            return float(raw) if any(c in raw for c in ".eE") else int(raw)
        m = _BARE_KEY.match(self.text, self.pos)
        if m and m.group() in _LITERALS:
            self.pos = m.end()
            return _LITERALS[m.group()]
        raise self.fail(f"Unexpected character encountered while parsing value: {ch}.")

    def string(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        out: list[str] = []
        text, n = self.text, len(self.text)
        start = self.pos
        while True:
            if self.pos >= n:
                raise self.fail("Unterminated string. Expected delimiter: " + quote + ".")
            ch = text[self.pos]
            if ch == quote:
                out.append(text[start:self.pos])
                self.pos += 1
                return "".join(out)
            if ch == "\\":
                out.append(text[start:self.pos])
                esc = text[self.pos + 1:self.pos + 2]
                if esc == "u":
                    digits = text[self.pos + 2:self.pos + 6]
                    try:
                        out.append(chr(int(digits, 16)))
                    except ValueError:
                        raise self.fail(f"Invalid Unicode escape sequence: \\u{digits}.") from None
                    self.pos += 6
                elif esc in _ESCAPES:
                    out.append(_ESCAPES[esc])
                    self.pos += 2
                else:
                    raise self.fail(f"Bad JSON escape sequence: \\{esc}.")
                start = self.pos
            else:
                self.pos += 1  # raw newlines and control characters are accepted, as ARM does

    def key(self) -> str:
        ch = self.peek()
        if ch in "\"'":
            return self.string()
        m = _BARE_KEY.match(self.text, self.pos)
        if not m:
            raise self.fail(f"Invalid property identifier character: {ch or 'end of data'}.")
        self.pos = m.end()
        return m.group()

    def obj(self) -> dict[str, Any]:
        self.pos += 1
        out: dict[str, Any] = {}
        while True:
            ch = self.peek()
            if ch == "}":
                self.pos += 1
                return out
            name = self.key()
            if self.peek() != ":":
                raise self.fail(f"Invalid character after parsing property name. Expected ':' but got: "
                                f"{self.peek() or 'end of data'}.")
            self.pos += 1
            self.path.append(name)
            out[name] = self.value()
            self.path.pop()
            ch = self.peek()
            if ch == ",":
                self.pos += 1
            elif ch != "}":
                raise self.fail(f"After parsing a value an unexpected character was encountered: {ch or 'end'}.")

    def array(self) -> list[Any]:
        self.pos += 1
        out: list[Any] = []
        while True:
            ch = self.peek()
            if ch == "]":
                self.pos += 1
                return out
            self.path.append(len(out))
            out.append(self.value())
            self.path.pop()
            ch = self.peek()
            if ch == ",":
                self.pos += 1
            elif ch != "]":
                raise self.fail(f"After parsing a value an unexpected character was encountered: {ch or 'end'}.")

    def document(self) -> Any:
        value = self.value()
        if self.peek():
            raise self.fail(f"Additional text encountered after finished reading JSON content: {self.peek()}.")
        return value


def loads(text: str | bytes) -> Any:
    """Parse JSON the way ARM does (see the module docstring); raises `JsoncError`."""
    if isinstance(text, bytes):
        text = text.decode("utf-8-sig")
    try:
        return json.loads(text, strict=False)  # the common case: plain JSON (raw control chars allowed)
    except ValueError:
        pass
    return _Reader(text).document()


def locate(text: str, path: Path) -> tuple[int, int] | None:
    """(line, column) where the value at `path` starts in `text`; None when it is not there."""
    reader = _Reader(text, path)
    with contextlib.suppress(JsoncError):  # a value before the problem still has its place
        reader.document()
    return reader.line_col(reader.found) if reader.found is not None else None
