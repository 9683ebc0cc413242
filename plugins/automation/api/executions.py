"""Executions of a workflow, read from Airflow's own runs of its DAG: list, detail, retry, cancel."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["executions"])
