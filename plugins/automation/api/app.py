"""The automation FastAPI app (OpenAPI at /automation/openapi.json)."""

from __future__ import annotations

from fastapi import FastAPI

from automation import __version__
from automation.api import events, webhooks, workflows
from automation.api.errors import install_error_handlers


def create_app() -> FastAPI:
    app = FastAPI(title="Airflow Automations", version=__version__, description="Workflow automation API")
    install_error_handlers(app)
    app.include_router(events.router)
    app.include_router(webhooks.router)
    app.include_router(workflows.router)
    return app
