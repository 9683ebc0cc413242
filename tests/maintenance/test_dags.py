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


def test_the_maintenance_dags_are_created_unpaused_so_retention_runs_from_the_start() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(ROOT / "dags" / "automation_maintenance.py"), bundle_path=Path(ROOT / "dags"))
    assert bag.import_errors == {}
    assert {dag_id: dag.is_paused_upon_creation for dag_id, dag in bag.dags.items()} == {
        "automation_maintenance_cleanup": False,
        "automation_maintenance_daily_report": False,
        "automation_maintenance_weekly_report": False,
    }


def test_a_setting_creates_them_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__AUTOMATION__MAINTENANCE_PAUSED", "true")
    assert all(dag.is_paused_upon_creation for dag in maintenance_dags().values())
    monkeypatch.setenv("AIRFLOW__AUTOMATION__MAINTENANCE_PAUSED", "maybe")
    with pytest.raises(ValueError, match="maintenance_paused must be true or false"):
        maintenance_dags()
