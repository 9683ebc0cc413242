"""`airflow_adapter.runs.trigger_manual_run` against the installed Airflow: `trigger_dag` makes a queued
manual run with the conf, checked against the DAG's params; a taken run id, an unknown DAG and a run id
Airflow refuses are the package's errors."""

from __future__ import annotations

from typing import Any

import pytest

from automation.airflow_adapter import runs
from automation.airflow_adapter.db import airflow_session
from automation.errors import ConflictError
from tests.airflow_adapter.conftest import PROBE_DAG_ID


def test_a_manual_run_is_queued_with_its_conf(probe_dag: Any) -> None:
    run_id = runs.trigger_manual_run(PROBE_DAG_ID, {"entity_id": 42}, run_id="manual__record_42", user="alice")
    assert run_id == "manual__record_42"
    with airflow_session() as session:
        run = runs.dag_run(session, PROBE_DAG_ID, run_id)
        assert run is not None
        assert (run.state, str(run.run_type), run.conf, run.triggering_user_name) == (
            "queued", "manual", {"entity_id": 42}, "alice"
        )  # fmt: skip
        assert str(run.triggered_by.value) == "rest_api"

    generated = runs.trigger_manual_run(PROBE_DAG_ID, {}, via="cli")
    assert generated.startswith("manual__")

    with pytest.raises(ConflictError, match="already has a run 'manual__record_42'") as taken:
        runs.trigger_manual_run(PROBE_DAG_ID, {}, run_id="manual__record_42")
    assert getattr(taken.value, "path", None) == "run_id"


def test_an_unknown_dag_and_a_refused_run_id(probe_dag: Any) -> None:
    with pytest.raises(ConflictError, match="Airflow does not have the DAG automation__nope yet"):
        runs.trigger_manual_run("automation__nope", {})
    with pytest.raises(ValueError, match="scheduled"):  # a manual run may not take a scheduled run's id
        runs.trigger_manual_run(PROBE_DAG_ID, {}, run_id="scheduled__2026-01-01T00:00:00+00:00")
