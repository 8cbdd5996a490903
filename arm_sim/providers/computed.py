"""Shared helpers for providers whose types carry server-computed runtime state (endpoints, keys, addresses).

`TypedProvider` answers only the types it names (and their children), so every other type of the same
namespace — `Microsoft.Insights/diagnosticSettings`, `Microsoft.Resources/deployments` … — stays with whoever
else handles it (in the end the generic provider).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import secrets
import uuid
from typing import Any

from arm_sim.core.errors import bad_request
from arm_sim.providers.base import Doc, Provider

SIM_STATE = "_sim"  # resources.documents.SIM_STATE: the simulator's own per-resource state, never rendered


class TypedProvider(Provider):
    """A provider for a few named types (full lower-case type keys) and the children below them."""

    types: frozenset[str] = frozenset()
    # lower-case namespaces whose provider-level calls (`/subscriptions/{s}/providers/{ns}/checkNameAvailability`)
    # this provider answers
    provider_namespaces: frozenset[str] = frozenset()

    def handles(self, type_key: str) -> bool:
        if type_key.endswith("/"):
            return type_key[:-1] in self.provider_namespaces
        return type_key in self.types or any(type_key.startswith(t + "/") for t in self.types)


def kind_of(doc: Doc) -> str:
    return str(doc["type"]).lower()


def sim_state(doc: Doc) -> dict[str, Any]:
    """The resource's simulator-only state (created on first use); it survives PUT updates."""
    state = doc.get(SIM_STATE)
    if not isinstance(state, dict):
        state = doc[SIM_STATE] = {}
    return state


def props(doc: Doc) -> dict[str, Any]:
    p = doc.get("properties")
    if not isinstance(p, dict):
        p = doc["properties"] = {}
    return p


def member(obj: dict[str, Any], key: str) -> dict[str, Any]:
    """`obj[key]` when it is an object (that same dict: writes to it show in `obj`), else a new empty dict that
    is not stored in `obj` (unlike `props`)."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def account_key(size: int = 64) -> str:
    """A random key as Azure shows them: base64 of `size` random bytes (storage, Log Analytics, …)."""
    return base64.b64encode(secrets.token_bytes(size)).decode()


def new_guid() -> str:
    return str(uuid.uuid4())


def short_hash(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:length]


def public_ip(seed: str) -> str:
    """A stable public IPv4 address in 20.0.0.0/8 (an Azure public range) derived from `seed`."""
    d = hashlib.sha256(seed.encode()).digest()
    return f"20.{d[0]}.{d[1]}.{1 + d[2] % 254}"


def public_ipv6(seed: str) -> str:
    d = hashlib.sha256(seed.encode()).hexdigest()
    return str(ipaddress.IPv6Address(f"2603:1030:{d[0:4]}:{d[4:8]}::{d[8:12]}"))


def require_object(body: Any, what: str) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise bad_request("InvalidRequestContent", f"The {what} request content must be a JSON object.")
    return body


def keep(before: Doc | None, after: Doc, *fields: str) -> None:
    """Carry read-only properties from the stored resource into the new one (a PUT never changes them)."""
    old = (before or {}).get("properties") or {}
    new = props(after)
    for f in fields:
        if f in old:
            new[f] = old[f]
