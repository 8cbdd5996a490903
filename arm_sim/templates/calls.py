"""What every template function implementation is given, and how it declares itself.

An eager function receives its evaluated arguments; a lazy one (`if`, `and`, `or`, `coalesce`, `lambda`…)
receives the argument nodes and evaluates only what it needs, which is how ARM short-circuits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from arm_sim.templates.errors import InvalidTemplateError
from arm_sim.templates.values import is_int, type_name

if TYPE_CHECKING:
    from arm_sim.templates.context import EvalContext
    from arm_sim.templates.evaluator import Evaluator
    from arm_sim.templates.nodes import FunctionCall

_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


@dataclass(frozen=True)
class FunctionSpec:
    """A built-in function: its canonical name, arity (max None = any number) and implementation."""

    name: str
    impl: Callable[..., Any]
    min_args: int = 0
    max_args: int | None = None
    lazy: bool = False


def spec(name: str, impl: Callable[..., Any], min_args: int = 0, max_args: int | None = -1,
         lazy: bool = False) -> FunctionSpec:
    """Shorthand: `max_args=-1` (the default) means exactly `min_args`; None means unbounded."""
    return FunctionSpec(name, impl, min_args, min_args if max_args == -1 else max_args, lazy)


class Call:
    """One invocation: the evaluator (for context and lambdas), the function's name and its call node."""

    __slots__ = ("ev", "name", "node", "max_args")

    def __init__(self, ev: Evaluator, name: str, node: FunctionCall, max_args: int | None) -> None:
        self.ev = ev
        self.name = name
        self.node = node
        self.max_args = max_args

    @property
    def ctx(self) -> EvalContext:
        return self.ev.ctx

    def fail(self, detail: str) -> InvalidTemplateError:
        """ARM's generic evaluation failure for this function."""
        return InvalidTemplateError(
            f"Unable to evaluate template language function '{self.name}': {detail}", position=self.node.offset
        )

    def type_error(self, index: int, expected: str, value: Any) -> InvalidTemplateError:
        which = "parameter" if self.max_args == 1 else f"{_ORDINALS[min(index, 9)]} parameter"
        return InvalidTemplateError(
            f"The template language function '{self.name}' expects its {which} to be of type '{expected}'. "
            f"The provided value is of type '{type_name(value)}'.",
            position=self.node.offset,
        )

    # -- typed argument access: raise ARM's type error when the value is not what the function takes --
    def str_arg(self, args: list[Any], index: int) -> str:
        value = args[index]
        if not isinstance(value, str):
            raise self.type_error(index, "String", value)
        return value

    def int_arg(self, args: list[Any], index: int) -> int:
        value = args[index]
        if not is_int(value):
            raise self.type_error(index, "Integer", value)
        return value

    def bool_arg(self, args: list[Any], index: int) -> bool:
        value = args[index]
        if not isinstance(value, bool):
            raise self.type_error(index, "Boolean", value)
        return value

    def array_arg(self, args: list[Any], index: int) -> list[Any]:
        value = args[index]
        if not isinstance(value, list):
            raise self.type_error(index, "Array", value)
        return value

    def object_arg(self, args: list[Any], index: int) -> dict[str, Any]:
        value = args[index]
        if not isinstance(value, dict):
            raise self.type_error(index, "Object", value)
        return value


def arity_error(name: str, min_args: int, max_args: int | None, given: int, offset: int) -> InvalidTemplateError:
    """ARM's wording for a call with the wrong number of arguments."""
    if max_args == min_args:
        wanted = f"{min_args} argument(s)"
    elif max_args is None:
        wanted = f"at least {min_args} argument(s)"
    else:
        wanted = f"{min_args} to {max_args} argument(s)"
    return InvalidTemplateError(
        f"Unable to evaluate template language function '{name}': function requires {wanted} while {given} were "
        "provided. Please see https://aka.ms/arm-functions for usage details.",
        position=offset,
    )
