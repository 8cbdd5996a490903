"""Row <-> the resource document ARM shows, and the checks every write shares."""

from __future__ import annotations

import re
from typing import Any

from arm_sim.core.errors import DomainError, bad_request
from arm_sim.db.records import ResourceRecord
from arm_sim.domain.clock import iso
from arm_sim.providers.base import Doc

EXTRA_FIELDS = ("zones", "managedBy", "extendedLocation")
SIM_STATE = "_sim"  # the simulator's own per-resource state (power state, secrets); never rendered
_BAD_NAME = re.compile(r"[<>*%&:\\?/+\x00-\x1f]")


def to_doc(row: ResourceRecord) -> Doc:
    """The document of a resource row, read through the ORM or a prebuilt statement (db.records)."""
    doc: Doc = {"id": row.id, "name": row.name, "type": row.type}
    if row.location is not None:
        doc["location"] = row.location
    for field, value in (("kind", row.kind), ("sku", row.sku), ("plan", row.plan)):
        if value is not None:
            doc[field] = value
    doc["tags"] = row.tags or {}
    if row.identity is not None:
        doc["identity"] = row.identity
    for f in EXTRA_FIELDS:
        if f in row.extra:
            doc[f] = row.extra[f]
    doc["properties"] = row.properties
    if SIM_STATE in row.extra:
        doc[SIM_STATE] = row.extra[SIM_STATE]
    doc["etag"] = row.etag
    doc["systemData"] = {
        "createdBy": row.created_by, "createdByType": "Application", "createdAt": iso(row.created_at),
        "lastModifiedBy": row.changed_by, "lastModifiedByType": "Application",
        "lastModifiedAt": iso(row.changed_at),
    }
    return doc


def check_name(name: str, kind: str = "resource") -> None:
    if _BAD_NAME.search(name) or name.endswith((".", " ")) or len(name) > 260:
        raise bad_request(
            "InvalidResourceName",
            f"The {kind} name '{name}' is invalid. It must not contain '<', '>', '*', '%', '&', ':', '\\', '?', "
            "'/', '+' or control characters, and must not end with '.' or a space.",
        )


def check_tags(tags: Any) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise bad_request("InvalidTag", "The tags must be an object whose values are strings.")
    if len(tags) > 50:
        raise bad_request("InvalidTag", "The number of tags exceeds the limit of 50.")
    for k, v in tags.items():
        if len(k) > 512 or len(v) > 256:
            raise bad_request(
                "InvalidTagNameLength" if len(k) > 512 else "InvalidTagValueLength",
                f"The tag name '{k[:40]}' or its value exceeds the maximum length (512 for names, 256 for values).",
            )
    return dict(tags)


def request_object(body: Any, what: str = "request content") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise DomainError(400, "InvalidRequestContent",
                          f"The {what} was invalid and could not be deserialized: a JSON object is required.")
    return body
