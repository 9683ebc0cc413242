"""Bounded request bodies, enforced before any route (or FastAPI's JSON parser) sees them.

Every request body is at most its route's limit: `[automation] max_event_bytes` for one event,
`[automation] max_webhook_bytes` for a webhook delivery, `[automation] max_request_bytes` for the
rest. A declared Content-Length over the limit is refused (413) before a byte of the body is read;
a chunked body is read only up to the limit. A JSON body nested deeper than `MAX_NESTING` is
refused (422) before it is parsed. Webhooks are checked here, so before their key, workflow or
signature is looked at: an unauthenticated sender gets the same answer for every key.
"""

from __future__ import annotations

import anyio
from starlette._utils import get_route_path
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from automation.api.middleware import HttpMiddleware
from automation.config import max_event_bytes, max_request_bytes, max_webhook_bytes
from automation.definitions.files import nesting_message, too_deep

#: Bodies that are not JSON (YAML bundles, form posts) are not scanned for JSON nesting.
NOT_JSON = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml",
            "application/x-www-form-urlencoded", "multipart/form-data")  # fmt: skip
SCAN_OFF_LOOP_BYTES = 64 * 1024


def body_limit(path: str) -> tuple[int, str]:
    """The largest body a route accepts, and the setting that says so."""
    if path == "/api/v1/events":
        return max_event_bytes(), "[automation] max_event_bytes"
    if path.startswith("/webhooks/"):
        return max_webhook_bytes(), "[automation] max_webhook_bytes"
    return max_request_bytes(), "[automation] max_request_bytes"


def _too_large(limit: int, setting: str) -> JSONResponse:
    # Connection: close, so the server stops reading the rest of an oversized body
    return JSONResponse(
        {"detail": f"body: larger than {limit} bytes (the server's {setting})"},
        status_code=413,
        headers={"Connection": "close"},
    )


class BodyLimits(HttpMiddleware):
    """Pure ASGI middleware: reads the body (up to its limit), checks it, then replays it."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit, setting = body_limit(get_route_path(scope))
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(limit, setting)(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away: nothing to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(limit, setting)(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if body and content_type not in NOT_JSON and await _too_deep(body):
            reason = nesting_message()
            response = JSONResponse({"detail": f"body: {reason}", "errors": [{"path": "", "message": reason}]}, 422)
            await response(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


async def _too_deep(body: bytes) -> bool:
    if len(body) > SCAN_OFF_LOOP_BYTES:
        return await anyio.to_thread.run_sync(too_deep, body)
    return too_deep(body)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body as one message, then the client's own messages (e.g. http.disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
