"""The maintenance DAG file parses the way the dag-processor parses it, with configurable schedules."""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.maintenance.dags import maintenance_dags
from automation.maintenance.settings import MaintenanceSettings
from tests.conftest import ROOT


def test_the_dag_file_gives_the_cleanup_dag_weekly_on_sunday_at_three() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(ROOT / "dags" / "automation_maintenance.py"), bundle_path=Path(ROOT / "dags"))
    assert bag.import_errors == {}
    cleanup = bag.dags["automation_maintenance_cleanup"]
    assert cleanup.timetable.expression == "0 3 * * 0"
    assert "maintenance" in cleanup.tags and cleanup.max_active_runs == 1


def test_schedules_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOMATION_CLEANUP_CRON", "30 1 * * *")
    monkeypatch.setenv("AUTOMATION_KEEP_LAST_RUNS", "3")
    settings = MaintenanceSettings()
    assert settings.keep_last_runs == 3
    assert maintenance_dags(settings)["automation_maintenance_cleanup"].timetable.expression == "30 1 * * *"
