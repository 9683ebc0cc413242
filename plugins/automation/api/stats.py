"""Execution statistics per workflow and overall."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["stats"])
