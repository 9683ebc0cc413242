"""POST /webhooks/{key}: no Airflow login; an HMAC signature instead (see events.webhooks).

The body's size and nesting are bounded before this route runs (api.limits). An unknown key, a
workflow that is not an active webhook, a missing secret and a bad, missing or stale signature all
get the same 404 with the same body, so keys cannot be enumerated; the reason (and the secret's
connection id) goes to the api-server log only. A database outage is a 503 (retry), never a 404.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from automation.airflow_adapter.connections import connection_password
from automation.definitions.files import load_json
from automation.events.ingest import ingest
from automation.events.models import MAX_ACTOR, EventIn
from automation.events.webhooks import SIGNATURE_HEADER, SignatureError, default_secret_conn_id, verify
from automation.store.db import ingest_engine
from automation.store.repository import Repository

router = APIRouter(tags=["webhooks"])
log = logging.getLogger(__name__)

#: What every refused delivery gets, whatever the reason (the log says which).
REFUSED = "no active webhook with this key accepts this delivery (check the key and the signature)"


def _refused(key: str, reason: str) -> HTTPException:
    log.warning("webhook %r refused: %s", key, reason)
    return HTTPException(404, REFUSED)


def _secret(conn_id: str) -> str | None:
    """The connection's password; None when the connection is not defined. Any other failure
    (Airflow's database down) propagates: the caller answers 503, not 'unknown key'."""
    return connection_password(conn_id)


def _webhook_workflow(key: str) -> str | None:
    """The secret's connection id of an ACTIVE webhook workflow, or None. Read with the ingest
    engine (short pool timeout), so a busy database answers 503 quickly."""
    from automation.errors import NotFoundError

    try:
        stored = Repository(ingest_engine()).get(key)
    except NotFoundError:
        return None
    trigger = stored.definition.get("trigger") or {}
    if stored.status != "ACTIVE" or trigger.get("type") != "webhook":
        return None
    return trigger.get("secret_conn_id") or default_secret_conn_id(key)


RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "unknown key, inactive workflow or bad signature (indistinguishable)"},
    409: {"description": "replayed delivery"},
    413: {"description": "body too large"},
    503: {"description": "database unavailable or busy: retry after Retry-After seconds"},
}


@router.post("/webhooks/{key}", status_code=202, responses=RESPONSES)
async def receive_webhook(key: str, request: Request) -> JSONResponse:
    body = await request.body()
    conn_id = await run_in_threadpool(_webhook_workflow, key)
    if conn_id is None:
        raise _refused(key, "no ACTIVE workflow with a webhook trigger has this key")
    secret = await run_in_threadpool(_secret, conn_id)
    if not secret:
        raise _refused(key, f"its secret is not configured (Airflow connection {conn_id!r} with a password)")
    try:
        digest = verify(secret, body, request.headers.get(SIGNATURE_HEADER))
    except SignatureError as exc:
        raise _refused(key, str(exc)) from exc
    try:
        payload = load_json(body or b"{}")
    except ValueError as exc:
        raise HTTPException(422, "body: expected a JSON object") from exc
    if not isinstance(payload, dict):
        raise HTTPException(422, "body: expected a JSON object")
    event = EventIn(entity="webhook", event=key, new=payload, idempotency_key=f"webhook:{key}:{digest}",
                    actor=(request.headers.get("User-Agent") or "")[:MAX_ACTOR] or None)  # fmt: skip
    (result,) = await run_in_threadpool(ingest, [event])
    if not result.created:
        raise HTTPException(409, "this delivery was already received (replay)")
    return JSONResponse({"id": result.id}, status_code=202)
