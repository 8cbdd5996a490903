"""`StaticContext`: an `EvalContext` over plain dictionaries — for tests, tools and as a worked example of
subclassing. Variables may themselves hold expressions: they are expanded lazily, once, with cycles detected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from arm_sim.templates.context import EvalContext
from arm_sim.templates.errors import InvalidTemplateError

_V = TypeVar("_V")


def _folded(values: dict[str, _V] | None) -> dict[str, _V]:
    """Template names (parameters, variables…) are case-insensitive."""
    return {k.lower(): v for k, v in (values or {}).items()}


class StaticContext(EvalContext):
    """Everything from dictionaries. Unset facts keep the base class's "not expected here" error.

    `resources` maps a resource id or name (case-insensitive) to its full GET body; `reference()` answers its
    `properties` (or the whole body with 'Full'). `list_results` maps (functionName, target) to an answer.
    `functions` maps 'namespace.name' to (parameter declarations, output value).
    """

    def __init__(
        self,
        *,
        parameters: dict[str, Any] | None = None,
        variables: dict[str, Any] | None = None,
        copy_indexes: dict[str | None, int] | None = None,
        resource_group: dict[str, Any] | None = None,
        subscription: dict[str, Any] | None = None,
        tenant: dict[str, Any] | None = None,
        management_group: dict[str, Any] | None = None,
        deployment: dict[str, Any] | None = None,
        deployer: dict[str, Any] | None = None,
        resources: dict[str, Any] | None = None,
        list_results: dict[tuple[str, str], Any] | None = None,
        functions: dict[str, tuple[list[Any], Any]] | None = None,
        **scope: Any,
    ) -> None:
        if subscription and "subscription_id" not in scope:
            scope["subscription_id"] = subscription.get("subscriptionId")
        if resource_group and "resource_group" not in scope:
            scope["resource_group"] = resource_group.get("name")
        super().__init__(**scope)
        self._parameters = _folded(parameters)
        self._variables = _folded(variables)
        self._expanded: dict[str, Any] = {}
        self._expanding: list[str] = []
        self._copy_indexes = {(k.lower() if k else None): v for k, v in (copy_indexes or {}).items()}
        self._facts = {
            "resourceGroup": resource_group, "subscription": subscription, "tenant": tenant,
            "managementGroup": management_group, "deployment": deployment, "deployer": deployer,
        }  # fmt: skip
        self._resources = _folded(resources)
        self._list_results = {(f.lower(), t.lower()): v for (f, t), v in (list_results or {}).items()}
        self._functions = _folded(functions)

    def parameter(self, name: str) -> Any:
        if name.lower() not in self._parameters:
            raise InvalidTemplateError(
                f"The template parameter '{name}' is not found. Please see https://aka.ms/arm-syntax-parameters "
                "for usage details."
            )
        return self._parameters[name.lower()]

    def variable(self, name: str) -> Any:
        key = name.lower()
        if key in self._expanded:
            return self._expanded[key]
        if key not in self._variables:
            raise InvalidTemplateError(
                f"The template variable '{name}' is not found. Please see https://aka.ms/arm-syntax-variables for "
                "usage details."
            )
        if key in self._expanding:
            cycle = " -> ".join([*self._expanding, key])
            raise InvalidTemplateError(f"The template variable '{name}' is defined in a cycle: {cycle}.")
        from arm_sim.templates.evaluator import expand  # local: the evaluator imports this module's base

        self._expanding.append(key)
        try:
            value = expand(self._variables[key], self)
        finally:
            self._expanding.pop()
        self._expanded[key] = value
        return value

    def copy_index(self, loop: str | None) -> int:
        key = loop.lower() if loop else None
        if key not in self._copy_indexes:
            return super().copy_index(loop)
        return self._copy_indexes[key]

    def _fact(self, name: str) -> dict[str, Any]:
        value = self._facts[name]
        if value is None:
            hook: Callable[[], dict[str, Any]] = getattr(super(), _HOOKS[name])
            return hook()
        return value

    def resource_group(self) -> dict[str, Any]:
        return self._fact("resourceGroup")

    def subscription(self) -> dict[str, Any]:
        return self._fact("subscription")

    def tenant(self) -> dict[str, Any]:
        return self._fact("tenant")

    def management_group(self) -> dict[str, Any]:
        return self._fact("managementGroup")

    def deployment(self) -> dict[str, Any]:
        return self._fact("deployment")

    def deployer(self) -> dict[str, Any]:
        return self._fact("deployer")

    def reference(self, target: str, api_version: str | None, full: bool) -> Any:
        resource = self._resources.get(target.lower())
        if resource is None:
            raise InvalidTemplateError(f"The resource '{target}' is not defined in the template.")
        return resource if full else resource.get("properties", {})

    def references(self, target: str, full: bool) -> list[Any]:
        items = self._resources.get(target.lower())
        if not isinstance(items, list):
            raise InvalidTemplateError(f"The resource collection '{target}' is not defined in the template.")
        return [item if full else item.get("properties", {}) for item in items]

    def list_call(self, function_name: str, target: str, api_version: str, body: Any) -> Any:
        key = (function_name.lower(), target.lower())
        if key not in self._list_results:
            return super().list_call(function_name, target, api_version, body)
        return self._list_results[key]

    def user_function(self, namespace: str, name: str) -> tuple[list[Any], Any]:
        found = self._functions.get(f"{namespace}.{name}".lower())
        if found is None:
            raise InvalidTemplateError(f"The template function '{namespace}.{name}' is not defined.")
        return found


_HOOKS = {
    "resourceGroup": "resource_group", "subscription": "subscription", "tenant": "tenant",
    "managementGroup": "management_group", "deployment": "deployment", "deployer": "deployer",
}  # fmt: skip
