"""ARM resource ids: parsing, display form and the case-folded key used for lookups.

ARM compares every path segment case-insensitively but echoes names as the caller first wrote them,
so we keep a display id and look up by `key(id)` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

from arm_sim.core.errors import bad_request


def key(resource_id: str) -> str:
    return resource_id.rstrip("/").lower()


@dataclass(frozen=True)
class ProviderPart:
    """One `providers/{namespace}/{type}/{name}/...` run of an id."""

    namespace: str
    segments: tuple[str, ...]  # alternating type, name, type, name …; odd length = ends on a type

    @property
    def types(self) -> tuple[str, ...]:
        return self.segments[0::2]

    @property
    def names(self) -> tuple[str, ...]:
        return self.segments[1::2]


@dataclass(frozen=True)
class ArmPath:
    """A parsed ARM path. `parts` is empty for subscription/resource-group level paths."""

    subscription: str | None
    resource_group: str | None
    parts: tuple[ProviderPart, ...]
    tail: tuple[str, ...]  # segments after the subscription/rg that are not under providers/

    # The derived ids are cached: the path is immutable, and a request asks for them several times.
    @cached_property
    def scope_id(self) -> str:
        """The subscription or resource-group id this path lives in."""
        out = ""
        if self.subscription is not None:
            out = f"/subscriptions/{self.subscription}"
        if self.resource_group is not None:
            out += f"/resourceGroups/{self.resource_group}"
        return out

    @property
    def is_collection(self) -> bool:
        return bool(self.parts) and len(self.parts[-1].segments) % 2 == 1

    @cached_property
    def resource_type(self) -> str:
        last = self.parts[-1]
        return "/".join((last.namespace, *last.types))

    @property
    def name(self) -> str:
        return self.parts[-1].names[-1]

    def prefix(self, parts: int) -> str:
        """The display id of the first `parts` provider parts (an extension resource's scope)."""
        out = self.scope_id
        for p in self.parts[:parts]:
            out += "/providers/" + p.namespace + "".join("/" + s for s in p.segments)
        return out

    @cached_property
    def id(self) -> str:
        return self.prefix(len(self.parts))

    @property
    def parent_id(self) -> str:
        """Display id of the parent: the enclosing resource for a child, else the scope."""
        last = self.parts[-1]
        segs = last.segments[:-2] if not self.is_collection else last.segments[:-1]
        if segs:
            return self.prefix(len(self.parts) - 1) + "/providers/" + last.namespace + "".join(
                "/" + s for s in segs
            )
        return self.prefix(len(self.parts) - 1)


def split(path: str) -> list[str]:
    return [s for s in path.split("/") if s != ""]


def parse(path: str) -> ArmPath:
    """Parse `/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}…` (any depth)."""
    return _parse(path)


@lru_cache(maxsize=4096)  # paths repeat (polling, reads of the same resources); an ArmPath never changes
def _parse(path: str) -> ArmPath:
    segs = split(path)
    i = 0
    sub = rg = None
    if len(segs) >= 2 and segs[0].lower() == "subscriptions":
        sub, i = segs[1], 2
        if len(segs) >= i + 2 and segs[i].lower() == "resourcegroups":
            rg, i = segs[i + 1], i + 2
    tail: list[str] = []
    parts: list[ProviderPart] = []
    while i < len(segs) and segs[i].lower() != "providers":
        tail.append(segs[i])
        i += 1
    while i < len(segs):
        # segs[i] == "providers"
        if i + 1 >= len(segs):
            if parts:
                raise bad_request("InvalidResourceId", f"The resource id '{path}' is not valid.")
            tail.append(segs[i])  # a bare `/providers`: the provider list
            break
        ns = segs[i + 1]
        j = i + 2
        run: list[str] = []
        while j < len(segs):
            if segs[j].lower() == "providers" and len(run) % 2 == 0 and run:
                break
            run.append(segs[j])
            j += 1
        parts.append(ProviderPart(ns, tuple(run)))
        i = j
    return ArmPath(sub, rg, tuple(parts), tuple(tail))


def resource_group_id(subscription: str, name: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{name}"
