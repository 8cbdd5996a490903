"""One deployment run: prepare (parameters, expansion, dependency order), then execute, then record.

`prepare` does everything ARM does before the first resource deploys (deployments/validation.py); any problem is
a synchronous 400 (`InvalidTemplate`, or what ARM's preflight says). `execute` (deployments/execute.py) deploys
in order, each resource in a savepoint.
The `Run` also answers the deployment-side hooks of its `DeploymentContext` (reference, list*, deployment()).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from arm_sim.core import ids
from arm_sim.core.errors import DomainError
from arm_sim.db.models import Deployment
from arm_sim.deployments import errors, graph, keyvault_refs, runtime, validation
from arm_sim.deployments.context import DeploymentContext
from arm_sim.deployments.errors import Source
from arm_sim.deployments.expand import Expander, Plan, Planned
from arm_sim.deployments.parameters import Parameters
from arm_sim.deployments.request import DeploymentRequest
from arm_sim.deployments.store import Target
from arm_sim.domain.context import Ctx
from arm_sim.templates import InvalidTemplateError, expression_text, is_expression, parse

if TYPE_CHECKING:
    from arm_sim.deployments.whatif import WhatIf

_REQUIRED = ("$schema", "contentVersion", "resources")


def template_hash(template: Any) -> str:
    """A stable decimal uint64 of the minified template (ARM's own hash function is not public)."""
    minified = json.dumps(template, separators=(",", ":"), sort_keys=True)
    return str(int.from_bytes(hashlib.sha256(minified.encode()).digest()[:8], "little"))


def minified(template: Any) -> str:
    return json.dumps(template, separators=(",", ":"))


@dataclass
class Run:
    ctx: Ctx
    target: Target
    name: str
    request: DeploymentRequest
    parent: Run | None = None
    what_if: WhatIf | None = None
    parameters: Parameters = field(init=False)
    eval: DeploymentContext = field(init=False)
    plan: Plan = field(default_factory=Plan)
    order: list[Planned] = field(default_factory=list)
    record: Deployment | None = None
    status: dict[str, str] = field(default_factory=dict)  # plan key -> Succeeded | Failed | Blocked
    failures: list[dict[str, Any]] = field(default_factory=list)
    output_resources: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)  # keys of what this run and its nested runs deploy
    held: list[Any] = field(default_factory=list)  # rows kept in the identity map while the run writes
    operations: list[dict[str, Any]] = field(default_factory=list)  # properties of each operation, in order
    started: float = field(default_factory=time.perf_counter)

    @property
    def template(self) -> dict[str, Any]:
        return self.request.template

    @property
    def source(self) -> Source:
        return self.request.source

    @property
    def id(self) -> str:
        return self.target.deployment_id(self.name)

    @cached_property
    def hash(self) -> str:
        return template_hash(self.template)

    @property
    def outer(self) -> bool:
        return self.parent is not None and not self.request.inner_scope

    # -- prepare -------------------------------------------------------------------------------------------------
    def prepare(self) -> None:
        for prop in _REQUIRED:
            if prop not in self.template:
                raise errors.TemplateError(f"Deployment template validation failed: 'Required property '{prop}' not "
                                           "found in JSON. Path '', line 1, position 1.'.", line=1, column=1, path="")
        check_syntax(self.template, self.source)
        validation.check_names(self)
        self.eval = DeploymentContext(self, outer=self.parent.eval if self.outer and self.parent else None)
        supplied = {} if self.outer else self.request.parameters
        self.parameters = Parameters(self.template, supplied, self.source,
                                     lambda name, ref: keyvault_refs.resolve(self.ctx, name, ref))
        if not self.outer:
            self.parameters.resolve_all(self.eval)
        self.plan = Expander(self.eval, self.target, self.source).build(self.template.get("resources"))
        self.order = graph.link(self.plan, self.eval, self.source)
        self._check_outputs()
        validation.validate(self)

    def _check_outputs(self) -> None:
        outputs = self.template.get("outputs") or {}
        if not isinstance(outputs, dict):
            raise errors.at(self.source, ("outputs",), "The 'outputs' section must be an object", what="outputs")

    # -- what the context asks -------------------------------------------------------------------------------------
    def deployment_function(self) -> dict[str, Any]:
        props: dict[str, Any] = {"template": self.template, "templateHash": self.hash,
                                 "parameters": self.parameters.as_values(), "mode": self.request.mode,
                                 "provisioningState": "Running"}
        if self.request.template_link:
            props["templateLink"] = self.request.template_link
        doc: dict[str, Any] = {"name": self.name, "properties": props}
        if self.request.location:
            doc["location"] = self.request.location
        return doc

    def _find(self, target: str) -> list[Planned]:
        run: Run | None = self
        while run is not None:
            found = run.plan.find(target)
            if found:
                return found
            run = run.parent if run.outer else None  # an outer-scope template also sees its parent's resources
        return []

    def _resolve(self, target: str, api_version: str | None, function: str) -> tuple[str, str, bool]:
        found = self._find(target)
        if found:
            live = [p for p in found if p.existing or p.condition]
            if not live:
                raise InvalidTemplateError(f"The template resource '{target}' is not deployed: its condition is "
                                           "false. Guard the expression with if().")
            if len({ids.key(p.id) for p in live}) > 1:
                raise InvalidTemplateError(f"The template resource name '{target}' is ambiguous: use a resource id.")
            return live[0].id, api_version or live[0].api_version, True
        if not target.startswith("/"):
            raise InvalidTemplateError(f"The template reference '{target}' is not valid: could not find template "
                                       "resource or resource copy with this name. Please see "
                                       "https://aka.ms/arm-function-reference for usage details.")
        needs_version = not runtime.is_deployment(target) and bool(ids.parse(target).parts)
        if not api_version and needs_version:
            raise InvalidTemplateError(f"The '{function}' function requires an API version for the resource "
                                       f"'{target}', which is not defined in the template.")
        return target, api_version or "", False

    def reference(self, target: str, api_version: str | None, full: bool) -> Any:
        rid, api, in_template = self._resolve(target, api_version, "reference")
        return runtime.read(self.ctx, rid, api, full, in_template)

    def references(self, target: str, full: bool) -> list[Any]:
        run: Run | None = self
        while run is not None:
            items = run.plan.symbols.get(target.lower()) or run.plan.loops.get(target.lower())
            if items is not None:
                return [runtime.read(self.ctx, p.id, p.api_version, full, True) for p in items if p.deployable]
            run = run.parent if run.outer else None
        raise InvalidTemplateError(f"The template resource collection '{target}' is not defined in the template.")

    def list_call(self, function_name: str, target: str, api_version: str, body: Any) -> Any:
        rid, api, _ = self._resolve(target, api_version, function_name)
        return runtime.invoke(self.ctx, rid, function_name, api, body)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def check_syntax(value: Any, source: Source, path: tuple[str | int, ...] = ()) -> None:
    """ARM parses every expression before anything deploys: a syntax error anywhere is a 400 with its place."""
    if isinstance(value, str):
        if is_expression(value):
            try:
                parse(expression_text(value))
            except InvalidTemplateError as e:
                line, col = source.locate(path)
                raise errors.TemplateError(f"Deployment template language expression evaluation failed: '{e.message}'. "
                                           f"{errors.EXPRESSIONS_HELP}", line=line, column=col,
                                           path=source.path(path)) from None
    elif isinstance(value, dict):
        for k, v in value.items():
            check_syntax(k, source, path)
            check_syntax(v, source, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_syntax(v, source, (*path, i))


def fail_record_properties(run: Run, error: DomainError) -> dict[str, Any]:
    """What a nested deployment that could not even start records (its template was invalid)."""
    return {"mode": run.request.mode, "templateHash": run.hash, "correlationId": run.ctx.correlation_id,
            "error": error.body(), "outputs": {}, "outputResources": [], "parameters": {}}
