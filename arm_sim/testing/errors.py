"""What the plugin raises: `ArmError`, and its two deployment kinds, which are not subclasses of each other.

- `DeploymentRefused`: ARM did not accept the deployment (an HTTP error answer to its PUT, validate or whatIf):
  template validation (`InvalidTemplate`), ARM's preflight (`InvalidResourceType`, `NoRegisteredProviderFound`,
  `LocationNotAvailableForResourceType`), the providers' preflight (`InvalidTemplateDeployment`, the resource's
  own error, e.g. `InvalidParameter`, in `details`). Nothing was deployed.
- `DeploymentFailed`: ARM accepted it, it ran and ended `Failed` or `Canceled`; what deployed before the failure
  stays, as in Azure. `.error` is the deployment's `properties.error` (`DeploymentFailed`, per-resource `details`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ArmError", "DeploymentFailed", "DeploymentRefused", "ErrorDetail"]


@dataclass(frozen=True)
class ErrorDetail:
    """An Azure error object (`code`, `message`, `target`, nested `details`), typed."""

    code: str
    message: str = ""
    target: str | None = None
    details: tuple[ErrorDetail, ...] = ()

    @classmethod
    def of(cls, error: Any) -> ErrorDetail:
        """From an error object, or a whole envelope `{"error": {...}}`."""
        if isinstance(error, Mapping) and isinstance(error.get("error"), Mapping):
            error = error["error"]
        if not isinstance(error, Mapping):
            return cls("Unknown", str(error))
        details = tuple(cls.of(d) for d in error.get("details") or [] if isinstance(d, Mapping))
        target = error.get("target")
        return cls(str(error.get("code", "")), str(error.get("message", "")),
                   None if target is None else str(target), details)

    def walk(self) -> Iterator[ErrorDetail]:
        """This error, then its details, depth first."""
        yield self
        for d in self.details:
            yield from d.walk()

    @property
    def codes(self) -> list[str]:
        """Every code in the tree, outermost first: `["InvalidTemplateDeployment", "InvalidParameter"]`."""
        return [e.code for e in self.walk()]

    def find(self, code: str) -> ErrorDetail | None:
        """The first error of the tree with that code (case-insensitive), or None."""
        return next((e for e in self.walk() if e.code.lower() == code.lower()), None)

    def describe(self, depth: int = 0) -> str:
        """One `code: message` a line, details indented."""
        target = f" (target: {self.target})" if self.target else ""
        lines = [f"{'  ' * depth}{self.code}: {self.message}{target}"]
        return "\n".join(lines + [d.describe(depth + 1) for d in self.details])


class ArmError(Exception):
    """The simulator answered with an error. `.status` (HTTP; None for DeploymentFailed), `.error` (ErrorDetail),
    `.code` and `.message` (the outer error's), `.codes` (every code, nested ones too), `.raw` (the JSON)."""

    def __init__(self, status: int | None, error: Any, doing: str) -> None:
        self.status = status
        self.raw: dict[str, Any] = dict(error) if isinstance(error, Mapping) else {"message": str(error)}
        if isinstance(error, Mapping) and error:
            self.error = ErrorDetail.of(error)
        else:  # not JSON, or empty
            self.error = ErrorDetail(f"HTTP{status}", str(error or "no error given"))
        super().__init__(f"{doing} failed{f' ({status})' if status else ''}:\n{self.error.describe()}")

    @property
    def code(self) -> str:
        return self.error.code

    @property
    def message(self) -> str:
        return self.error.message

    @property
    def codes(self) -> list[str]:
        return self.error.codes


class DeploymentRefused(ArmError):
    """ARM refused the deployment up front (an HTTP 4xx to the PUT, validate or whatIf): nothing was deployed."""


class DeploymentFailed(ArmError):
    """The deployment was accepted, ran, and ended `Failed` or `Canceled` (`.status` is None)."""
