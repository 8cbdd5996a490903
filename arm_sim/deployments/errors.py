"""Deployment errors in ARM's words, with the template line, column and path where they apply.

ARM reports template problems as `InvalidTemplate` with `additionalInfo: [{type: TemplateViolation, info:
{lineNumber, linePosition, path}}]`; line and column are counted in the template text as ARM received it.
A template sent as a JSON object is located in its `json.dumps` form (what the Python SDK sends). The path of a
template sent inline starts at the request body (`properties.template.resources[0].name`), as ARM's does.
Validation messages quote the inner message and end with `'.`, as ARM's do.
"""

from __future__ import annotations

import json
from typing import Any

from arm_sim.core import jsonc
from arm_sim.core.errors import DomainError
from arm_sim.templates import InvalidTemplateError

INVALID_TEMPLATE = "InvalidTemplate"
FUNCTIONS_HELP = "Please see https://aka.ms/arm-functions for usage details."
SYNTAX_HELP = "Please see https://aka.ms/arm-syntax for usage details."
EXPRESSIONS_HELP = "Please see https://aka.ms/arm-template-expressions for usage details."
VALIDATION_FAILED = "Deployment template validation failed"


class TemplateError(DomainError):
    """A DomainError that also carries ARM's `additionalInfo` (the TemplateViolation location)."""

    def __init__(self, message: str, *, code: str = INVALID_TEMPLATE, status: int = 400,
                 line: int | None = None, column: int | None = None, path: str | None = None,
                 target: str | None = None, details: list[dict[str, Any]] | None = None) -> None:
        DomainError.__init__(self, status, code, message, target, details or [])
        self.line, self.column, self.path = line, column, path

    def body(self) -> dict[str, Any]:
        out = super().body()
        if self.path is not None:
            out["additionalInfo"] = [{"type": "TemplateViolation", "info": {
                "lineNumber": self.line or 0, "linePosition": self.column or 0, "path": self.path}}]
        return out


class Source:
    """The template as text, for line/column lookups (computed only when an error needs them)."""

    def __init__(self, template: Any, text: str | None = None, prefix: str = "") -> None:
        self.template = template
        self._text = text
        self.prefix = prefix  # `properties.template.` for a template sent inline in the request body

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = json.dumps(self.template)
        return self._text

    def locate(self, path: jsonc.Path) -> tuple[int, int]:
        return jsonc.locate(self.text, path) or (0, 0)

    def path(self, path: jsonc.Path) -> str:
        return self.prefix + jsonc.format_path(path)


def _path(source: Source | None, path: jsonc.Path) -> str:
    return source.path(path) if source is not None else jsonc.format_path(path)


def at(source: Source | None, path: jsonc.Path, message: str, *, what: str | None = None,
       help_text: str = FUNCTIONS_HELP, prefix: str = VALIDATION_FAILED) -> TemplateError:
    """`{prefix}: 'The template {what} at line 'L' and column 'C' is not valid: {message}. {help}'.` — ARM keeps the
    inner message's own full stop (`… details.. Please see …`)."""
    line, col = source.locate(path) if source is not None else (0, 0)
    text = message
    if what:
        text = f"The template {what} at line '{line}' and column '{col}' is not valid: {text}"
    return TemplateError(f"{prefix}: '{text}. {help_text}'.", line=line, column=col, path=_path(source, path))


def plain(source: Source | None, path: jsonc.Path | None, message: str) -> TemplateError:
    """`Deployment template validation failed: '{message}'.`, placed at `path` (None: ARM gives no place)."""
    line, col = source.locate(path) if source is not None and path is not None else (0, 0)
    return TemplateError(f"{VALIDATION_FAILED}: '{message}'.", line=line, column=col,
                         path=_path(source, path) if path is not None else "")


def in_section(source: Source | None, path: jsonc.Path, what: str, message: str) -> TemplateError:
    """A variable or output that fails to evaluate: `The template variable 'x' is not valid: {message}. {help}`
    (ARM keeps the inner message's own full stop, hence its `..`)."""
    line, col = source.locate(path) if source is not None else (0, 0)
    return TemplateError(f"{VALIDATION_FAILED}: 'The template {what} is not valid: {message}. {EXPRESSIONS_HELP}'.",
                         line=line, column=col, path=_path(source, path))


def wrap(error: InvalidTemplateError | DomainError, source: Source | None, path: jsonc.Path,
         what: str | None = None) -> DomainError:
    """An expression error from the language, placed in the template. Other domain errors pass unchanged."""
    if isinstance(error, TemplateError) or not isinstance(error, InvalidTemplateError):
        return error
    return at(source, path, error.message, what=what, help_text=EXPRESSIONS_HELP)


def runtime(error: DomainError, source: Source | None, path: jsonc.Path, resource_id: str,
            where: jsonc.Path | None = None) -> DomainError:
    """An expression of the resource at `path` that failed to evaluate (reference() of a missing property …);
    `where`, when known, is the expression's own place."""
    if not isinstance(error, InvalidTemplateError) or isinstance(error, TemplateError):
        return error
    line, col = source.locate(path) if source is not None else (0, 0)
    exact = where if where is not None else path
    at_line, at_col = source.locate(exact) if source is not None else (0, 0)
    return TemplateError(f"Unable to process template language expressions for resource '{resource_id}' at line "
                         f"'{line}' and column '{col}'. '{error.message}'", line=at_line, column=at_col,
                         path=_path(source, exact))


def parse_failed(error: jsonc.JsoncError) -> TemplateError:
    return TemplateError(f"Deployment template parse failed: '{error}'", line=error.line, column=error.column,
                         path=error.path)


def invalid(message: str) -> TemplateError:
    return TemplateError(f"{VALIDATION_FAILED}: '{message.rstrip('.')}. {SYNTAX_HELP}'.")
