"""Domain errors. Each carries what Azure would say; each host renders it in its own envelope."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DomainError(Exception):
    """An ARM-style error: HTTP status, PascalCase code, message, optional target and details."""

    status: int
    code: str
    message: str
    target: str | None = None
    details: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.code}: {self.message}")

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target:
            err["target"] = self.target
        if self.details:
            err["details"] = self.details
        return err


def bad_request(code: str, message: str, target: str | None = None) -> DomainError:
    return DomainError(400, code, message, target)


def not_found(code: str, message: str) -> DomainError:
    return DomainError(404, code, message)


def conflict(code: str, message: str) -> DomainError:
    return DomainError(409, code, message)


def not_implemented(what: str) -> DomainError:
    """Features arm-sim does not simulate yet answer this, never a fake success."""
    return DomainError(
        501, "NotImplementedInSimulator", f"arm-sim does not implement {what} yet."
    )


@dataclass
class EntraError(Exception):
    """An OAuth error from the token service: AADSTS number, OAuth `error`, HTTP status."""

    status: int
    error: str
    aadsts: int
    description: str

    def __post_init__(self) -> None:
        super().__init__(f"AADSTS{self.aadsts}: {self.description}")


@dataclass
class AuthenticationError(Exception):
    """A resource server refused a bearer token. Each host words and wraps it its own way."""

    code: str
    message: str
    reason: str = ""  # short machine-friendly reason, for events

    def __post_init__(self) -> None:
        super().__init__(f"{self.code}: {self.message}")
