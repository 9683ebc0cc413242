"""Airflow Automations: record-triggered workflow automations on Apache Airflow."""

__version__ = "0.1.0"
