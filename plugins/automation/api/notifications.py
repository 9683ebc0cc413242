"""The delivery log over HTTP: GET /api/v1/notifications (every notice and notification per channel, with
status, error and attempt; filters recipient, workflow, status, unread), mark one read, replay a failed
one (sent once however many replays race). Airflow auth: reading needs read access to DAG runs, marking
and replaying edit access (as retrying a run)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from automation.airflow_adapter.access import dag_access, run_entity
from automation.channels import replay
from automation.errors import ConflictError, NotFoundError
from automation.store.deliveries import MAX_PAGE, DeliveryLog

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])

Status = Literal["sending", "sent", "failed"]
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
