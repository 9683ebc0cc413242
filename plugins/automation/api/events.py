"""POST /api/v1/events: one event or a batch of up to 500; Airflow auth (asset events: POST)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from automation.airflow_adapter.access import asset_access
from automation.events.ingest import ingest
from automation.events.models import EventBatch, EventIn, IngestResult, results_json

router = APIRouter(prefix="/api/v1", tags=["events"])


def _can_post_events() -> Any:
    return asset_access("POST")


def _stored(results: list[IngestResult], body: bytes) -> Response:
    """201 when anything new was stored, 200 when all were already (same idempotency keys). The
    body is serialized here, in the worker thread, rather than by FastAPI on the event loop."""
    status = 201 if any(r.created for r in results) else 200
    return Response(body, status_code=status, media_type="application/json")


@router.post("/events", response_model=IngestResult, status_code=201, dependencies=[_can_post_events()],
             responses={200: {"description": "already stored (same idempotency key)"}})  # fmt: skip
def post_event(event: EventIn) -> Response:
    results = ingest([event])
    return _stored(results, results[0].model_dump_json().encode())


@router.post("/events/batch", response_model=list[IngestResult], status_code=201, dependencies=[_can_post_events()],
             responses={200: {"description": "all already stored (same idempotency keys)"}})  # fmt: skip
def post_events(batch: EventBatch) -> Response:
    results = ingest(batch.events)
    return _stored(results, results_json(results))
