"""Execute a prepared run (reference/arm-templates.md §2.8 steps 6-8): each resource in dependency order,
each in a savepoint of its own, then outputs, then Complete mode's deletions; and the deployment record.

Every write goes through `resources.service` (or `resources.groups` for resource groups), so a template
creates nothing REST could not. Every resource is PUT on every deployment, as ARM does: a redeployment runs the
identity reconciler and the hooks again, so it repairs what changed since (an identity re-created gets its new
principal into the resources that reference it).
"""

from __future__ import annotations

import uuid
from time import perf_counter
from typing import Any

from arm_sim.core import ids
from arm_sim.core.errors import DomainError, bad_request
from arm_sim.db import uow
from arm_sim.db.models import Deployment
from arm_sim.deployments import errors, request, store
from arm_sim.deployments.engine import Run, fail_record_properties
from arm_sim.deployments.expand import Planned
from arm_sim.deployments.graph import body_fields
from arm_sim.deployments.outputs import complete_mode, evaluate_outputs
from arm_sim.deployments.parameters import TYPES
from arm_sim.domain import rbac
from arm_sim.domain.clock import iso
from arm_sim.resources import groups, scope, service

VOLATILE = ("etag", "systemData")  # change on every write: not a difference in the resource
FAILED = "At least one resource deployment operation failed. Please list deployment operations for details. " \
         "Please see https://aka.ms/arm-deployment-operations for usage details."


def savepoint(run: Run) -> Any:
    """A SAVEPOINT inside the request's transaction (db.uow.savepoint)."""
    return uow.savepoint(run.ctx.session)


def same(before: dict[str, Any] | None, after: dict[str, Any]) -> bool:
    if before is None:
        return False

    def strip(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if k not in VOLATILE}

    return strip(before) == strip(after)


def _operation(run: Run, p: Planned | None, target: dict[str, Any], kind: str, status: int,
               error: dict[str, Any] | None, started: float) -> None:
    if run.record is None or run.what_if is not None:
        return
    props: dict[str, Any] = {
        "provisioningOperation": kind, "provisioningState": "Failed" if error else "Succeeded",
        "timestamp": iso(run.ctx.now), "duration": store.duration(perf_counter() - started),
        "trackingId": str(uuid.uuid4()), "serviceRequestId": str(uuid.uuid4()), "statusCode": store.status_code(status),
        "statusMessage": {"status": "Failed", "error": error} if error else {"status": "Succeeded"},
        "targetResource": target,
    }
    run.operations.append(props)  # written together by `finish`


def _target(p: Planned) -> dict[str, Any]:
    out = {"id": p.id, "resourceType": p.resource_type, "resourceName": p.name, "apiVersion": p.api_version}
    if p.symbolic:
        out["symbolicName"] = p.symbolic
    return out


def evaluate_body(run: Run, p: Planned) -> dict[str, Any]:
    raw = body_fields(p)
    try:
        with run.eval.phase(True, p.loops):
            body: dict[str, Any] = run.eval.value(raw)  # an object evaluates to an object
    except DomainError as e:
        raise errors.runtime(e, run.source, p.path, p.id, (*p.path, "properties")) from None
    if p.location is not None:
        body["location"] = p.location
    return body


def _current(run: Run, p: Planned) -> dict[str, Any] | None:
    path = ids.parse(p.id)
    if p.is_resource_group:
        exists = groups.exists(run.ctx, path.subscription or "", path.resource_group or "")
        return groups.to_doc(groups.get(run.ctx, path.subscription or "", path.resource_group or "")) if exists \
            else None
    try:
        return service.get(run.ctx, path)
    except DomainError:
        return None


def _render(run: Run, p: Planned, doc: dict[str, Any] | None) -> dict[str, Any] | None:
    if doc is None or p.is_resource_group:
        return doc
    return service.render(run.ctx, doc, p.api_version)


def _write(run: Run, p: Planned, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    ctx, path = run.ctx, ids.parse(p.id)
    if p.is_resource_group:
        rg, created = groups.put(ctx, path.subscription or "", path.resource_group or "", body)
        return groups.to_doc(rg), created
    return service.put(ctx, path, body, p.api_version)


def deploy_resource(run: Run, p: Planned) -> None:
    """Evaluate the resource's body now (reference() sees what deployed before it), then PUT it through the
    service, as ARM PUTs every resource of every deployment: the identity reconciler and the hooks run each time,
    and what a PUT of the same body changes is the provider's business, as for a REST PUT."""
    started, ctx = perf_counter(), run.ctx
    before = shown_after = None
    created, changed, status, error = False, False, 200, None
    try:
        body = evaluate_body(run, p)
        rbac.enforce(ctx, "Microsoft.Resources/subscriptions/resourceGroups/write" if p.is_resource_group
                     else f"{p.resource_type}/write", p.id)
        predicting = run.what_if is not None
        before = _current(run, p) if predicting else None
        sp = savepoint(run)
        try:
            after, created = _write(run, p, body)
            if predicting:  # what whatIf reports
                changed = created or not same(before, after)
                shown_after = _render(run, p, after)
        except DomainError:
            sp.rollback()  # a failed operation leaves nothing behind (each is its own unit in ARM)
            raise
        sp.commit()
        status = 201 if created else 200
    except DomainError as e:
        error, status = e.body(), e.status
    run.status[p.key] = "Failed" if error else "Succeeded"
    if error:
        run.failures.append(error)
    else:
        run.output_resources.append(p.id)
    if run.what_if is not None:
        shown_before = _render(run, p, before)
        run.what_if.resource(p, shown_before, None if error else (shown_after if changed else shown_before),
                             created, changed, error)
    _operation(run, p, _target(p), "Create", status, error, started)


def deploy_nested(run: Run, p: Planned) -> None:
    started, ctx = perf_counter(), run.ctx
    target = p.deployment_target or run.target
    status, error = 200, None
    try:
        store.check_name(p.name)
        rbac.enforce(ctx, "Microsoft.Resources/deployments/write", p.id)
        raw = dict(p.decl.get("properties") or {})
        template = next((raw.pop(k) for k in list(raw) if k.lower() == "template"), None)
        try:
            with run.eval.phase(True, p.loops):
                props = run.eval.value(raw)
        except DomainError as e:
            raise errors.runtime(e, run.source, p.path, p.id, (*p.path, "properties")) from None
        if template is not None:
            props["template"] = template  # evaluated by the nested run, in its own (or its parent's) context
        body: dict[str, Any] = {"properties": props}
        if p.location:
            body["location"] = p.location
        link = run.request.template_link or {}
        req = request.parse(ctx.settings, body, parent_uri=link.get("uri"), nested=True)
        if req.mode != "Incremental":
            raise bad_request("InvalidDeploymentMode", f"The nested deployment '{p.name}' must use the "
                              "'Incremental' mode.")
        if target.resource_group:
            scope.resource_group(ctx, target.subscription_id, target.resource_group)
        else:
            scope.subscription(ctx, target.subscription_id)
        child = Run(ctx, target, p.name, req, parent=run, what_if=run.what_if)
        record, created = run_nested(child)
        run.touched |= child.touched  # Complete mode keeps what nested templates deploy
        status = 201 if created else 200
        if record.provisioning_state != "Succeeded":
            error = record.properties.get("error") or {"code": "DeploymentFailed", "message": FAILED}
        else:
            run.output_resources.extend(o["id"] for o in record.properties.get("outputResources") or [])
    except DomainError as e:
        error, status = e.body(), e.status
    run.status[p.key] = "Failed" if error else "Succeeded"
    if error:
        run.failures.append(error)
    _operation(run, p, _target(p), "Create", status, error, started)


def run_nested(child: Run) -> tuple[Deployment, bool]:
    """A nested deployment is a deployment record of its own, even when its template is invalid."""
    try:
        child.prepare()
    except DomainError as e:
        record, created = store.begin(child.ctx, child.target, child.name, location=child.request.location,
                                      tags={}, template=child.template, properties={"mode": child.request.mode})
        store.finish(child.ctx, record, "Failed", fail_record_properties(child, e))
        return record, created
    created = start(child)
    execute(child)
    finish(child)
    assert child.record is not None
    return child.record, created


def start(run: Run) -> bool:
    props: dict[str, Any] = {"mode": run.request.mode, "templateHash": run.hash,
                             "correlationId": run.ctx.correlation_id, "parameters": run.parameters.echo(),
                             "timestamp": iso(run.ctx.now)}
    run.record, created = store.begin(run.ctx, run.target, run.name, location=run.request.location,
                                      tags=run.request.tags, template=run.template, properties=props)
    return created


def _scope_rows(run: Run) -> list[Any]:
    """The target's subscription and group rows. Every write checks that they exist: held for the run, they stay
    in the session's (weak) identity map, so each check is a lookup there rather than a SELECT."""
    t = run.target
    try:
        rows: list[Any] = [scope.subscription(run.ctx, t.subscription_id)]
        if t.resource_group:
            rows.append(scope.resource_group(run.ctx, t.subscription_id, t.resource_group))
    except DomainError:
        return []  # the writes themselves report it
    return rows


# Batches (issue 18 point 4). Each resource operation is its own step, as in ARM: its own SAVEPOINT, so a failed
# one leaves nothing behind and fails the deployment as before, while the others stand. The steps are committed in
# batches rather than one by one: a COMMIT (with its events) per resource was a large part of a deployment's time.
# A batch commits together or not at all (a crash loses the uncommitted batch whole, never part of a step), and it
# ends after BATCH_RESOURCES steps or BATCH_SECONDS, whichever comes first, so a long deployment still never holds
# the database (SQLite's one writer) for long: other requests' writes wait for at most one batch. Every write is
# still `service.put` (or `groups.put`) with its hooks and events: batching changes only where COMMITs fall.
BATCH_RESOURCES = 50
BATCH_SECONDS = 0.05


def execute(run: Run) -> None:
    run.touched.update(ids.key(p.id) for p in run.order)
    run.held = _scope_rows(run)
    run.ctx.checkpoint()  # the deployment's record (Running) is visible before its first resource
    steps, since = 0, perf_counter()
    for p in run.order:
        if steps and (steps >= BATCH_RESOURCES or perf_counter() - since >= BATCH_SECONDS):
            run.ctx.checkpoint()
            steps, since = 0, perf_counter()
        steps += 1
        if any(run.status.get(d) in ("Failed", "Blocked") for d in p.deps):
            run.status[p.key] = "Blocked"  # ARM never starts what depends on a failed resource
            if run.what_if is not None:
                run.what_if.blocked(p)
            continue
        if p.is_deployment:
            deploy_nested(run, p)
        else:
            deploy_resource(run, p)
    if run.failures:
        return
    run.outputs = evaluate_outputs(run)
    if not run.failures and run.request.mode == "Complete" and run.parent is None:
        complete_mode(run, savepoint, _operation)


def properties(run: Run, state: str) -> dict[str, Any]:
    props: dict[str, Any] = {
        "templateHash": run.hash, "parameters": run.parameters.echo(), "mode": run.request.mode,
        "provisioningState": state, "timestamp": iso(run.ctx.now), "duration": store.duration(run.elapsed()),
        "correlationId": run.ctx.correlation_id, "outputs": run.outputs if state == "Succeeded" else {},
        "outputResources": [{"id": i} for i in run.output_resources],
        "providers": providers(run), "dependencies": dependencies(run), "validationLevel": "Template",
    }
    if run.request.template_link:
        props["templateLink"] = run.request.template_link
    if run.request.parameters_link:
        props["parametersLink"] = run.request.parameters_link
    props.update(run.request.echo)
    if run.failures:
        props["error"] = {"code": "DeploymentFailed", "target": run.id, "message": FAILED, "details": run.failures}
    return props


def finish(run: Run) -> None:
    assert run.record is not None
    store.add_operations(run.ctx, run.record, run.operations)
    run.operations.clear()
    state = "Failed" if run.failures else "Succeeded"
    store.finish(run.ctx, run.record, state, properties(run, state))


def providers(run: Run) -> list[dict[str, Any]]:
    by_ns: dict[str, dict[str, set[str]]] = {}
    for p in run.order:
        ns, _, rest = p.resource_type.partition("/")
        by_ns.setdefault(ns, {}).setdefault(rest, set())
        if p.location:
            by_ns[ns][rest].add(p.location)
    return [{"namespace": ns, "resourceTypes": [{"resourceType": t, "locations": sorted(locs)}
                                                for t, locs in types.items()]} for ns, types in by_ns.items()]


def dependencies(run: Run) -> list[dict[str, Any]]:
    def ref(p: Planned) -> dict[str, Any]:
        return {"id": p.id, "resourceType": p.resource_type, "resourceName": p.name}

    return [dict(ref(p), dependsOn=[ref(run.plan.by_key[d]) for d in sorted(p.deps, key=lambda k: run.plan.by_key[k]
                                                                                 .order)])
            for p in run.order if p.deps]


def output_type(declared: Any) -> str:
    kind = str(declared or "").lower()
    return TYPES.get(kind, (kind.capitalize(),))[0]
