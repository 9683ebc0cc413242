"""Airflow loads this file from the plugins folder; the package next to it holds everything else."""

from automation.plugin import AutomationPlugin

__all__ = ["AutomationPlugin"]
