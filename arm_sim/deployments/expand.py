"""Resource expansion before deployment (reference/arm-templates.md §2.5, §2.8 step 4): copy loops, conditions,
child resources (nested or flat), extension resources (`scope` and the legacy `…/providers/…` form), symbolic
names and `existing` (languageVersion 2.0), and each instance's resource id.

Only the fields ARM evaluates before deployment are evaluated here; properties wait for the resource's turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from arm_sim.core import ids
from arm_sim.core.errors import DomainError
from arm_sim.core.jsonc import Path
from arm_sim.deployments import errors
from arm_sim.deployments.context import DeploymentContext
from arm_sim.deployments.errors import Source
from arm_sim.deployments.store import DEPLOYMENT_TYPE, Target
from arm_sim.templates import InvalidTemplateError

RESOURCE_GROUP_TYPE = "microsoft.resources/resourcegroups"
_SEGMENTS = ("has incorrect segment lengths. A nested resource type must have identical number of segments as its "
             "resource name. A root resource type must have segment length one greater than its resource name")


@dataclass
class Planned:
    """One resource instance of the template, with its pre-deployment fields evaluated."""

    order: int
    key: str
    path: Path
    decl: dict[str, Any]
    symbolic: str | None
    loop: str | None
    copy_index: int | None
    loops: list[tuple[str, int, bool]]
    condition: bool
    existing: bool
    type: str
    name: str
    api_version: str
    id: str
    location: str | None
    depends_on: list[str]
    parent: str | None = None  # the key of the resource this one is nested in
    deployment_target: Target | None = None  # for Microsoft.Resources/deployments
    serial_batch: int | None = None  # batch size of a serial copy loop
    deps: set[str] = field(default_factory=set)

    @property
    def deployable(self) -> bool:
        return self.condition and not self.existing

    @property
    def is_deployment(self) -> bool:
        return self.type.lower() == DEPLOYMENT_TYPE.lower()

    @property
    def is_resource_group(self) -> bool:
        return self.type.lower() == RESOURCE_GROUP_TYPE

    @property
    def resource_type(self) -> str:
        """The type as its id says it (an extension's own type: the legacy `…/providers/roleAssignments` form
        is a `Microsoft.Authorization/roleAssignments`)."""
        if self.is_resource_group:
            return "Microsoft.Resources/resourceGroups"
        return ids.parse(self.id).resource_type


@dataclass
class Plan:
    items: list[Planned] = field(default_factory=list)
    by_key: dict[str, Planned] = field(default_factory=dict)
    loops: dict[str, list[Planned]] = field(default_factory=dict)  # copy loop name (lower) -> instances
    symbols: dict[str, list[Planned]] = field(default_factory=dict)  # symbolic name (lower) -> instances

    # what `find` looks ids and names up in, built when first asked (a 1,000-resource template asks ~1,000 times:
    # scanning every item each time made linking quadratic)
    _ids: list[tuple[str, Planned]] | None = field(default=None, repr=False)
    _by_id: dict[str, list[Planned]] | None = field(default=None, repr=False)
    _by_name: dict[str, list[Planned]] | None = field(default=None, repr=False)

    def add(self, p: Planned) -> None:
        self.items.append(p)
        self.by_key[p.key] = p
        self._ids = self._by_id = self._by_name = None
        if p.symbolic:
            self.symbols.setdefault(p.symbolic.lower(), []).append(p)
        if p.loop:
            self.loops.setdefault(p.loop.lower(), []).append(p)

    def find(self, target: str) -> list[Planned]:
        """Template resources a reference/dependsOn names: symbolic name (`sym`, `sym[2]`), id, or name."""
        t = target.strip()
        low = t.lower()
        if low in self.symbols:
            return self.symbols[low]
        if low.endswith("]") and "[" in low:
            sym, _, index = low[:-1].partition("[")
            if sym in self.symbols and index.strip().isdigit():
                matches = [p for p in self.symbols[sym] if p.copy_index == int(index)]
                return matches
        keyed, by_id, by_name = self._indexes()
        if low.startswith("/"):
            return list(by_id.get(canonical_key(t), []))
        if "/providers/" in f"/{low}" or low.count("/") >= 2 and "." in low.split("/", 1)[0]:
            suffix = "/providers/" + low.removeprefix("providers/").rstrip("/")
            found = [p for key, p in keyed if key.endswith(suffix)]
            if found:
                return found
        return list(by_name.get(low, []))

    def _indexes(self) -> tuple[list[tuple[str, Planned]], dict[str, list[Planned]], dict[str, list[Planned]]]:
        if self._ids is None or self._by_id is None or self._by_name is None:
            self._ids = [(ids.key(p.id), p) for p in self.items]
            self._by_id, self._by_name = {}, {}
            for key, p in self._ids:
                self._by_id.setdefault(key, []).append(p)
                self._by_name.setdefault(p.name.lower(), []).append(p)
        return self._ids, self._by_id, self._by_name


def canonical_key(resource_id: str) -> str:
    """The lookup key of an id; a resource group also answers to its `subscriptionResourceId` form
    (`/subscriptions/{s}/providers/Microsoft.Resources/resourceGroups/{name}`), as templates write it."""
    return ids.key(resource_id).replace("/providers/microsoft.resources/resourcegroups/", "/resourcegroups/")


def _interleave(types: list[str], names: list[str]) -> str:
    return "".join(f"/{t}/{n}" for t, n in zip(types, names, strict=True))


def resource_id(target: Target, rtype: str, name: str, scope: str | None) -> str:
    """The id of a resource declared with `type`/`name` (and `scope`) in a deployment at `target`."""
    low = rtype.lower()
    names = name.split("/")
    if "/providers/" in low:  # legacy extension: NS/type/providers/extType with name base/ExtNS/extName
        i = low.index("/providers/")
        base_ns, *base_types = rtype[:i].split("/")
        ext_types = rtype[i + len("/providers/"):].split("/")
        n = len(base_types)
        if not base_types or len(names) != n + 1 + len(ext_types):
            raise InvalidTemplateError(f"The resource type '{rtype}' and name '{name}' {_SEGMENTS}.")
        base = _scoped(target, base_ns, base_types, names[:n], scope)
        return f"{base}/providers/{names[n]}{_interleave(ext_types, names[n + 1:])}"
    ns, *types = rtype.split("/")
    if not types or len(types) != len(names) or not all(names):
        raise InvalidTemplateError(f"The resource type '{rtype}' and name '{name}' {_SEGMENTS}.")
    return _scoped(target, ns, types, names, scope)


def _scoped(target: Target, ns: str, types: list[str], names: list[str], scope: str | None) -> str:
    if scope:
        base = scope.rstrip("/") if scope.startswith("/") else f"{target.id}/providers/{scope.strip('/')}"
        return f"{base}/providers/{ns}{_interleave(types, names)}"
    if f"{ns}/{'/'.join(types)}".lower() == RESOURCE_GROUP_TYPE:
        return f"/subscriptions/{target.subscription_id}/resourceGroups/{names[0]}"
    return f"{target.id}/providers/{ns}{_interleave(types, names)}"


class Expander:
    def __init__(self, ctx: DeploymentContext, target: Target, source: Source) -> None:
        self.ctx = ctx
        self.target = target
        self.source = source
        self.plan = Plan()

    def build(self, resources: Any) -> Plan:
        if isinstance(resources, dict):  # languageVersion 2.0: keyed by symbolic name
            for sym, decl in resources.items():
                self.declare(decl, ("resources", sym), sym, None, [])
        elif isinstance(resources, list):
            for i, decl in enumerate(resources):
                self.declare(decl, ("resources", i), None, None, [])
        else:
            raise errors.at(self.source, ("resources",), "The 'resources' section must be an array (or an object "
                            "of symbolic names with languageVersion 2.0)", what="resources")
        return self.plan

    def _eval(self, decl: dict[str, Any], path: Path, field_name: str, loops: list[tuple[str, int, bool]]) -> Any:
        try:
            with self.ctx.phase(False, loops):
                return self.ctx.value(decl.get(field_name))
        except DomainError as e:
            what = f"resource '{decl.get('name', '')}'"
            raise errors.wrap(e, self.source, (*path, field_name), what=what) from None

    def _depends_on(self, decl: dict[str, Any], path: Path, loops: list[tuple[str, int, bool]]) -> Any:
        raw = decl.get("dependsOn", [])
        entries = list(enumerate(raw)) if isinstance(raw, list) else [(None, raw)]
        out = []
        for i, entry in entries:
            try:
                with self.ctx.phase(False, loops):
                    out.append(self.ctx.value(entry))
            except InvalidTemplateError as e:  # ARM says these plainly, with the entry's place
                where = (*path, "dependsOn") if i is None else (*path, "dependsOn", i)
                raise errors.plain(self.source, where, e.message) from None
        return out if isinstance(raw, list) else out[0]

    def declare(self, decl: Any, path: Path, sym: str | None, parent: Planned | None,
                loops: list[tuple[str, int, bool]]) -> None:
        if not isinstance(decl, dict):
            raise errors.at(self.source, path, "A resource must be a JSON object", what="resource")
        copy = decl.get("copy")
        if copy is None:
            self.instance(decl, path, sym, parent, loops, None, None, None)
            return
        if not isinstance(copy, dict):
            raise errors.at(self.source, (*path, "copy"), "The 'copy' property must be an object",
                            what=f"resource '{decl.get('name', '')}'")
        name = self._eval(copy, (*path, "copy"), "name", loops)
        try:
            with self.ctx.phase(False, loops):
                count = self.ctx.count(copy.get("count"))
        except DomainError as e:
            raise errors.wrap(e, self.source, (*path, "copy", "count"),
                              what=f"resource '{decl.get('name', '')}'") from None
        serial = str(self._eval(copy, (*path, "copy"), "mode", loops) or "parallel").lower() == "serial"
        batch = self._eval(copy, (*path, "copy"), "batchSize", loops) if serial else None
        loop = str(name)
        self.plan.loops.setdefault(loop.lower(), [])
        for i in range(count):
            self.instance(decl, path, sym, parent, [*loops, (loop.lower(), i, True)], loop, i,
                          (batch if isinstance(batch, int) and batch > 0 else 1) if serial else None)

    def instance(self, decl: dict[str, Any], path: Path, sym: str | None, parent: Planned | None,
                 loops: list[tuple[str, int, bool]], loop: str | None, index: int | None, batch: int | None) -> None:
        condition = self._eval(decl, path, "condition", loops) if "condition" in decl else True
        if not isinstance(condition, bool):
            raise errors.at(self.source, (*path, "condition"), f"The condition must evaluate to a boolean, not "
                            f"'{condition}'", what=f"resource '{decl.get('name', '')}'")
        rtype, name, api = (self._eval(decl, path, f, loops) for f in ("type", "name", "apiVersion"))
        what = f"resource '{decl.get('name', '')}'"
        for field_name, value in (("type", rtype), ("name", name), ("apiVersion", api)):
            if not isinstance(value, str) or not value:
                raise errors.at(self.source, (*path, field_name), f"The resource '{field_name}' must be a non-empty "
                                "string", what=what)
        existing = decl.get("existing") is True
        if parent is not None and "." not in rtype.split("/", 1)[0]:  # a nested child with a relative type
            rtype, name = f"{parent.type}/{rtype}", f"{parent.name}/{name}"
        location = self._eval(decl, path, "location", loops) if "location" in decl else None
        scope = self._eval(decl, path, "scope", loops) if "scope" in decl else None
        group = self._eval(decl, path, "resourceGroup", loops) if "resourceGroup" in decl else None
        sub = self._eval(decl, path, "subscriptionId", loops) if "subscriptionId" in decl else None
        depends = self._depends_on(decl, path, loops)
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            raise errors.at(self.source, (*path, "dependsOn"), "The 'dependsOn' property must be an array of "
                            "strings", what=what)
        target = self.target
        if group or sub:
            target = Target(str(sub or target.subscription_id),
                            str(group) if group else (None if sub or not target.resource_group
                                                      else target.resource_group))
        deployment_target = None
        try:
            if rtype.lower() == DEPLOYMENT_TYPE.lower():
                if scope:
                    raise InvalidTemplateError("arm-sim does not implement nested deployments at management group "
                                               "or tenant scope ('scope' on a deployment).")
                deployment_target = target
                rid = target.deployment_id(name)
            else:
                rid = resource_id(target, rtype, name, scope if isinstance(scope, str) else None)
        except InvalidTemplateError as e:
            raise errors.wrap(e, self.source, path, what=what) from None
        key = ("existing:" if existing else "") + ids.key(rid)
        known = self.plan.by_key.get(key)
        if known is not None:
            if known.condition and condition:
                raise errors.at(self.source, path, f"The resource '{rid}' is defined multiple times in a template",
                                what=what)
            if condition:  # the alternative declared earlier does not deploy: move it aside
                del self.plan.by_key[known.key]
                known.key = f"{known.key}#{known.order}"
                self.plan.by_key[known.key] = known
            else:
                key = f"{key}#{len(self.plan.items)}"  # a conditional alternative that is not deployed
        planned = Planned(
            order=len(self.plan.items), key=key, path=path, decl=decl, symbolic=sym, loop=loop, copy_index=index,
            loops=loops, condition=condition and (parent is None or parent.condition), existing=existing,
            type=rtype, name=name, api_version=api, id=rid, location=location if isinstance(location, str) else None,
            depends_on=list(depends), parent=parent.key if parent else None, deployment_target=deployment_target,
            serial_batch=batch)
        self.plan.add(planned)
        children = decl.get("resources")
        if isinstance(children, list):
            for j, child in enumerate(children):
                self.declare(child, (*path, "resources", j), None, planned, loops)
