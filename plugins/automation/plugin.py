"""The Airflow plugin entry point (`airflow.plugins` entry point and plugins/ folder)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin


class AutomationPlugin(AirflowPlugin):
    name = "automation"
