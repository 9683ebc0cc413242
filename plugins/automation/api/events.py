"""POST /api/v1/events: one event or a batch of up to 500; Airflow auth (asset events: POST)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from fastapi.concurrency import run_in_threadpool

from automation.events.ingest import ingest
from automation.events.models import EventBatch, EventIn, IngestResult

router = APIRouter(prefix="/api/v1", tags=["events"])


def _can_post_events():
    from airflow.api_fastapi.core_api.security import requires_access_asset

    return Depends(requires_access_asset(method="POST"))


@router.post("/events", response_model=IngestResult, dependencies=[_can_post_events()],
             responses={200: {"description": "already stored (same idempotency key)"}})  # fmt: skip
async def post_event(event: EventIn, response: Response) -> IngestResult:
    (result,) = await run_in_threadpool(ingest, [event])
    response.status_code = 201 if result.created else 200
    return result


@router.post("/events/batch", response_model=list[IngestResult], dependencies=[_can_post_events()])
async def post_events(batch: EventBatch, response: Response) -> list[IngestResult]:
    results = await run_in_threadpool(ingest, batch.events)
    response.status_code = 201 if any(r.created for r in results) else 200
    return results
