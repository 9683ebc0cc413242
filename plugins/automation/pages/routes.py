"""HTML pages: automation stats, templates catalogue, workflow detail."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/ui", tags=["pages"], include_in_schema=False)
