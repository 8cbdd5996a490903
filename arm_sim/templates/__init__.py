"""The ARM template expression language, pure: parser, AST, evaluator and the built-in functions.

Imports only the standard library and `arm_sim.core`. The deployment engine drives it through an
`EvalContext` subclass:

    from arm_sim.templates import EvalContext, expand
    value = expand(template_json_value, MyContext(...))
"""

from arm_sim.templates.analysis import calls_any, is_runtime_function, iter_calls, runtime_calls
from arm_sim.templates.context import DEPLOYMENT_SCOPES, EvalContext, azure_cloud_environment
from arm_sim.templates.errors import InvalidTemplateError, not_expected, not_implemented
from arm_sim.templates.evaluator import Evaluator, evaluate, expand
from arm_sim.templates.parser import expression_text, is_expression, parse, unescape
from arm_sim.templates.registry import function_names
from arm_sim.templates.static_context import StaticContext

__all__ = [
    "DEPLOYMENT_SCOPES",
    "EvalContext",
    "Evaluator",
    "InvalidTemplateError",
    "StaticContext",
    "azure_cloud_environment",
    "calls_any",
    "evaluate",
    "expand",
    "expression_text",
    "function_names",
    "is_expression",
    "is_runtime_function",
    "iter_calls",
    "not_expected",
    "not_implemented",
    "parse",
    "runtime_calls",
    "unescape",
]
