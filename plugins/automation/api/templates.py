"""The workflow templates catalogue over HTTP: list, read, create a workflow from a template."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["templates"])
