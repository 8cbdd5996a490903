"""The managed-identity `type` values and their spellings (pure)."""

from __future__ import annotations

from typing import Any

from arm_sim.core.errors import bad_request

BOTH_WITH_SPACE = "SystemAssigned, UserAssigned"  # Compute and Web spell it so
BOTH_NO_SPACE = "SystemAssigned,UserAssigned"  # newer providers (common-types v5)


def parse_type(value: Any) -> tuple[bool, bool]:
    """(system, user) from any accepted spelling; case and spaces do not matter."""
    if value is None:
        return False, False
    if not isinstance(value, str):
        raise bad_request("BadRequest", "The identity type must be a string.")
    parts = {p.strip().lower() for p in value.split(",") if p.strip()}
    if parts <= {"none"} and parts:
        return False, False
    if not parts or not parts <= {"systemassigned", "userassigned"}:
        raise bad_request(
            "BadRequest",
            f"The identity type '{value}' is invalid. Allowed values are 'None', 'SystemAssigned', 'UserAssigned' "
            "and 'SystemAssigned, UserAssigned'.",
        )
    return "systemassigned" in parts, "userassigned" in parts


def type_name(system: bool, user: bool, both: str) -> str:
    if system and user:
        return both
    return "SystemAssigned" if system else "UserAssigned" if user else "None"
