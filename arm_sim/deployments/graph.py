"""The dependency graph and the deployment order (reference/arm-templates.md §2.8 step 4).

Edges: explicit `dependsOn` (resource names, ids, copy-loop names, symbolic names), implicit ones from
`reference()`/`references()`/`list*()` that name a template resource, serial copy batches, and a nested child
on its parent. Resources whose condition is false and `existing` ones deploy nothing, so edges to them fall
away. A cycle is `InvalidTemplate`. The order is topological, ties broken by declaration order.
"""

from __future__ import annotations

import heapq
from typing import Any

from arm_sim.core.errors import DomainError
from arm_sim.deployments import errors
from arm_sim.deployments.context import DeploymentContext
from arm_sim.deployments.errors import Source
from arm_sim.deployments.expand import Plan, Planned
from arm_sim.templates import evaluate, is_runtime_function, parse
from arm_sim.templates.analysis import iter_expressions, iter_nodes_calls

# fields ARM evaluates before deployment: they cannot read runtime state, so they add no implicit edge
_STATIC_FIELDS = frozenset({"type", "name", "apiversion", "copy", "condition", "dependson", "resources", "comments",
                            "scope", "resourcegroup", "subscriptionid", "existing", "location"})


# what a resource's PUT body is made of, evaluated when the resource deploys
BODY_FIELDS = {f.lower(): f for f in ("tags", "sku", "kind", "plan", "identity", "properties", "zones",
                                      "extendedLocation", "managedBy")}


def body_fields(p: Planned) -> dict[str, Any]:
    """The resource's body fields as the template wrote them (unevaluated), under their canonical names."""
    return {BODY_FIELDS[k.lower()]: v for k, v in p.decl.items() if k.lower() in BODY_FIELDS}


def runtime_fields(p: Planned) -> dict[str, Any]:
    out = {k: v for k, v in p.decl.items() if k.lower() not in _STATIC_FIELDS}
    if p.is_deployment and isinstance(out.get("properties"), dict):  # the nested template is its own business
        out["properties"] = {k: v for k, v in out["properties"].items() if k.lower() != "template"}
    return out


def implicit_targets(plan: Plan, ctx: DeploymentContext, p: Planned) -> set[str]:
    """Keys of template resources this one's runtime expressions reference()/list*()."""
    found: set[str] = set()
    for text in iter_expressions(runtime_fields(p)):
        try:
            tree = parse(text)
        except DomainError:
            continue  # reported with its position when the resource deploys
        for call in iter_nodes_calls(tree):
            name = call.name.lower()
            if call.namespace or not call.args or not is_runtime_function(name):
                continue
            try:
                with ctx.phase(False, p.loops):
                    target = evaluate(call.args[0], ctx)
            except DomainError:
                continue  # the target itself needs runtime state: nothing to order by
            if isinstance(target, str):
                matches = plan.loops.get(target.lower(), []) if name == "references" else []
                found.update(m.key for m in (matches or plan.find(target)))
    return found


def link(plan: Plan, ctx: DeploymentContext, source: Source) -> list[Planned]:
    deployable = {p.key for p in plan.items if p.deployable}
    for p in plan.items:
        if not p.deployable:
            continue
        for entry in p.depends_on:
            targets = plan.loops.get(entry.lower()) if entry.lower() in plan.loops else plan.find(entry)
            if not targets and entry.lower() not in plan.loops:
                raise errors.plain(source, None, f"The resource '{shown(entry)}' is not defined in the template. "
                                   f"{errors.SYNTAX_HELP}")
            p.deps.update(t.key for t in targets or [])
        p.deps.update(implicit_targets(plan, ctx, p))
        if p.parent:
            p.deps.add(p.parent)
        if p.serial_batch and p.loop and p.copy_index:
            batch = p.copy_index // p.serial_batch
            if batch:
                p.deps.update(q.key for q in plan.loops[p.loop.lower()] if q.copy_index is not None
                              and q.copy_index // p.serial_batch == batch - 1)
        p.deps.discard(p.key)
        p.deps &= deployable
    return order(plan, source)


def shown(entry: str) -> str:
    """A dependsOn entry as ARM names it in errors: an id by its provider part (`Microsoft.Web/sites/app`)."""
    if entry.startswith("/") and "/providers/" in entry.lower():
        return entry[entry.lower().rindex("/providers/") + len("/providers/"):]
    return entry


def order(plan: Plan, source: Source) -> list[Planned]:
    items = [p for p in plan.items if p.deployable]
    waiting = {p.key: set(p.deps) for p in items}
    dependants: dict[str, list[Planned]] = {}
    for p in items:
        for d in p.deps:
            dependants.setdefault(d, []).append(p)
    ready = [(p.order, p.key) for p in items if not waiting[p.key]]
    heapq.heapify(ready)
    out: list[Planned] = []
    while ready:
        _, key = heapq.heappop(ready)
        p = plan.by_key[key]
        out.append(p)
        for q in dependants.get(key, []):
            waiting[q.key].discard(key)
            if not waiting[q.key]:
                heapq.heappush(ready, (q.order, q.key))
    if len(out) < len(items):
        stuck = [p for p in items if waiting[p.key]]
        names = "', '".join(p.id for p in stuck)
        raise errors.at(source, stuck[0].path, f"Circular dependency detected on resource: '{names}'",
                        prefix="Deployment template validation failed",
                        what=f"resource '{stuck[0].decl.get('name', '')}'")
    return out
