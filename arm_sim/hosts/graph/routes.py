"""Graph routes (filled in by the Graph work)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1.0", tags=["graph"])
