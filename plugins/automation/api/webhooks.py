"""POST /webhooks/{key}: no Airflow login; an HMAC signature instead (see events.webhooks)."""

from __future__ import annotations

import json

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from automation.events.ingest import ingest
from automation.events.models import EventIn
from automation.events.webhooks import SIGNATURE_HEADER, SignatureError, default_secret_conn_id, verify
from automation.store.repository import Repository

router = APIRouter(tags=["webhooks"])


def _secret(conn_id: str) -> str | None:
    from airflow.models.connection import Connection

    try:
        return Connection.get_connection_from_secrets(conn_id).password
    except Exception:
        return None


def _webhook_workflow(key: str) -> str:
    """The secret's connection id of an ACTIVE webhook workflow, or 404."""
    try:
        stored = Repository().get(key)
    except Exception:
        stored = None
    trigger = (stored.definition.get("trigger") or {}) if stored else {}
    if stored is None or stored.status != "ACTIVE" or trigger.get("type") != "webhook":
        raise HTTPException(404, f"no active webhook workflow {key!r}")
    return trigger.get("secret_conn_id") or default_secret_conn_id(key)


@router.post("/webhooks/{key}", status_code=202, responses={401: {"description": "bad or stale signature"},
                                                             409: {"description": "replayed delivery"}})  # fmt: skip
async def receive_webhook(key: str, request: Request) -> JSONResponse:
    body = await request.body()
    conn_id = await run_in_threadpool(_webhook_workflow, key)
    secret = await run_in_threadpool(_secret, conn_id)
    if not secret:
        raise HTTPException(401, f"webhook secret not configured (Airflow connection {conn_id!r})")
    try:
        digest = verify(secret, body, request.headers.get(SIGNATURE_HEADER))
    except SignatureError as exc:
        raise HTTPException(401, str(exc)) from exc
    try:
        payload = json.loads(body or b"{}")
    except ValueError as exc:
        raise HTTPException(422, "body: expected a JSON object") from exc
    if not isinstance(payload, dict):
        raise HTTPException(422, "body: expected a JSON object")
    event = EventIn(entity="webhook", event=key, new=payload, idempotency_key=f"webhook:{key}:{digest}",
                    actor=request.headers.get("User-Agent"))  # fmt: skip
    (result,) = await run_in_threadpool(ingest, [event])
    if not result.created:
        raise HTTPException(409, "this delivery was already received (replay)")
    return JSONResponse({"id": result.id}, status_code=202)
