"""After the resources: outputs (with `condition` and `copy`), and Complete mode's deletions.

Complete mode (root resource-group deployments only) deletes the group's top-level resources that the
template does not declare — including declared resources whose condition is false (api-version ≥ 2019-05-10)
— through the one delete path, so every provider hook runs. Extension resources at the group (role
assignments, locks, diagnostic settings) are not resources of the group and stay.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from arm_sim.core import ids
from arm_sim.core.errors import DomainError
from arm_sim.db.models import Resource
from arm_sim.deployments import errors
from arm_sim.deployments.parameters import SECURE, TYPES
from arm_sim.domain import rbac
from arm_sim.resources import service
from arm_sim.resources.documents import to_doc

if TYPE_CHECKING:
    from arm_sim.deployments.engine import Run

_KEPT_NAMESPACES = ("microsoft.authorization/", "microsoft.insights/diagnosticsettings")


def _output_failure(name: str, error: DomainError) -> dict[str, Any]:
    return {"code": "DeploymentOutputEvaluationFailed",
            "message": f"Unable to evaluate template outputs: '{name}'. Please see error details and deployment "
                       "operations. Please see https://aka.ms/arm-common-errors for usage details.",
            "details": [{"code": error.code, "message": error.message, "target": name}]}


def evaluate_outputs(run: Run) -> dict[str, Any]:
    out: dict[str, Any] = {}
    decls = run.template.get("outputs") or {}
    for name, decl in decls.items():
        if not isinstance(decl, dict):
            continue
        try:
            with run.eval.phase(True, []):
                if "condition" in decl and run.eval.value(decl["condition"]) is not True:
                    continue
                copy = decl.get("copy")
                if isinstance(copy, dict):
                    value = []
                    for i in range(run.eval.count(copy.get("count"))):
                        with run.eval.loop("", i, resource=True):
                            value.append(run.eval.value(copy.get("input")))
                else:
                    value = run.eval.value(decl.get("value"))
        except DomainError as e:
            wrapped = errors.wrap(e, run.source, ("outputs", name), what=f"output '{name}'")
            run.failures.append(_output_failure(name, wrapped))
            continue
        kind = str(decl.get("type") or "").lower()
        shown = TYPES.get(kind, (kind.capitalize() or "Object",))[0]
        out[camel_case(name)] = {"type": shown} if kind in SECURE else {"type": shown, "value": value}
    return out


def camel_case(name: str) -> str:
    """An output's name as ARM's serializer writes it (Newtonsoft's camel casing of dictionary keys): the leading
    run of capitals lowered, but for the last one before a lower-case letter — `VMSS` -> `vmss`, `MyOut` ->
    `myOut`, `URLValue` -> `urlValue`. The Azure CLI reads `outputs['vmss']` of its own output `VMSS`, and
    Azure/bicep#9360 shows ARM answering so. (Expressions find members case-insensitively either way.)"""
    if not name or not name[0].isupper():
        return name
    chars = list(name)
    for i, c in enumerate(chars):
        if i == 1 and not c.isupper():
            break
        if i > 0 and i + 1 < len(chars) and not chars[i + 1].isupper():
            if chars[i + 1].isspace():
                chars[i] = c.lower()
            break
        chars[i] = c.lower()
    return "".join(chars)


def undeclared(run: Run) -> list[Resource]:
    """Top-level resources of the target group that the template does not deploy (its own or nested ones')."""
    if not run.target.resource_group:
        return []
    rg_key = ids.key(run.target.id)
    declared = {ids.key(p.id) for p in run.plan.items if p.deployable} | run.touched
    rows = run.ctx.session.scalars(select(Resource).where(Resource.resource_group_key == rg_key,
                                                          Resource.parent_key == rg_key).order_by(Resource.key))
    return [r for r in rows if r.key not in declared]


def deletable(row: Resource) -> bool:
    return not row.type_key.startswith(_KEPT_NAMESPACES)


def complete_mode(run: Run, savepoint: Callable[[Run], Any], record: Callable[..., None]) -> None:
    for row in [r for r in undeclared(run) if deletable(r)]:
        started = perf_counter()
        before = service.render(run.ctx, to_doc(row), row.api_version)
        resource_id, resource_type, name, api = row.id, row.type, row.name, row.api_version
        error = None
        sp = savepoint(run)
        try:
            rbac.enforce(run.ctx, f"{resource_type}/delete", resource_id)
            service.delete_row(run.ctx, row)
        except DomainError as e:
            sp.rollback()
            error = e.body()
            run.failures.append(error)
        else:
            sp.commit()
        if run.what_if is not None:
            run.what_if.deleted(resource_id, before, error)
        target = {"id": resource_id, "resourceType": resource_type, "resourceName": name, "apiVersion": api}
        record(run, None, target, "Delete", 400 if error else 200, error, started)
