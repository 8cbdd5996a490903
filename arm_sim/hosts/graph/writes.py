"""What a Graph write handler gets: the addressed object (by object id, appId or userPrincipalName), what follows
it in the path, the parsed body; and Graph's answer shapes for writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from arm_sim.core.errors import bad_request
from arm_sim.domain.context import Caller, Ctx

INVALID_JSON = ("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of "
                "valid JSON format.")

Answer = tuple[int, dict[str, object] | None]


@dataclass
class Write:
    ctx: Ctx
    caller: Caller
    method: str
    key: str | None  # the object id (or userPrincipalName) after the entity set, if any
    app_id: str | None  # the appId of an `(appId='…')` key, if any
    rest: list[str]  # the segments after the addressed object
    body: Any
    body_error: str | None
    base: str  # the URL the client used, for @odata.context

    def json_body(self) -> Any:
        if self.body_error:
            raise bad_request("BadRequest", INVALID_JSON)
        return self.body

    def entity(self, entity_set: str, doc: dict[str, object]) -> dict[str, object]:
        return {"@odata.context": f"{self.base}/v1.0/$metadata#{entity_set}/$entity", **doc}

    @property
    def addressed(self) -> bool:
        return self.key is not None or self.app_id is not None
