"""What ARM checks in an expression before evaluating it: every `parameters('x')`/`variables('x')` with a literal
name names a declared one, every function exists (a built-in, a `list*` action, or one of the template's own
`namespace.member` functions) and every call passes a number of arguments the function takes.

Pure and static: nothing is evaluated, so an expression that reads runtime state (`reference()`) is checked as
well as any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from arm_sim.templates.analysis import iter_nodes_calls
from arm_sim.templates.calls import arity_error
from arm_sim.templates.errors import InvalidTemplateError
from arm_sim.templates.functions_resource import LIST_SPEC
from arm_sim.templates.nodes import FunctionCall, Node, StringLiteral
from arm_sim.templates.registry import lookup

PARAMETERS_HELP = "Please see https://aka.ms/arm-syntax-parameters for usage details."
VARIABLES_HELP = "Please see https://aka.ms/arm-syntax-variables for usage details."
FUNCTIONS_HELP = "Please see https://aka.ms/arm-functions for usage details."


def parameter_not_found(name: str, position: int | None = None) -> InvalidTemplateError:
    return InvalidTemplateError(f"The template parameter '{name}' is not found. {PARAMETERS_HELP}", position=position)


def variable_not_found(name: str, position: int | None = None) -> InvalidTemplateError:
    return InvalidTemplateError(f"The template variable '{name}' is not found. {VARIABLES_HELP}", position=position)


def function_not_valid(name: str, position: int | None = None) -> InvalidTemplateError:
    """ARM's words for a function it does not know (as the ARM expression library says them)."""
    return InvalidTemplateError(f"The template function '{name}' is not valid. {FUNCTIONS_HELP}", position=position)


@dataclass(frozen=True)
class Declarations:
    """What a template declares, case-folded: parameter and variable names, and its user-defined functions
    ('namespace.member' -> number of parameters). None: not checked here (a function body may not read
    variables; its evaluation says so)."""

    parameters: frozenset[str] | None
    variables: frozenset[str] | None
    functions: Mapping[str, int] = field(default_factory=dict)


def check(tree: Node, declared: Declarations) -> None:
    """Raise ARM's InvalidTemplate for the first undefined name, unknown function or wrong arity in `tree`."""
    for call in iter_nodes_calls(tree):
        if call.namespace is not None:
            _user_function(call, declared)
            continue
        spec = lookup(call.name)
        if spec is None:
            if not call.name.lower().startswith("list"):
                raise function_not_valid(call.name, call.offset)
            spec = LIST_SPEC
        count = len(call.args)
        if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
            raise arity_error(spec.name if spec is not LIST_SPEC else call.name, spec.min_args, spec.max_args,
                              count, call.offset)
        _named(call, spec.name.lower(), declared)


def _user_function(call: FunctionCall, declared: Declarations) -> None:
    arity = declared.functions.get(call.display_name.lower())
    if arity is None:
        raise function_not_valid(call.display_name, call.offset)
    if len(call.args) != arity:
        raise arity_error(call.display_name, arity, arity, len(call.args), call.offset)


def _named(call: FunctionCall, name: str, declared: Declarations) -> None:
    """`parameters('x')` and `variables('x')` whose name is a literal must name something declared."""
    if name not in ("parameters", "variables") or not call.args or not isinstance(call.args[0], StringLiteral):
        return
    wanted = call.args[0].value
    if name == "parameters":
        if declared.parameters is not None and wanted.lower() not in declared.parameters:
            raise parameter_not_found(wanted, call.offset)
    elif declared.variables is not None and wanted.lower() not in declared.variables:
        raise variable_not_found(wanted, call.offset)
