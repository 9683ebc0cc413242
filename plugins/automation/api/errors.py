"""4xx with the field path and what was expected; never a 500 or a traceback for bad input."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError

from automation.definitions.issues import join_path
from automation.errors import AutomationError, ConflictError, DefinitionError, NotFoundError, StoreError


def _path(loc: tuple) -> str:
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

    def openapi() -> dict:
        schema = default()
        schema.get("components", {}).get("schemas", {})["HTTPValidationError"] = ERROR_SCHEMA
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    _document_errors(app)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        issues = [
            {"path": _path(tuple(e["loc"])), "message": e["msg"].removeprefix("Value error, ")} for e in exc.errors()
        ]
        return JSONResponse({"detail": "invalid request", "errors": issues}, status_code=422)

    @app.exception_handler(DefinitionError)
    async def _definition(request: Request, exc: DefinitionError) -> JSONResponse:
        return JSONResponse({"detail": "invalid definition", "errors": [i.as_dict() for i in exc.issues]}, 422)

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(ConflictError)
    async def _conflict(request: Request, exc: ConflictError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(AutomationError)
    async def _automation(request: Request, exc: AutomationError) -> JSONResponse:
        """Any other deliberate error (a template, condition or registry problem) is the request's."""
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        """Postgres refused a value (a \\u0000 in JSON, a number out of range): the input's fault."""
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()
        return JSONResponse({"detail": f"a value cannot be stored: {' '.join(reason[:3])}"}, status_code=422)

    @app.exception_handler(ValueError)
    async def _nul(request: Request, exc: ValueError) -> JSONResponse:
        """psycopg2 refuses NUL characters in text before Postgres sees them."""
        if "NUL (0x00)" not in str(exc):
            raise exc
        return JSONResponse({"detail": "text cannot contain NUL (\\u0000) characters"}, status_code=422)
