"""The Airflow plugin entry point (`airflow.plugins` entry point and plugins/ folder)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.plugins_manager import AirflowPlugin

from automation.airflow_adapter import preload

if TYPE_CHECKING:
    from fastapi import FastAPI

APP_PREFIX = "/automation"


def _app() -> FastAPI:
    from automation.airflow_adapter import compat
    from automation.api.app import create_app

    compat.apply()  # here: only the api-server builds the plugin's app, and before Airflow builds its routes
    return create_app()


def _nav_item(name: str, page: str) -> dict[str, str]:
    """A Browse menu entry; with a `url_route` the Airflow UI shows the page inside its own frame
    at /plugin/<url_route>, and the UI's session cookie authenticates it."""
    return {
        "name": name,
        "href": f"{APP_PREFIX}/ui/{page}",
        "url_route": f"automation-{page}",
        "category": "Browse",
        "destination": "nav",
    }


class AutomationPlugin(AirflowPlugin):
    name = "automation"
    listeners = [preload]  # imports the runtime once in the scheduler and dag-processor (see the module)
    external_views = [
        _nav_item("Automation stats", "stats"),
        _nav_item("Automation templates", "templates"),
        _nav_item("Automation workflows", "workflows"),
        _nav_item("Automation failed runs", "failed"),
    ]

    # Airflow declares `fastapi_apps` a plain class attribute and only ever reads it; a property builds the
    # app when the api-server reads it, not when any process imports the plugin.
    @property
    def fastapi_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return [{"app": _app(), "url_prefix": APP_PREFIX, "name": "Airflow Automations"}]
