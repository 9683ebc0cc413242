"""`airflow_adapter.compat` against the installed Airflow: each fix applies where its bug is, and the
model it patches accepts what the bug refused (tests/e2e/test_compat.py checks it over HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime

from automation.airflow_adapter import compat


def test_the_version_is_read_as_a_tuple() -> None:
    from airflow import __version__

    version = compat._version()
    assert len(version) == 3 and ".".join(map(str, version)) in __version__


def test_asset_events_list_runs_that_have_not_started() -> None:
    from airflow.api_fastapi.core_api.datamodels import assets

    applied = compat.apply()
    if compat._version() >= compat.ASSET_EVENTS_FIXED_IN:
        assert "asset_events_start_date_optional" not in applied  # upstream's fix is there: nothing to do
    fields = {"run_id": "r", "dag_id": "d", "logical_date": None, "start_date": None, "end_date": None,
              "state": "queued", "data_interval_start": None, "data_interval_end": None, "partition_key": "1",
              "triggering": True}  # fmt: skip
    known = {k: v for k, v in fields.items() if k in assets.DagRunAssetReference.model_fields}
    assert assets.DagRunAssetReference.model_validate(known).start_date is None
    started = assets.DagRunAssetReference.model_validate({**known, "start_date": datetime(2026, 1, 1, tzinfo=UTC)})
    assert started.start_date is not None
    assert compat.asset_events_start_date_optional() is False  # applied once: nothing left to fix
