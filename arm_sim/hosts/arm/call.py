"""One ARM request, parsed: what every ARM handler receives besides the context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from arm_sim.core import ids


@dataclass
class Call:
    method: str
    path: str
    arm: ids.ArmPath
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    base_url: str

    @property
    def api_version(self) -> str:
        return self.query["api-version"]

    def next_link(self, token: str | None) -> str | None:
        """The same request with `$skipToken` set; None at the end (never "")."""
        if token is None:
            return None
        q = {k: v for k, v in self.query.items() if k.lower() != "$skiptoken"}
        q["$skipToken"] = token
        return f"{self.base_url}{self.path}?{urlencode(q)}"

    def top(self) -> int | None:
        raw = self.query.get("$top")
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            from arm_sim.core.errors import bad_request

            raise bad_request("InvalidTopInQueryString", f"The value '{raw}' of $top is not valid.")
        return value
