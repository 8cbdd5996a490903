"""Template validation before anything deploys (reference/arm-templates.md §2.8): ARM refuses, with a 400 and
nothing created, a template whose expressions name undefined parameters or variables, call functions that do not
exist or with the wrong number of arguments, whose variables or resource bodies fail to evaluate, or whose
resources its preflight refuses. Only what reads runtime state (`reference()`, `list*()`) waits for its
resource's turn, as in ARM: a body that calls them is checked for names only, never evaluated early.

Where a problem is, is how ARM words it: plainly with its place in `additionalInfo` ("Deployment template
validation failed: 'The template parameter 'x' is not found. …'."), in a resource's top-level fields as "The
template resource 'n' at line … is not valid: …", in its body as "Unable to process template language expressions
for resource '{id}' at line …", in a variable or output as "The template variable 'v' is not valid: …".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arm_sim.core.errors import DomainError
from arm_sim.core.jsonc import Path
from arm_sim.deployments import errors, nested, preflight
from arm_sim.deployments.context import copy_spec
from arm_sim.deployments.errors import Source
from arm_sim.deployments.graph import body_fields, runtime_fields
from arm_sim.deployments.names import Fail, check_sections, check_value, declarations, located, plain
from arm_sim.templates import InvalidTemplateError, runtime_calls
from arm_sim.templates.checks import Declarations

if TYPE_CHECKING:
    from arm_sim.deployments.engine import Run
    from arm_sim.deployments.expand import Planned

# a resource's fields ARM evaluates while expanding the template (errors name the resource as written)
TOP_LEVEL = frozenset({"type", "name", "apiversion", "location", "condition", "copy", "scope", "resourcegroup",
                       "subscriptionid", "existing", "comments"})


def declared_for(run: Run) -> Declarations:
    """An outer-scope nested template sees its parent's parameters, variables and functions."""
    return declared_for(run.parent) if run.outer and run.parent is not None else declarations(run.template)


def in_body(source: Source, p: Planned) -> Fail:
    return lambda e, where: errors.runtime(e, source, p.path, p.id, where)


def check_names(run: Run) -> None:
    """Before any value is resolved: functions, parameter defaults, variables and outputs."""
    check_sections(run.template, run.source, declared_for(run))


def check_resources(run: Run) -> None:
    """Every expression of every resource, once per declaration; a body only if some instance deploys (ARM never
    evaluates what a false condition skips)."""
    declared, source = declared_for(run), run.source
    instances: dict[Path, list[Planned]] = {}
    for p in run.plan.items:
        instances.setdefault(p.path, []).append(p)
    for path, items in instances.items():
        p = next((q for q in items if q.deployable), items[0])
        for key, value in p.decl.items():
            low = key.lower()
            fail: Fail
            if low == "resources":
                continue  # children are declarations of their own
            if low in TOP_LEVEL:
                fail = located(source, f"resource '{p.decl.get('name', '')}'")
            elif low == "dependson":
                fail = plain(source)
            elif not p.deployable:
                continue
            else:
                fail = in_body(source, p)
                if p.is_deployment and low == "properties" and isinstance(value, dict):
                    nested.check(value, (*path, key), source, declared)
                    value = {k: v for k, v in value.items() if k.lower() != "template"}
            check_value(value, (*path, key), declared, fail)


def evaluate_variables(run: Run) -> None:
    """ARM evaluates every variable before anything deploys; one that reads runtime state is left to where it is
    used (arm-sim reports it there)."""
    raw = run.template.get("variables")
    if run.outer or not isinstance(raw, dict):
        return
    for name, value in raw.items():
        loops = copy_spec(value) if name.lower() == "copy" else None
        found = [(str(loop["name"]), loop, ("variables", name, i)) for i, loop in enumerate(loops)] if loops \
            else [(name, value, ("variables", name))]
        for variable, decl, path in found:
            if runtime_calls(decl):
                continue
            try:
                run.eval.variable(variable)
            except InvalidTemplateError as e:
                raise errors.in_section(run.source, path, f"variable '{variable}'", e.message) from None


def evaluate_bodies(run: Run) -> dict[str, Any]:
    """Each deploying instance's body, evaluated as it will be when it deploys, unless it reads runtime state;
    answers those bodies by instance key (resource providers' preflight reads them)."""
    bodies: dict[str, Any] = {}
    reads_state: dict[Path, bool] = {}  # per declaration: its copies share their expressions
    for p in run.plan.items:
        if p.path not in reads_state:
            reads_state[p.path] = bool(runtime_calls(runtime_fields(p)))
        if not p.deployable or reads_state[p.path]:
            continue
        raw = runtime_fields(p) if p.is_deployment else body_fields(p)
        try:
            with run.eval.phase(False, p.loops):
                value = run.eval.value(raw)
        except DomainError as e:
            raise errors.runtime(e, run.source, p.path, p.id) from None
        if not p.is_deployment:
            bodies[p.key] = value
    return bodies


def validate(run: Run) -> None:
    """What follows the plan: names in resources, variables and bodies evaluated, then ARM's preflight."""
    check_resources(run)
    evaluate_variables(run)
    preflight.check_all(run, evaluate_bodies(run))
