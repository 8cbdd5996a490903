"""The template deployment engine (DESIGN.md §2 `deployments/`): expand a template, order its resources by
their dependencies, and deploy each one through the one write path (`resources.service`).

A deployment runs inside the request that starts it; each resource operation is a savepoint of its own, so a
failing resource leaves the earlier ones in place (ARM deployments are not atomic).
"""
