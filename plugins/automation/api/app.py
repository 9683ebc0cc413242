"""The automation FastAPI app (OpenAPI at /automation/openapi.json)."""

from __future__ import annotations

from fastapi import FastAPI

from automation import __version__
from automation.api import bundles, events, executions, stats, templates, webhooks, workflows
from automation.api.errors import install_error_handlers
from automation.pages import routes as pages


def create_app() -> FastAPI:
    app = FastAPI(title="Airflow Automations", version=__version__, description="Workflow automation API")
    install_error_handlers(app)
    app.include_router(events.router)
    app.include_router(webhooks.router)
    app.include_router(workflows.router)
    app.include_router(bundles.router)
    app.include_router(templates.router)
    app.include_router(executions.router)
    app.include_router(stats.router)
    app.include_router(pages.router)
    return app
