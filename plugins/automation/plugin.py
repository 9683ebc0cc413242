"""The Airflow plugin entry point (`airflow.plugins` entry point and plugins/ folder)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin


def _app():
    from automation.api.app import create_app

    return create_app()


class AutomationPlugin(AirflowPlugin):
    name = "automation"

    @property
    def fastapi_apps(self) -> list[dict]:  # type: ignore[override]
        return [{"app": _app(), "url_prefix": "/automation", "name": "Airflow Automations"}]
