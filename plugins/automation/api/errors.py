"""4xx with the field path and what was expected; never a 500 or a traceback for bad input.

The package's own errors are answered as `services.errors.outcome` maps them (the mapping the pages
and the CLI use too); this module adds what only HTTP has: request validation, database exceptions.

A database that is down or out of pooled connections is a 503 with `Retry-After` (clients retry;
never a hang or a 500). Anything unexpected is a JSON 500 `{"detail": "internal error",
"error_id": ...}` whose traceback is logged under that id: no response body ever carries a
traceback or SQL text.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette._utils import get_route_path
from starlette.types import Message, Receive, Scope, Send

from automation.api.middleware import HttpMiddleware
from automation.definitions.issues import join_path
from automation.errors import AutomationError
from automation.services.errors import RETRY_AFTER_SECONDS, outcome

log = logging.getLogger(__name__)

#: The database is down, restarting, or every pooled connection is busy: retry later.
OUTAGES = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)


def _path(loc: tuple[Any, ...]) -> str:
    parts = list(loc[1:]) if loc and loc[0] in {"body", "query", "path"} else list(loc)
    return join_path(p for p in parts if p not in {"EventIn", "EventBatch"})


#: What every 4xx of this app looks like; replaces FastAPI's default 422 schema in the OpenAPI.
ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "message"],
                "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def _document_errors(app: FastAPI) -> None:
    default = app.openapi

    def openapi() -> dict[str, Any]:
        schema = default()
        schema.get("components", {}).get("schemas", {})["HTTPValidationError"] = ERROR_SCHEMA
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


UNIQUE_VIOLATION = "23505"
JSON_HINT = "NaN, Infinity and unpaired \\ud800-\\udfff escapes cannot be stored"
UNPAIRED_SURROGATE = "text cannot contain unpaired surrogates (\\ud800-\\udfff escapes without their pair)"


def refusal(exc: DBAPIError) -> str:
    """Postgres's reason in plain words (its primary message and column), never the statement,
    its parameters or the CONTEXT lines that quote them."""
    diag = getattr(getattr(exc, "orig", None), "diag", None)
    primary = (getattr(diag, "message_primary", None) or "the database refused a value").strip()
    column = getattr(diag, "column_name", None)
    hint = f" ({JSON_HINT})" if primary.endswith("type json") else ""
    return primary[:300] + (f" (field {column})" if column else "") + hint


def unavailable(detail: str) -> JSONResponse:
    """503 with Retry-After: the request may succeed later unchanged."""
    return JSONResponse(
        {"detail": f"{detail}; retry in {RETRY_AFTER_SECONDS} s"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


class CatchAll(HttpMiddleware):
    """Pure ASGI middleware, outside the app's handlers: an exception none of them turned into a
    response becomes a JSON 500 with an id; the traceback goes to the log under that id."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            error_id = uuid.uuid4().hex[:12]
            log.error("error_id=%s: unexpected error on %s %s", error_id, scope.get("method"), get_route_path(scope),
                      exc_info=exc)  # fmt: skip
            if started:  # part of a response is out: too late for another; the server ends the connection
                raise
            response = JSONResponse({"detail": "internal error", "error_id": error_id}, status_code=500)
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """The handlers (the `CatchAll` middleware is installed by `api.app`, around the body limits)."""
    _document_errors(app)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        issues = [
            {"path": _path(tuple(e["loc"])), "message": e["msg"].removeprefix("Value error, ")} for e in exc.errors()
        ]
        return JSONResponse({"detail": "invalid request", "errors": issues}, status_code=422)

    for outage in OUTAGES:

        @app.exception_handler(outage)
        async def _outage(request: Request, exc: Exception) -> JSONResponse:
            log.warning("%s %s: database unavailable (%s): %s", request.method, request.url.path,
                        type(exc).__name__, getattr(exc, "orig", None) or exc)  # fmt: skip
            return unavailable("the database is unavailable or busy")

    @app.exception_handler(AutomationError)
    async def _automation(request: Request, exc: AutomationError) -> JSONResponse:
        """Every deliberate error, as `services.errors.outcome` maps it (the one mapping)."""
        result = outcome(exc)
        return JSONResponse(result.body(), status_code=result.status, headers=result.headers())

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        """Postgres refused a value (a \\u0000 in JSON, a number out of range): the input's fault."""
        return JSONResponse({"detail": f"a value cannot be stored: {refusal(exc)}"}, status_code=422)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        """A unique value already stored (409), or a value a constraint refuses (422)."""
        if getattr(getattr(exc, "orig", None), "pgcode", None) == UNIQUE_VIOLATION:
            return JSONResponse({"detail": f"a value is already stored: {refusal(exc)}"}, status_code=409)
        return JSONResponse({"detail": f"a value cannot be stored: {refusal(exc)}"}, status_code=422)

    @app.exception_handler(ValueError)
    async def _nul(request: Request, exc: ValueError) -> JSONResponse:
        """psycopg2 refuses NUL characters, and UTF-8 cannot encode an unpaired surrogate
        ("\\ud800" in JSON), before Postgres sees them."""
        if isinstance(exc, UnicodeEncodeError) and "surrogate" in str(exc):
            return JSONResponse({"detail": UNPAIRED_SURROGATE}, status_code=422)
        if "NUL (0x00)" not in str(exc):
            raise exc
        return JSONResponse({"detail": "text cannot contain NUL (\\u0000) characters"}, status_code=422)
