"""Inline nested templates are validated with the template that holds them, before anything deploys: every
expression's names, functions and arities, against the nested template's own declarations (`inner` scope) or
its parent's (`outer`, the default, where the parent evaluates them). A linked template is fetched, and checked,
when its deployment runs."""

from __future__ import annotations

from typing import Any

from arm_sim.core.jsonc import Path
from arm_sim.deployments.errors import Source
from arm_sim.deployments.names import check_sections, check_value, declarations, plain
from arm_sim.deployments.store import DEPLOYMENT_TYPE
from arm_sim.templates.checks import Declarations


def _get(value: dict[str, Any], name: str) -> tuple[str, Any]:
    return next(((k, v) for k, v in value.items() if k.lower() == name.lower()), (name, None))


def check(properties: dict[str, Any], path: Path, source: Source, declared: Declarations) -> None:
    """`properties` of a Microsoft.Resources/deployments resource at `path`: its inline template, if any."""
    key, template = _get(properties, "template")
    if not isinstance(template, dict):
        return
    options = _get(properties, "expressionEvaluationOptions")[1]
    scope = options.get("scope") if isinstance(options, dict) else None
    inner = isinstance(scope, str) and scope.lower() == "inner"
    check_template(template, (*path, key), source, declarations(template) if inner else declared)


def check_template(template: dict[str, Any], base: Path, source: Source, declared: Declarations) -> None:
    check_sections(template, source, declared, base, nested=True)
    resources = template.get("resources")
    items = resources.items() if isinstance(resources, dict) else enumerate(resources or [])
    for key, decl in items:
        _resource(decl, (*base, "resources", key), source, declared)


def _resource(decl: Any, path: Path, source: Source, declared: Declarations) -> None:
    if not isinstance(decl, dict):
        return
    is_deployment = str(decl.get("type", "")).lower() == DEPLOYMENT_TYPE.lower()
    for key, value in decl.items():
        if key.lower() == "resources" and isinstance(value, list):
            for j, child in enumerate(value):
                _resource(child, (*path, key, j), source, declared)
            continue
        if is_deployment and key.lower() == "properties" and isinstance(value, dict):
            check(value, (*path, key), source, declared)
            value = {k: v for k, v in value.items() if k.lower() != "template"}
        check_value(value, (*path, key), declared, plain(source))
