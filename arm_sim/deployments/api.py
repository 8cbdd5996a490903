"""The deployments service the ARM host calls: create (deploy), get, list, delete, cancel, validate, whatIf,
exportTemplate, operations and calculateTemplateHash (reference/arm-templates.md §1).
"""

from __future__ import annotations

from typing import Any

from arm_sim.core import ids, jsonc
from arm_sim.core.errors import DomainError, bad_request
from arm_sim.db.models import Deployment
from arm_sim.deployments import execute, outputs, request, store
from arm_sim.deployments.engine import Run, minified, template_hash
from arm_sim.deployments.store import Target
from arm_sim.deployments.whatif import WhatIf
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx
from arm_sim.resources import lro, scope, service
from arm_sim.resources.documents import to_doc


def check_scope(ctx: Ctx, target: Target) -> None:
    if target.resource_group:
        scope.resource_group(ctx, target.subscription_id, target.resource_group)
    else:
        scope.subscription(ctx, target.subscription_id)


def _run(ctx: Ctx, target: Target, name: str, body: Any, what_if: WhatIf | None = None) -> Run:
    store.check_name(name)
    check_scope(ctx, target)
    req = request.parse(ctx.settings, body)
    if req.mode == "Complete" and not target.resource_group:
        raise bad_request("InvalidDeploymentMode", "The 'Complete' mode is only supported for deployments at resource "
                          "group scope.")
    if not target.resource_group:
        if not req.location:
            raise bad_request("InvalidDeployment", f"The 'location' property must be specified for '{name}'. Please "
                              "see https://aka.ms/deploy-to-subscription for usage details.")
        known = store.get(ctx, target.deployment_id(name))
        if known is not None and known.location and known.location.lower() != req.location.lower():
            raise bad_request("InvalidDeploymentLocation",
                              f"Invalid deployment location '{req.location}'. The deployment '{name}' already exists "
                              f"in location '{known.location}'.")
    run = Run(ctx, target, name, req, what_if=what_if)
    run.prepare()
    return run


def create_or_update(ctx: Ctx, target: Target, name: str, body: Any) -> tuple[Deployment, bool]:
    """Deploy now, inside this request. Template problems are a 400 before anything is written; a failing
    resource makes the deployment `Failed` and keeps what deployed before it."""
    run = _run(ctx, target, name, body)
    created = execute.start(run)
    execute.execute(run)
    execute.finish(run)
    assert run.record is not None
    return run.record, created


def track(ctx: Ctx, record: Deployment, method: str = "PUT") -> str:
    """An operation record for ARM's polling protocol; it is already terminal (the work is done)."""
    op = lro.record(ctx, record.subscription_id, "Microsoft.Resources", record.location or "", record.id, method)
    if record.provisioning_state != "Succeeded":
        op.status = record.provisioning_state
        op.error = record.properties.get("error")
    return op.id


def get(ctx: Ctx, target: Target, name: str) -> dict[str, Any]:
    return store.render(store.require(ctx, target, name))


def exists(ctx: Ctx, target: Target, name: str) -> bool:
    return store.get(ctx, target.deployment_id(name)) is not None


def list_at(ctx: Ctx, target: Target, state_filter: str | None, top: int | None) -> list[dict[str, Any]]:
    check_scope(ctx, target)
    rows = store.list_at(ctx, target)
    if state_filter:
        rows = [r for r in rows if r.provisioning_state.lower() == state_filter.lower()]
    docs = [store.render(r) for r in rows]
    return docs[:top] if top else docs


def delete(ctx: Ctx, target: Target, name: str) -> bool:
    row = store.get(ctx, target.deployment_id(name))
    if row is None:
        check_scope(ctx, target)
        return False
    store.delete(ctx, row)
    return True


def cancel(ctx: Ctx, target: Target, name: str) -> None:
    row = store.require(ctx, target, name)
    # deployments finish inside the request that starts them, so there is never a running one to cancel
    raise DomainError(409, "DeploymentCannotBeCancelled",
                      f"The deployment '{name}' cannot be cancelled: it is in the terminal state "
                      f"'{row.provisioning_state}'. Only deployments in the state 'Accepted' or 'Running' can be "
                      "cancelled.")


def export_template(ctx: Ctx, target: Target, name: str) -> dict[str, Any]:
    return {"template": store.require(ctx, target, name).template}


def operations(ctx: Ctx, target: Target, name: str) -> list[dict[str, Any]]:
    row = store.require(ctx, target, name)
    return [store.render_operation(row, op) for op in store.operations(ctx, row)]


def operation(ctx: Ctx, target: Target, name: str, operation_id: str) -> dict[str, Any]:
    row = store.require(ctx, target, name)
    return store.render_operation(row, store.find_operation(ctx, row, operation_id))


def validate(ctx: Ctx, target: Target, name: str, body: Any) -> tuple[int, dict[str, Any]]:
    """Template-level validation (parameters, expansion, dependency order): 200 with the validated resources,
    or 400 with the error. Runtime problems (a reference() to a missing property) surface when deploying."""
    try:
        run = _run(ctx, target, name, body)
    except DomainError as e:
        if e.status != 400:
            raise
        return 400, {"error": e.body()}
    props: dict[str, Any] = {
        "provisioningState": "Succeeded", "mode": run.request.mode, "templateHash": run.hash,
        "parameters": run.parameters.echo(), "correlationId": ctx.correlation_id, "timestamp": iso(ctx.now),
        "duration": store.duration(run.elapsed()), "validatedResources": [{"id": p.id} for p in run.order],
        "providers": execute.providers(run), "dependencies": execute.dependencies(run), "validationLevel": "Template",
    }
    doc: dict[str, Any] = {"id": run.id, "name": name, "type": store.DEPLOYMENT_TYPE, "properties": props}
    if run.request.location:
        doc["location"] = run.request.location
    return 200, doc


def what_if(ctx: Ctx, target: Target, name: str, body: Any) -> dict[str, Any]:
    settings = ((body or {}).get("properties") or {}).get("whatIfSettings") or {} if isinstance(body, dict) else {}
    prediction = WhatIf(full_payloads=str(settings.get("resultFormat", "FullResourcePayloads")).lower()
                        != "resourceidonly")
    run = _run(ctx, target, name, body, prediction)
    sp = execute.savepoint(run)
    try:
        ignored = outputs.undeclared(run)
        kept = [(r.id, service.render(ctx, to_doc(r), r.api_version)) for r in ignored
                if run.request.mode != "Complete" or not outputs.deletable(r)]
        execute.start(run)
        execute.execute(run)
    finally:
        sp.rollback()  # a prediction changes nothing
    for resource_id, before in kept:
        if ids.key(resource_id) not in run.touched:  # nested templates may deploy it
            prediction.ignored(resource_id, before)
    return {"status": "Succeeded", "properties": {"changes": prediction.changes, "diagnostics": []}}


def calculate_template_hash(body: Any) -> dict[str, Any]:
    template = body
    if isinstance(body, str):
        try:
            template = jsonc.loads(body)
        except jsonc.JsoncError as e:
            raise bad_request("InvalidTemplate", f"Deployment template parse failed: '{e}'") from None
    if not isinstance(template, dict):
        raise bad_request("InvalidRequestContent", "The request content must be a template (a JSON object).")
    return {"minifiedTemplate": minified(template), "templateHash": template_hash(template)}
