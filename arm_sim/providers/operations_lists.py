"""`GET /providers/{namespace}/operations`: a resource provider's operations list (`OperationListResult`), which ARM
answers to any signed-in caller. The lists are copies of what Azure answered (a recording) or of the REST specs'
examples, each named in data/operations.json; a namespace without one answers nothing here (the ARM host's 404),
which is better than a list made up."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "operations.json"


@functools.cache
def _lists() -> dict[str, list[dict[str, Any]]]:
    raw = json.loads(DATA.read_text())
    return {k.lower(): v for k, v in raw.items() if not k.startswith("_")}


def answer(namespace: str, method: str, segments: tuple[str, ...]) -> tuple[int, Any] | None:
    """(200, {"value": [...]}) for the namespace's operations list; None when it is not this request or there is
    no published list."""
    if method != "GET" or [s.lower() for s in segments] != ["operations"]:
        return None
    found = _lists().get(namespace.lower())
    return None if found is None else (200, {"value": found})
