"""ARM's paths for the OpenAPI document.

ARM routes are parsed by `dispatch` rather than declared to FastAPI, so their documentation is this table,
merged into the generated document; `tests/test_openapi.py` keeps it honest against the dispatcher.
"""

from __future__ import annotations

from typing import Any

S = "/subscriptions/{subscriptionId}"
RG = S + "/resourcegroups/{resourceGroupName}"
RES = RG + "/providers/{resourceProviderNamespace}/{resourceType}/{resourceName}"

PATHS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("/subscriptions", ("get",), "List the subscriptions the caller's tenant holds"),
    ("/tenants", ("get",), "List the caller's tenant"),
    ("/providers", ("get",), "List resource providers"),
    (S, ("get",), "Get a subscription"),
    (S + "/locations", ("get",), "List locations"),
    (S + "/providers", ("get",), "List resource providers and their registration state"),
    (S + "/providers/{resourceProviderNamespace}", ("get",), "Get a resource provider"),
    (S + "/providers/{resourceProviderNamespace}/register", ("post",), "Register a resource provider"),
    (S + "/providers/{resourceProviderNamespace}/locations/{location}/operationStatuses/{operationId}", ("get",),
     "Status of a long-running operation (Azure-AsyncOperation)"),
    (S + "/providers/{resourceProviderNamespace}/locations/{location}/operationResults/{operationId}", ("get",),
     "Result of a long-running operation (Location)"),
    (S + "/resources", ("get",), "List resources ($filter, $top, $skipToken)"),
    (S + "/resourcegroups", ("get",), "List resource groups"),
    (RG, ("get", "put", "patch", "delete", "head"), "A resource group"),
    (RG + "/resources", ("get",), "List the resources of a resource group"),
    (RG + "/providers/{resourceProviderNamespace}/{resourceType}", ("get",), "List resources of a type"),
    (RES, ("get", "put", "patch", "delete", "head"), "Any resource (child and extension resources nest further)"),
)


def merge(doc: dict[str, Any]) -> dict[str, Any]:
    paths = doc.setdefault("paths", {})
    for path, methods, summary in PATHS:
        params = [{"name": "api-version", "in": "query", "required": True, "schema": {"type": "string"}}]
        params += [{"name": p.strip("{}"), "in": "path", "required": True, "schema": {"type": "string"}}
                   for p in path.split("/") if p.startswith("{")]
        paths[path] = {m: {"tags": ["arm"], "summary": summary, "parameters": params,
                           "security": [{"bearer": []}], "responses": {"default": {"description": "ARM response"}}}
                       for m in methods}
    doc.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return doc
