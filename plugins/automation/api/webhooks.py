"""POST /webhooks/{key}: no Airflow login; the trigger's verification scheme instead (events.webhooks).

The body's size and nesting are bounded before this route runs (api.limits). An unknown key, a
workflow that is not an active webhook, a missing secret and a bad, missing or stale signature (or
token) all get the same 404 with the same body, so keys cannot be enumerated; the reason (and the
secret's connection id) goes to the api-server log only. A database outage is a 503 (retry), never a
404. A verified delivery is one ledger event: its body as `new`, and the request's visible headers
and query parameters as `old_data = {"headers": ..., "query": ...}` (a webhook has no previous
state), which the run shows as `trigger.headers` and `trigger.query`; a replay is a 409.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from automation.airflow_adapter.connections import connection_password
from automation.definitions.triggers import WebhookTrigger
from automation.events.ingest import ingest
from automation.events.models import MAX_ACTOR, EventIn
from automation.events.webhooks import (
    DeliveryError,
    SignatureError,
    default_secret_conn_id,
    delivery_body,
    replay_key,
    slack_challenge,
    verify_delivery,
    visible_headers,
    visible_query,
)
from automation.store.db import ingest_engine
from automation.store.repository import Repository

router = APIRouter(tags=["webhooks"])
log = logging.getLogger(__name__)

#: What every refused delivery gets, whatever the reason (the log says which).
REFUSED = "no active webhook with this key accepts this delivery (check the key and the signature or token)"


def _refused(key: str, reason: str) -> HTTPException:
    log.warning("webhook %r refused: %s", key, reason)
    return HTTPException(404, REFUSED)


def _secret(conn_id: str) -> str | None:
    """The connection's password; None when the connection is not defined. Any other failure
    (Airflow's database down) propagates: the caller answers 503, not 'unknown key'."""
    return connection_password(conn_id)


def _webhook_workflow(key: str) -> tuple[WebhookTrigger, str] | None:
    """The trigger and the secret's connection id of an ACTIVE webhook workflow, or None. Read with
    the ingest engine (short pool timeout), so a busy database answers 503 quickly."""
    from automation.errors import NotFoundError

    try:
        stored = Repository(ingest_engine()).get(key)
    except NotFoundError:
        return None
    trigger = stored.definition.get("trigger") or {}
    if stored.status != "ACTIVE" or trigger.get("type") != "webhook":
        return None
    try:
        model = WebhookTrigger.model_validate(trigger)
    except ValidationError:  # stored before a change of the model: `automation validate` names the field
        log.warning("webhook %r: its stored trigger is not valid; validate and save the workflow again", key)
        return None
    return model, model.secret_conn_id or default_secret_conn_id(key)


RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "unknown key, inactive workflow, bad or stale signature or token (indistinguishable)"},
    200: {"description": "Slack's url_verification handshake: its challenge, echoed"},
    409: {"description": "replayed delivery"},
    422: {"description": "a verified delivery whose body or query cannot be taken (the path says which)"},
    413: {"description": "body too large"},
    503: {"description": "database unavailable or busy: retry after Retry-After seconds"},
}


def _unprocessable(exc: DeliveryError) -> JSONResponse:
    return JSONResponse({"detail": str(exc), "errors": [{"path": exc.path, "message": exc.message}]}, status_code=422)


@router.post("/webhooks/{key}", status_code=202, responses=RESPONSES)
async def receive_webhook(key: str, request: Request) -> JSONResponse:
    body = await request.body()
    found = await run_in_threadpool(_webhook_workflow, key)
    if found is None:
        raise _refused(key, "no ACTIVE workflow with a webhook trigger has this key")
    trigger, conn_id = found
    secret = await run_in_threadpool(_secret, conn_id)
    if not secret:
        raise _refused(key, f"its secret is not configured (Airflow connection {conn_id!r} with a password)")
    verification = trigger.verification
    try:
        verified = verify_delivery(verification, secret, body, request.headers)
    except SignatureError as exc:
        raise _refused(key, f"{verification.scheme} verification: {exc}") from exc
    try:
        payload = delivery_body(body, request.headers.get("Content-Type"))
        query = visible_query(request.query_params.multi_items())
    except DeliveryError as exc:
        return _unprocessable(exc)
    if (challenge := slack_challenge(verification, payload)) is not None:
        return JSONResponse({"challenge": challenge}, status_code=200)
    request_data = {"headers": visible_headers(request.headers.items(), verification), "query": query}
    event = EventIn(entity="webhook", event=key, new=payload, old=request_data,
                    idempotency_key=replay_key(key, verified, payload),
                    actor=(request.headers.get("User-Agent") or "")[:MAX_ACTOR] or None)  # fmt: skip
    (result,) = await run_in_threadpool(ingest, [event], source="webhook")
    if not result.created:
        raise HTTPException(409, "this delivery was already received (replay)")
    return JSONResponse({"id": result.id}, status_code=202)
