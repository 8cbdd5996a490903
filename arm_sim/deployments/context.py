"""The deployment's `EvalContext`: what template expressions see (parameters, variables, copy indexes, scope
facts, user-defined functions) and, while resources deploy, the runtime state `reference()`/`list*()` read.

Phases follow reference/arm-templates.md §2.8: parameter defaults may use `utcNow()`/`newGuid()`; variables and
the pre-deployment fields (name, type, location, condition, copy count, dependsOn) may not use `reference()`/
`list*()`; resource properties and outputs may (`allow_runtime`).

An outer-scope nested template evaluates with its parent's parameters, variables and scope (`outer`), but with
copy loops and template resources of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from arm_sim.deployments import runtime
from arm_sim.providers import provider_data
from arm_sim.templates import EvalContext, Evaluator, InvalidTemplateError, expression_text, is_expression, unescape
from arm_sim.templates.checks import function_not_valid, variable_not_found
from arm_sim.templates.errors import invalid_template, not_expected
from arm_sim.templates.values import is_int

if TYPE_CHECKING:
    from arm_sim.deployments.engine import Run

MAX_COPY = 800  # ARM's limit on a copy loop's count


def copy_spec(value: Any) -> list[dict[str, Any]] | None:
    """A property/variable `copy` array: [{name, count, input}, …] (anything else named `copy` is a property)."""
    if isinstance(value, list) and value and all(isinstance(c, dict) and "name" in c and "input" in c
                                                  for c in value):
        return value
    return None


def _provider_type(info: provider_data.TypeInfo) -> dict[str, Any]:
    shown = [loc.display_name if (loc := provider_data.location(name)) else name for name in info.locations]
    return {"resourceType": info.type_path, "locations": shown, "apiVersions": list(info.api_versions)}


class DeploymentContext(EvalContext):
    def __init__(self, run: Run, outer: DeploymentContext | None = None) -> None:
        scope = outer if outer is not None else None
        super().__init__(
            subscription_id=scope.current_subscription_id if scope else run.target.subscription_id,
            resource_group=scope.current_resource_group if scope else run.target.resource_group,
            deployment_scope=scope.deployment_scope if scope else run.target.scope_name,
        )
        self.run = run
        self.outer = outer
        self.allow_runtime = False
        self.loops: list[tuple[str, int, bool]] = []  # (loop name lower-case, index, is a resource loop)
        template = run.template
        raw = template.get("variables") or {}
        self._variables: dict[str, Any] = {}
        self._copies: dict[str, dict[str, Any]] = {}  # variable copy: each loop defines a variable (an array)
        if isinstance(raw, dict):
            for k, v in raw.items():
                if k.lower() == "copy" and copy_spec(v) is not None:
                    self._copies.update({str(loop["name"]).lower(): loop for loop in v})
                else:
                    self._variables[k.lower()] = v
        self._values: dict[str, Any] = {}
        self._expanding: list[str] = []
        self._functions: dict[str, tuple[list[Any], Any]] = {}
        for group in template.get("functions") or []:
            if isinstance(group, dict):
                for name, member in (group.get("members") or {}).items():
                    member = member if isinstance(member, dict) else {}
                    output = member.get("output") or {}
                    self._functions[f"{group.get('namespace', '')}.{name}".lower()] = (
                        member.get("parameters") or [], output.get("value"))

    # -- evaluation helpers ------------------------------------------------------------------------------------
    def value(self, raw: Any) -> Any:
        """Evaluate a template JSON value: expressions in strings and keys, and property/variable `copy`."""
        return self._walk(raw, Evaluator(self))

    def _walk(self, raw: Any, ev: Evaluator) -> Any:
        if isinstance(raw, str):
            return ev.evaluate_text(expression_text(raw)) if is_expression(raw) else unescape(raw)
        if isinstance(raw, list):
            return [self._walk(item, ev) for item in raw]
        if not isinstance(raw, dict):
            return raw
        out: dict[str, Any] = {}
        loops = None
        for key, item in raw.items():
            if key.lower() == "copy" and (spec := copy_spec(item)) is not None:
                loops = spec
                continue
            name = self._walk(key, ev)
            if not isinstance(name, str):
                raise InvalidTemplateError(f"The template language expression '{key}' in a property name must "
                                           "evaluate to a string.")
            out[name] = self._walk(item, ev)
        for loop in loops or []:
            name = self._walk(loop["name"], ev)
            items = []
            for i in range(self.count(loop.get("count"), ev)):
                with self.loop(str(name), i):
                    items.append(self._walk(loop["input"], ev))
            out[str(name)] = items
        return out

    def count(self, raw: Any, ev: Evaluator | None = None) -> int:
        saved, self.allow_runtime = self.allow_runtime, False  # a count must be known before deployment
        try:
            n = self._walk(raw, ev or Evaluator(self))
        finally:
            self.allow_runtime = saved
        if not is_int(n) or not 0 <= n <= MAX_COPY:
            raise InvalidTemplateError(f"The copy count must be a non-negative integer up to {MAX_COPY}; it is "
                                       f"'{n}'.")
        return n

    @contextmanager
    def loop(self, name: str | None, index: int, resource: bool = False) -> Iterator[None]:
        self.loops.append(((name or "").lower(), index, resource))
        try:
            yield
        finally:
            self.loops.pop()

    @contextmanager
    def phase(self, runtime_allowed: bool, loops: list[tuple[str, int, bool]] | None = None) -> Iterator[None]:
        saved = (self.allow_runtime, self.loops)
        self.allow_runtime = runtime_allowed
        if loops is not None:
            self.loops = list(loops)
        try:
            yield
        finally:
            self.allow_runtime, self.loops = saved

    # -- values the template defines -----------------------------------------------------------------------------
    def parameter(self, name: str) -> Any:
        if self.outer is not None:
            return self.outer.parameter(name)
        return self.run.parameters.get(name, self)

    def variable(self, name: str) -> Any:
        if self.outer is not None:
            return self.outer.variable(name)
        key = name.lower()
        if key in self._values:
            return self._values[key]
        if key not in self._variables and key not in self._copies:
            raise variable_not_found(name)
        if key in self._expanding:
            raise InvalidTemplateError(f"The template variable '{name}' is defined in a cycle: "
                                       f"{' -> '.join([*self._expanding, key])}.")
        self._expanding.append(key)
        try:
            with self.phase(False, []):  # variables never see reference() or a resource's copy index
                if key in self._copies:
                    value = self.value({"copy": [self._copies[key]]})
                    value = next(iter(value.values()))
                else:
                    value = self.value(self._variables[key])
        finally:
            self._expanding.pop()
        self._values[key] = value
        return value

    def copy_index(self, loop: str | None) -> int:
        for name, index, resource in reversed(self.loops):
            if (loop is None and resource) or (loop is not None and name == loop.lower()):
                return index
        if loop is None:
            raise not_expected("copyIndex", "The function can only be used in a resource with copy specified.")
        raise InvalidTemplateError(f"The template copy '{loop}' is not found. Please see "
                                   "https://aka.ms/arm-copy for usage details.")

    def user_function(self, namespace: str, name: str) -> tuple[list[Any], Any]:
        if self.outer is not None:
            return self.outer.user_function(namespace, name)
        found = self._functions.get(f"{namespace}.{name}".lower())
        if found is None:
            raise function_not_valid(f"{namespace}.{name}")
        return found

    # -- deployment and scope ------------------------------------------------------------------------------------
    def resource_group(self) -> dict[str, Any]:
        if self.outer is not None:
            return self.outer.resource_group()
        if self.current_resource_group is None:
            return super().resource_group()
        return runtime.resource_group_doc(self.run.ctx, self.run.target)

    def subscription(self) -> dict[str, Any]:
        if self.outer is not None:
            return self.outer.subscription()
        return runtime.subscription_doc(self.run.ctx, self.run.target.subscription_id)

    def tenant(self) -> dict[str, Any]:
        return runtime.tenant_doc(self.run.ctx, self.run.target.subscription_id)

    def deployment(self) -> dict[str, Any]:
        if self.outer is not None:
            return self.outer.deployment()
        return self.run.deployment_function()

    def deployer(self) -> dict[str, Any]:
        return runtime.deployer_doc(self.run.ctx)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.run.ctx.now, UTC)

    # -- runtime state -------------------------------------------------------------------------------------------
    def _runtime(self, function: str) -> None:
        if not self.allow_runtime:
            raise not_expected(function, "The function can only be used in resource properties and outputs.")

    def reference(self, target: str, api_version: str | None, full: bool) -> Any:
        self._runtime("reference")
        return self.run.reference(target, api_version, full)

    def references(self, target: str, full: bool) -> list[Any]:
        self._runtime("references")
        return self.run.references(target, full)

    def providers(self, namespace: str, resource_type: str | None) -> Any:
        """ARM's (deprecated) `providers()`: a type's API versions, newest first, and its locations by display
        name, from Azure's provider catalogue; without a type, every type of the namespace."""
        ns = provider_data.namespace(namespace)
        if ns is None:
            raise invalid_template(f"The resource namespace '{namespace}' is invalid.")
        if resource_type is None:
            return {"namespace": ns, "resourceTypes": [_provider_type(t) for t in provider_data.types_of(ns)]}
        found = provider_data.resource_type(ns, resource_type)
        if found is None:
            raise invalid_template(f"The resource type '{resource_type}' could not be found in the namespace '{ns}'.")
        return _provider_type(found)

    def list_call(self, function_name: str, target: str, api_version: str, body: Any) -> Any:
        self._runtime(function_name)
        return self.run.list_call(function_name, target, api_version, body)
