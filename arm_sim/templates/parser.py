"""Parse the text of an ARM template expression (what sits between `[` and `]`) into the AST of `nodes`.

Grammar (ARM has no operators; Bicep compiles its operators to function calls):

    expression := primary ( '.' identifier | '[' expression ']' )*
    primary    := string | integer | call
    call       := identifier [ '.' identifier ] '(' [ expression ( ',' expression )* ] ')'
    string     := "'" ( any char but "'" | "''" )* "'"
    integer    := [ '-' ] digit+            (64-bit signed)

Whitespace is allowed between tokens. Errors name the token expected and the one found, ARM style, and carry
the offset of the problem.
"""

from __future__ import annotations

from functools import lru_cache

from arm_sim.templates.errors import InvalidTemplateError
from arm_sim.templates.nodes import FunctionCall, IndexAccess, IntLiteral, MemberAccess, Node, StringLiteral

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_WHITESPACE = " \t\r\n"
_TOKEN_NAMES = {
    "(": "LeftParenthesis",
    ")": "RightParenthesis",
    "[": "LeftSquareBracket",
    "]": "RightSquareBracket",
    ".": "Dot",
    ",": "Comma",
    "'": "Literal",
}


def is_expression(value: str) -> bool:
    """A JSON string is an expression when it starts with '[' and ends with ']' — unless it starts with '[['."""
    return len(value) >= 2 and value[0] == "[" and value[-1] == "]" and value[1] != "["


def unescape(value: str) -> str:
    """`[[literal]` is the escape for a string that must start with '[' and end with ']' without being evaluated."""
    if value.startswith("[[") and value.endswith("]"):
        return value[1:]
    return value


def expression_text(value: str) -> str:
    """The text between the brackets of an expression string."""
    return value[1:-1]


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9"  # ASCII only: str.isdigit() also accepts '²' and other digits int() refuses


def _is_ident_start(ch: str) -> bool:
    return ch.isalpha() or ch in "_$"


def _is_ident_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_$"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # -- scanning helpers -------------------------------------------------------------------------------
    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
            self.pos += 1

    def peek(self) -> str:
        self.skip_ws()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def describe(self) -> str:
        ch = self.peek()
        if not ch:
            return "EndOfData"
        if ch in _TOKEN_NAMES:
            return _TOKEN_NAMES[ch]
        if _is_ident_start(ch):
            return "Identifier"
        if _is_digit(ch) or ch == "-":
            return "Integer"
        return ch

    def error(self, expected: str, *, actual: str | None = None, pos: int | None = None) -> InvalidTemplateError:
        where = self.pos if pos is None else pos
        found = actual if actual is not None else self.describe()
        message = (
            f"Unable to parse language expression '{self.text}': expected token '{expected}' and actual "
            f"'{found}' at position {where}."
        )
        return InvalidTemplateError(message, position=where, expression=self.text)

    def expect(self, ch: str) -> None:
        if self.peek() != ch:
            raise self.error(_TOKEN_NAMES[ch])
        self.pos += 1

    def identifier(self) -> str:
        self.skip_ws()
        start = self.pos
        if self.pos >= len(self.text) or not _is_ident_start(self.text[self.pos]):
            raise self.error("Identifier")
        while self.pos < len(self.text) and _is_ident_char(self.text[self.pos]):
            self.pos += 1
        return self.text[start : self.pos]

    # -- grammar ----------------------------------------------------------------------------------------
    def parse(self) -> Node:
        node = self.expression()
        if self.peek():
            raise self.error("EndOfData")
        return node

    def expression(self) -> Node:
        node = self.primary()
        while True:
            ch = self.peek()
            if ch == ".":
                offset = self.pos
                self.pos += 1
                node = MemberAccess(node, self.identifier(), offset)
            elif ch == "[":
                offset = self.pos
                self.pos += 1
                index = self.expression()
                self.expect("]")
                node = IndexAccess(node, index, offset)
            else:
                return node

    def primary(self) -> Node:
        ch = self.peek()
        if ch == "'":
            return self.string()
        if ch == "-" or (ch and _is_digit(ch)):
            return self.integer()
        if ch and _is_ident_start(ch):
            return self.call()
        raise self.error("Identifier")

    def string(self) -> StringLiteral:
        offset = self.pos
        self.pos += 1  # opening quote
        chunks: list[str] = []
        while True:
            end = self.text.find("'", self.pos)
            if end < 0:
                raise InvalidTemplateError(
                    f"Unable to parse language expression '{self.text}': the string literal starting at position "
                    f"{offset} is not terminated.",
                    position=offset,
                    expression=self.text,
                )
            chunks.append(self.text[self.pos : end])
            self.pos = end + 1
            if self.pos < len(self.text) and self.text[self.pos] == "'":  # '' is an escaped quote
                chunks.append("'")
                self.pos += 1
                continue
            return StringLiteral("".join(chunks), offset)

    def integer(self) -> IntLiteral:
        offset = self.pos
        if self.text[self.pos] == "-":
            self.pos += 1
        start_digits = self.pos
        while self.pos < len(self.text) and _is_digit(self.text[self.pos]):
            self.pos += 1
        if self.pos == start_digits:
            raise self.error("Integer", pos=self.pos)
        if self.pos < len(self.text) and (self.text[self.pos] == "." or _is_ident_char(self.text[self.pos])):
            # '1.5' or '12abc': ARM expressions have integers only (use json('1.5') for a float).
            raise self.error("Integer", actual=self.text[offset : self.pos + 1], pos=offset)
        value = int(self.text[offset : self.pos])
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise InvalidTemplateError(
                f"Unable to parse language expression '{self.text}': the integer literal at position {offset} "
                "is outside the range of a 64-bit integer.",
                position=offset,
                expression=self.text,
            )
        return IntLiteral(value, offset)

    def call(self) -> FunctionCall:
        offset = self.pos
        name = self.identifier()
        namespace: str | None = None
        if self.peek() == ".":
            # `ns.fn(...)`: a user-defined function. (Member access can only follow a call or literal.)
            self.pos += 1
            namespace, name = name, self.identifier()
        self.expect("(")
        args: list[Node] = []
        if self.peek() == ")":
            self.pos += 1
            return FunctionCall(name, (), offset, namespace)
        while True:
            args.append(self.expression())
            ch = self.peek()
            if ch == ",":
                self.pos += 1
                continue
            if ch == ")":
                self.pos += 1
                return FunctionCall(name, tuple(args), offset, namespace)
            raise self.error("RightParenthesis")


@lru_cache(maxsize=8192)
def parse(expression: str) -> Node:
    """Parse expression text (without the surrounding brackets). Results are cached: nodes are immutable."""
    if not expression.strip():
        raise InvalidTemplateError(
            "The language expression '' is not valid: the expression is empty.", position=0, expression=expression
        )
    return _Parser(expression).parse()
