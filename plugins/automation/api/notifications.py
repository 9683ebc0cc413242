"""The delivery log over HTTP: GET /api/v1/notifications (every notice and notification per channel, with
status, error and attempt; filters recipient, workflow, status, unread), mark one read, replay a failed
one (sent once however many replays race), and GET /api/v1/notifications/stream: the in-app notifications
as Server-Sent Events (id = the notification's id; a reconnect with Last-Event-ID resumes after it), fed by
Postgres NOTIFY. Airflow auth: reading needs read access to DAG runs, marking and replaying edit access
(as retrying a run). Streams are bounded: at most MAX_STREAMS per process, each at most STREAM_SECONDS
(the client reconnects, resuming)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from automation.airflow_adapter.access import dag_access, run_entity
from automation.channels import replay
from automation.errors import ConflictError, NotFoundError
from automation.store.deliveries import MAX_PAGE, DeliveryLog
from automation.store.notification_feed import NotificationFeed

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])

Status = Literal["sending", "sent", "failed"]
MAX_STREAMS = 50
STREAM_SECONDS = 3600
KEEPALIVE_SECONDS = 15
#: how long one wait for a NOTIFY lasts before the stream checks the client is still there
POLL_SECONDS = 1.0
_streams = threading.BoundedSemaphore(MAX_STREAMS)
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class Delivery(BaseModel):
    id: int
    channel: str
    notification_id: int | None
    recipient: str | None
    recipients: list[str]
    level: str
    title: str
    body: str | None
    link: str | None
    workflow_key: str | None
    dag_id: str | None
    run_id: str | None
    status: Status
    error: str | None
    attempt: int
    created_at: str
    updated_at: str
    read_at: str | None


class DeliveryPage(BaseModel):
    notifications: list[Delivery]
    #: pass as `before` for the next (older) page; None on the last page
    next_before: int | None


def _can(method: Literal["GET", "PUT"]) -> Any:
    return dag_access(method, run_entity())


@router.get("", dependencies=[_can("GET")])
async def list_notifications(
    recipient: Annotated[str | None, Query(max_length=200)] = None,
    workflow: Annotated[str | None, Query(max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]*$")] = None,
    status: Status | None = None,
    unread: bool | None = None,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="ids below this (paging)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> DeliveryPage:
    """Newest first."""
    rows = await run_in_threadpool(
        DeliveryLog().list, recipient=recipient, workflow=workflow, status=status, unread=unread, before=before,
        limit=limit,
    )  # fmt: skip
    return DeliveryPage(
        notifications=[Delivery(**r) for r in rows], next_before=rows[-1]["id"] if len(rows) == limit else None
    )


def _event(row: dict[str, Any]) -> str:
    return f"id: {row['id']}\nevent: notification\ndata: {json.dumps(row, default=str)}\n\n"


@router.get(
    "/stream",
    dependencies=[_can("GET")],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "one `notification` event per row"},
               503: {"description": "too many streams open"}},
)  # fmt: skip
async def stream_notifications(
    request: Request,
    recipient: Annotated[str | None, Query(max_length=200, description="this user's and everyone's")] = None,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1, description="start after this id (default: now)")] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", pattern=r"^[0-9]{1,18}$")] = None,
) -> StreamingResponse:
    """In-app notifications as Server-Sent Events, oldest first. Without `after` or Last-Event-ID, only
    the ones to come; with either, the ones after that id first (at most 500), so a reconnect loses none."""
    if not _streams.acquire(blocking=False):
        return JSONResponse({"detail": f"too many notification streams open (at most {MAX_STREAMS})"}, 503)  # type: ignore[return-value]
    start = int(last_event_id) if last_event_id is not None else after
    try:
        feed = await run_in_threadpool(NotificationFeed, recipient, start)
    except BaseException:
        _streams.release()
        raise
    try:
        first = await run_in_threadpool(feed.backlog)
    except BaseException:
        await run_in_threadpool(feed.close)
        _streams.release()
        raise

    async def events() -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n\n"
            for row in first:
                yield _event(row)
            ends = time.monotonic() + STREAM_SECONDS
            quiet_since = time.monotonic()
            while time.monotonic() < ends and not await request.is_disconnected():
                rows = await run_in_threadpool(feed.wait, POLL_SECONDS)
                for row in rows:
                    yield _event(row)
                if rows:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
                    quiet_since = time.monotonic()
                    yield ": keep-alive\n\n"
        finally:
            await run_in_threadpool(feed.close)
            _streams.release()

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


@router.post("/{delivery_id}/read", dependencies=[_can("PUT")])
async def mark_read(delivery_id: DeliveryId) -> Delivery:
    """Mark a delivery read (and its in-app notification); idempotent. 404 when there is none."""
    row = await run_in_threadpool(DeliveryLog().mark_read, delivery_id)
    if row is None:
        raise NotFoundError(f"no notification {delivery_id}")
    return Delivery(**row)


@router.post("/{delivery_id}/replay", dependencies=[_can("PUT")])
async def replay_delivery(delivery_id: DeliveryId) -> Delivery:
    """Send a failed delivery again, as its next attempt; the row after it. 404 when there is none,
    409 when it is not failed (sent, or being sent by another replay)."""

    def run() -> dict[str, Any]:
        log = DeliveryLog()
        if log.get(delivery_id) is None:
            raise NotFoundError(f"no notification {delivery_id}")
        if replay(delivery_id) is None:
            raise ConflictError(f"notification {delivery_id} did not fail: nothing to replay")
        row = log.get(delivery_id)
        assert row is not None
        return row

    return Delivery(**await run_in_threadpool(run))
