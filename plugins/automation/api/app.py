"""The automation FastAPI app (OpenAPI at /automation/openapi.json). Airflow mounts it at
/automation inside its api-server, so its middlewares see only this app's requests:
security headers (outermost), the catch-all 500, then the body limits, then the routes."""

from __future__ import annotations

from fastapi import FastAPI

from automation import __version__
from automation.api import bundles, events, executions, notifications, stats, templates, webhooks, workflows
from automation.api.errors import CatchAll, install_error_handlers
from automation.api.headers import SecurityHeaders
from automation.api.limits import BodyLimits
from automation.pages import routes as pages


def create_app() -> FastAPI:
    app = FastAPI(title="Airflow Automations", version=__version__, description="Workflow automation API")
    install_error_handlers(app)
    app.add_middleware(BodyLimits)  # each add wraps the previous: this one is innermost
    app.add_middleware(CatchAll)
    app.add_middleware(SecurityHeaders)
    app.include_router(events.router)
    app.include_router(webhooks.router)
    app.include_router(workflows.router)
    app.include_router(bundles.router)
    app.include_router(templates.router)
    app.include_router(executions.router)
    app.include_router(stats.router)
    app.include_router(notifications.router)
    app.include_router(pages.router)
    return app
