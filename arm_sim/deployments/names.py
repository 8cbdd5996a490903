"""What a template declares (parameters, variables, functions) and the check of its expressions against it:
undefined names, unknown functions and wrong arities, each reported where it is (templates/checks.py says what is
checked)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from arm_sim.core.errors import DomainError
from arm_sim.core.jsonc import Path
from arm_sim.deployments import errors
from arm_sim.deployments.context import copy_spec
from arm_sim.deployments.errors import Source
from arm_sim.templates import InvalidTemplateError, expression_text, is_expression, parse
from arm_sim.templates.checks import Declarations, check

Fail = Callable[[InvalidTemplateError, Path], DomainError]


def _items(value: Any) -> list[tuple[Any, Any]]:
    return list(value.items()) if isinstance(value, dict) else []


def declarations(template: dict[str, Any]) -> Declarations:
    """The names a template declares: parameters, variables (each variable copy loop is one) and functions."""
    variables: set[str] = set()
    for name, value in _items(template.get("variables")):
        loops = copy_spec(value) if name.lower() == "copy" else None
        if loops:
            variables.update(str(loop["name"]).lower() for loop in loops)
        else:
            variables.add(name.lower())
    functions: dict[str, int] = {}
    groups = template.get("functions")
    for group in groups if isinstance(groups, list) else []:
        for name, member in _items(group.get("members") if isinstance(group, dict) else None):
            declared = member.get("parameters") if isinstance(member, dict) else None
            functions[f"{group.get('namespace', '')}.{name}".lower()] = len(declared or [])
    parameters = frozenset(str(k).lower() for k, _ in _items(template.get("parameters")))
    return Declarations(parameters, frozenset(variables), functions)


def expressions(value: Any, path: Path) -> Iterator[tuple[str, Path]]:
    """Every expression in a JSON value with the path of the string (or of the object whose key it is)."""
    if isinstance(value, str):
        if is_expression(value):
            yield expression_text(value), path
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and is_expression(key):
                yield expression_text(key), path
            yield from expressions(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from expressions(item, (*path, i))


def check_value(value: Any, path: Path, declared: Declarations, fail: Fail) -> None:
    for text, where in expressions(value, path):
        try:
            check(parse(text), declared)
        except InvalidTemplateError as e:
            raise fail(e, where) from None


def plain(source: Source) -> Fail:
    return lambda e, where: errors.plain(source, where, e.message)


def located(source: Source, what: str) -> Fail:
    """`The template {what} at line 'L' and column 'C' is not valid: …` (a parameter, a resource's field)."""
    return lambda e, where: errors.at(source, where, e.message, what=what, help_text=errors.EXPRESSIONS_HELP)


def check_sections(template: dict[str, Any], source: Source, declared: Declarations, base: Path = (),
                   nested: bool = False) -> None:
    """Names, functions and arities in user-defined functions, parameter defaults, variables and outputs. Inside a
    nested template every problem is reported plainly, with its place."""
    def section(what: str) -> Fail:
        return plain(source) if nested else (lambda e, where: errors.in_section(source, where, what, e.message))

    groups = template.get("functions")
    for gi, group in enumerate(groups if isinstance(groups, list) else []):
        for name, member in _items(group.get("members") if isinstance(group, dict) else None):
            if not isinstance(member, dict):
                continue
            own = frozenset(str(p.get("name", "")).lower() for p in member.get("parameters") or []
                            if isinstance(p, dict))  # a function body reads its own parameters only
            check_value((member.get("output") or {}).get("value"),
                        (*base, "functions", gi, "members", name, "output", "value"),
                        Declarations(own, None, declared.functions), plain(source))
    for name, decl in _items(template.get("parameters")):
        if isinstance(decl, dict) and "defaultValue" in decl:
            check_value(decl["defaultValue"], (*base, "parameters", name, "defaultValue"), declared,
                        plain(source) if nested else located(source, f"parameter '{name}'"))
    for name, value in _items(template.get("variables")):
        loops = copy_spec(value) if name.lower() == "copy" else None
        for i, loop in enumerate(loops or []):
            check_value(loop, (*base, "variables", name, i), declared, section(f"variable '{loop['name']}'"))
        if loops is None:
            check_value(value, (*base, "variables", name), declared, section(f"variable '{name}'"))
    for name, output in _items(template.get("outputs")):
        check_value(output, (*base, "outputs", name), declared, section(f"output '{name}'"))
