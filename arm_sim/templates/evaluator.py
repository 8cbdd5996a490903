"""Evaluate expression ASTs against an `EvalContext`, and expand whole JSON values (`expand`).

Function arguments are evaluated left to right before the call, except for the lazy functions (`if`, `and`,
`or`, `coalesce`, `lambda`), which evaluate only what they need — `if(true(), 1, fail('x'))` never fails.
Lambda variables and user-defined-function parameters live on the evaluator, not the context, so the
context stays the deployment's business only.
"""

from __future__ import annotations

from typing import Any

from arm_sim.templates.calls import Call, arity_error
from arm_sim.templates.context import EvalContext
from arm_sim.templates.errors import InvalidTemplateError
from arm_sim.templates.functions_resource import LIST_SPEC
from arm_sim.templates.nodes import FunctionCall, IndexAccess, IntLiteral, MemberAccess, Node, StringLiteral
from arm_sim.templates.parser import expression_text, is_expression, parse, unescape
from arm_sim.templates.registry import lookup
from arm_sim.templates.values import LambdaValue, get_member, is_int, type_name

_MAX_UDF_DEPTH = 32
_UDF_PARAMETER_TYPES = {
    "string": str, "securestring": str, "int": int, "bool": bool, "object": dict, "secureobject": dict, "array": list,
}  # fmt: skip


class Evaluator:
    """One evaluation session over a context. Cheap to create; not thread-safe."""

    def __init__(self, ctx: EvalContext) -> None:
        self.ctx = ctx
        self.lambda_vars: dict[str, Any] = {}
        self.udf_params: dict[str, Any] | None = None  # set while evaluating a user-defined function body
        self._udf_depth = 0

    # -- entry points --------------------------------------------------------------------------------------
    def evaluate_text(self, text: str) -> Any:
        """Evaluate expression text (the inside of `[...]`)."""
        try:
            return self._result(self.evaluate(parse(text)))
        except InvalidTemplateError as exc:
            if exc.expression is None:
                exc.expression = text
            raise

    def expand(self, value: Any) -> Any:
        """Evaluate every expression string in a JSON value, object keys included; unescape `[[`."""
        if isinstance(value, str):
            if is_expression(value):
                return self.evaluate_text(expression_text(value))
            return unescape(value)
        if isinstance(value, dict):
            result: dict[str, Any] = {}
            for key, item in value.items():
                new_key = self.expand(key)
                if not isinstance(new_key, str):
                    raise InvalidTemplateError(
                        f"The template language expression '{key}' in a property name must evaluate to a string; "
                        f"it evaluated to a value of type '{type_name(new_key)}'."
                    )
                result[new_key] = self.expand(item)
            return result
        if isinstance(value, list):
            return [self.expand(item) for item in value]
        return value

    # -- nodes ---------------------------------------------------------------------------------------------
    def evaluate(self, node: Node) -> Any:
        if isinstance(node, FunctionCall):
            return self.call(node)
        if isinstance(node, StringLiteral | IntLiteral):
            return node.value
        if isinstance(node, MemberAccess):
            return self.member(self.evaluate(node.target), node.name, node.offset)
        if isinstance(node, IndexAccess):
            return self.index(self.evaluate(node.target), self.evaluate(node.index), node.offset)
        raise TypeError(f"not an expression node: {node!r}")

    def member(self, target: Any, name: str, offset: int) -> Any:
        if isinstance(target, dict):
            found, value = get_member(target, name)
            if not found:
                available = ", ".join(target.keys())
                raise InvalidTemplateError(
                    f"The language expression property '{name}' doesn't exist, available properties are '{available}'.",
                    position=offset,
                )
            return value
        raise InvalidTemplateError(
            f"The language expression property '{name}' can't be evaluated: the value is of type "
            f"'{type_name(target)}', not 'Object'.",
            position=offset,
        )

    def index(self, target: Any, index: Any, offset: int) -> Any:
        if isinstance(target, list):
            if not is_int(index):
                raise InvalidTemplateError(
                    f"The language expression array index '{index}' is not valid: an array index must be an "
                    f"integer, not of type '{type_name(index)}'.",
                    position=offset,
                )
            if not 0 <= index < len(target):
                raise InvalidTemplateError(
                    f"The language expression property array index '{index}' is out of bounds.", position=offset
                )
            return target[index]
        if isinstance(target, dict):
            if not isinstance(index, str):
                raise InvalidTemplateError(
                    f"The language expression property '{index}' can't be evaluated, property name must be a string.",
                    position=offset,
                )
            return self.member(target, index, offset)
        raise InvalidTemplateError(
            f"The language expression property '{index}' can't be evaluated: the value is of type "
            f"'{type_name(target)}', not 'Array' or 'Object'.",
            position=offset,
        )

    def call(self, node: FunctionCall) -> Any:
        if node.namespace is not None:
            return self.call_user_function(node)
        spec = lookup(node.name)
        name = spec.name if spec else node.name
        if spec is None:
            if not node.name.lower().startswith("list"):
                raise InvalidTemplateError(
                    f"The template function '{node.name}' is not valid. Please see https://aka.ms/arm-functions "
                    "for usage details.",
                    position=node.offset,
                )
            spec = LIST_SPEC  # listKeys, listSecrets, listAccountSas… are one generic POST to the resource
        count = len(node.args)
        if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
            raise arity_error(name, spec.min_args, spec.max_args, count, node.offset)
        call = Call(self, name, node, spec.max_args)
        if spec.lazy:
            return self._invoke(spec.impl, call, node.args)
        args = [self.evaluate(arg) for arg in node.args]
        return self._invoke(spec.impl, call, args)

    def _invoke(self, impl: Any, call: Call, args: Any) -> Any:
        try:
            return impl(call, args)
        except InvalidTemplateError as exc:
            if exc.position is None:
                exc.position = call.node.offset
            raise
        except (ValueError, OverflowError, ZeroDivisionError) as exc:
            # .NET would throw FormatException/OverflowException here; ARM reports it as InvalidTemplate.
            raise call.fail(str(exc)) from exc

    # -- lambdas and user-defined functions ------------------------------------------------------------------
    def apply_lambda(self, fn: LambdaValue, args: list[Any]) -> Any:
        """Evaluate a lambda body with its parameters bound (extra trailing args, like an index, may be unused)."""
        saved = self.lambda_vars
        self.lambda_vars = {**fn.captured, **{p.lower(): a for p, a in zip(fn.params, args, strict=False)}}
        try:
            return self._result(self.evaluate(fn.body))
        finally:
            self.lambda_vars = saved

    def call_user_function(self, node: FunctionCall) -> Any:
        assert node.namespace is not None
        params, output = self.ctx.user_function(node.namespace, node.name)
        if len(node.args) != len(params):
            raise arity_error(node.display_name, len(params), len(params), len(node.args), node.offset)
        args = [self._result(self.evaluate(arg)) for arg in node.args]
        bound: dict[str, Any] = {}
        for i, (decl, value) in enumerate(zip(params, args, strict=True)):
            pname = decl if isinstance(decl, str) else str(decl.get("name", f"p{i}"))
            ptype = None if isinstance(decl, str) else str(decl.get("type", "")).lower()
            expected = _UDF_PARAMETER_TYPES.get(ptype or "")
            wrong_int = expected is int and isinstance(value, bool)
            nullable = value is None and not isinstance(decl, str) and decl.get("nullable") is True
            if expected is not None and not nullable and (not isinstance(value, expected) or wrong_int):
                raise InvalidTemplateError(
                    f"The template function '{node.display_name}' expects its parameter '{pname}' to be of type "
                    f"'{ptype}'. The provided value is of type '{type_name(value)}'.",
                    position=node.offset,
                )
            bound[pname.lower()] = value
        if self._udf_depth >= _MAX_UDF_DEPTH:
            raise InvalidTemplateError(
                f"The template function '{node.display_name}' recurses too deeply.", position=node.offset
            )
        saved = (self.lambda_vars, self.udf_params)
        self.lambda_vars, self.udf_params = {}, bound
        self._udf_depth += 1
        try:
            return self.expand(output)
        finally:
            self.lambda_vars, self.udf_params = saved
            self._udf_depth -= 1

    @staticmethod
    def _result(value: Any) -> Any:
        if isinstance(value, LambdaValue):
            raise InvalidTemplateError(
                "A lambda expression can only be used as an argument of filter, map, reduce, sort, toObject, "
                "groupBy or mapValues."
            )
        return value


def evaluate(node_or_text: Node | str, ctx: EvalContext) -> Any:
    """Evaluate a parsed node, or expression text (the inside of `[...]`)."""
    ev = Evaluator(ctx)
    if isinstance(node_or_text, str):
        return ev.evaluate_text(node_or_text)
    return ev._result(ev.evaluate(node_or_text))


def expand(value: Any, ctx: EvalContext) -> Any:
    """Evaluate every expression in a JSON value (strings and object keys); `[[` unescapes to `[`."""
    return Evaluator(ctx).expand(value)
