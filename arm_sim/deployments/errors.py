"""Deployment errors in ARM's words, with the template line, column and path where they apply.

ARM reports template problems as `InvalidTemplate` with `additionalInfo: [{type: TemplateViolation, info:
{lineNumber, linePosition, path}}]`; line and column are counted in the template text as ARM received it.
A template sent as a JSON object is located in its `json.dumps` form (what the Python SDK sends).
"""

from __future__ import annotations

import json
from typing import Any

from arm_sim.core.errors import DomainError
from arm_sim.deployments import jsonc
from arm_sim.templates import InvalidTemplateError

INVALID_TEMPLATE = "InvalidTemplate"
FUNCTIONS_HELP = "Please see https://aka.ms/arm-functions for usage details."
SYNTAX_HELP = "Please see https://aka.ms/arm-syntax for usage details."


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

    def __init__(self, template: Any, text: str | None = None) -> None:
        self.template = template
        self._text = text

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = json.dumps(self.template)
        return self._text

    def locate(self, path: jsonc.Path) -> tuple[int, int]:
        return jsonc.locate(self.text, path) or (0, 0)


def at(source: Source | None, path: jsonc.Path, message: str, *, what: str | None = None,
       help_text: str = FUNCTIONS_HELP, prefix: str = "Deployment template validation failed") -> TemplateError:
    """`{prefix}: 'The template {what} at line 'L' and column 'C' is not valid: {message}. {help}'`."""
    line, col = source.locate(path) if source is not None else (0, 0)
    text = message.rstrip(".")
    if what:
        text = f"The template {what} at line '{line}' and column '{col}' is not valid: {text}"
    return TemplateError(f"{prefix}: '{text}. {help_text}'", line=line, column=col, path=jsonc.format_path(path))


def wrap(error: InvalidTemplateError | DomainError, source: Source | None, path: jsonc.Path,
         what: str | None = None) -> DomainError:
    """An expression error from the language, placed in the template. Other domain errors pass unchanged."""
    if isinstance(error, TemplateError) or not isinstance(error, InvalidTemplateError):
        return error
    return at(source, path, error.message, what=what)


def runtime(error: DomainError, source: Source | None, path: jsonc.Path, resource_id: str) -> DomainError:
    """An expression that failed while its resource deployed (reference() of a missing property …)."""
    if not isinstance(error, InvalidTemplateError) or isinstance(error, TemplateError):
        return error
    line, col = source.locate(path) if source is not None else (0, 0)
    return TemplateError(f"Unable to process template language expressions for resource '{resource_id}' at line "
                         f"'{line}' and column '{col}'. '{error.message}'", line=line, column=col,
                         path=jsonc.format_path(path))


def parse_failed(error: jsonc.JsoncError) -> TemplateError:
    return TemplateError(f"Deployment template parse failed: '{error}'", line=error.line, column=error.column,
                         path=error.path)


def invalid(message: str) -> TemplateError:
    return TemplateError(f"Deployment template validation failed: '{message.rstrip('.')}. {SYNTAX_HELP}'")
