"""The one error the expression language raises: ARM's `InvalidTemplate` (HTTP 400).

It is a `DomainError`, so every host renders it in its own envelope; it also carries where in the
expression text the problem is, so the deployment engine can add the template line, column and path.
"""

from __future__ import annotations

from arm_sim.core.errors import DomainError

INVALID_TEMPLATE = "InvalidTemplate"


class InvalidTemplateError(DomainError):
    """`InvalidTemplate` with the offset (inside the expression text) and the expression, when known."""

    def __init__(self, message: str, *, position: int | None = None, expression: str | None = None) -> None:
        super().__init__(400, INVALID_TEMPLATE, message)
        self.position = position
        self.expression = expression


def invalid_template(message: str, *, position: int | None = None) -> InvalidTemplateError:
    return InvalidTemplateError(message, position=position)


def not_expected(function: str, why: str = "") -> InvalidTemplateError:
    """ARM's wording when a function is used where the template language forbids it."""
    suffix = f" {why}" if why else ""
    return InvalidTemplateError(f"The template function '{function}' is not expected at this location.{suffix}")


def not_implemented(what: str) -> InvalidTemplateError:
    """Something real ARM supports but arm-sim does not: say so plainly, never fake a result."""
    return InvalidTemplateError(f"arm-sim does not implement {what}.")
