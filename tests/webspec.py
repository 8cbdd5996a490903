"""What a site needs before App Service accepts it, for tests: an App Service plan (made once per group)."""

from __future__ import annotations

import httpx

WEB_API = "api-version=2024-04-01"


def plan(http: httpx.Client, group_id: str, location: str = "westeurope", name: str = "plan-shared") -> str:
    """A Basic Linux-less plan in the group (made on first use, then reused); returns its id."""
    plan_id = f"{group_id}/providers/Microsoft.Web/serverfarms/{name}-{location}"
    if http.get(f"{plan_id}?{WEB_API}").status_code != 200:
        r = http.put(f"{plan_id}?{WEB_API}", json={"location": location, "sku": {"name": "B1", "tier": "Basic"}})
        assert r.status_code in (200, 201), r.text
    return plan_id
