"""Import/export of workflow bundles (several workflows in one JSON/YAML document)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["bundles"])
