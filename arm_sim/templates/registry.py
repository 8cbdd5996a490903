"""The built-in function table: an explicit tuple per category, merged into one case-insensitive lookup.

Function names are case-insensitive in ARM (`tolower`, `uniquestring` appear in real templates).
"""

from __future__ import annotations

from arm_sim.templates import (
    functions_array,
    functions_cidr,
    functions_date,
    functions_encoding,
    functions_lambda,
    functions_logical,
    functions_numeric,
    functions_object,
    functions_resource,
    functions_scope,
    functions_string,
)
from arm_sim.templates.calls import FunctionSpec

_MODULES = (
    functions_array,
    functions_cidr,
    functions_date,
    functions_encoding,
    functions_lambda,
    functions_logical,
    functions_numeric,
    functions_object,
    functions_resource,
    functions_scope,
    functions_string,
)


def _build() -> dict[str, FunctionSpec]:
    table: dict[str, FunctionSpec] = {}
    for module in _MODULES:
        for function in module.FUNCTIONS:
            key = function.name.lower()
            if key in table:
                raise RuntimeError(f"template function {function.name!r} is defined twice")
            table[key] = function
    return table


FUNCTIONS: dict[str, FunctionSpec] = _build()


def lookup(name: str) -> FunctionSpec | None:
    return FUNCTIONS.get(name.lower())


def function_names() -> list[str]:
    """Every built-in function's canonical name (list* functions are dispatched dynamically, not listed)."""
    return sorted(spec.name for spec in FUNCTIONS.values())
