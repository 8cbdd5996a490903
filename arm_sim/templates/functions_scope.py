"""Scope and deployment-value functions: resourceGroup, subscription, tenant, managementGroup, deployment,
environment, deployer, parameters, variables. All of them ask the context, which knows where it evaluates.
"""

from __future__ import annotations

from typing import Any

from arm_sim.templates.calls import Call, spec
from arm_sim.templates.errors import InvalidTemplateError, not_expected

_UDF_LIMIT = "User-defined functions can only use their own parameters."


def _parameters(call: Call, args: list[Any]) -> Any:
    name = call.str_arg(args, 0)
    params = call.ev.udf_params
    if params is None:
        return call.ctx.parameter(name)
    if name.lower() not in params:
        # Inside a user-defined function only its own parameters exist.
        raise InvalidTemplateError(
            f"The template parameter '{name}' is not found. {_UDF_LIMIT} Please see "
            "https://aka.ms/arm-syntax-parameters for usage details."
        )
    return params[name.lower()]


def _variables(call: Call, args: list[Any]) -> Any:
    name = call.str_arg(args, 0)
    if call.ev.udf_params is not None:
        raise not_expected("variables", _UDF_LIMIT)
    return call.ctx.variable(name)


FUNCTIONS = (
    spec("parameters", _parameters, 1),
    spec("variables", _variables, 1),
    spec("resourceGroup", lambda call, args: call.ctx.resource_group(), 0),
    spec("subscription", lambda call, args: call.ctx.subscription(), 0),
    spec("tenant", lambda call, args: call.ctx.tenant(), 0),
    spec("managementGroup", lambda call, args: call.ctx.management_group(), 0),
    spec("deployment", lambda call, args: call.ctx.deployment(), 0),
    spec("environment", lambda call, args: call.ctx.environment(), 0),
    spec("deployer", lambda call, args: call.ctx.deployer(), 0),
)
