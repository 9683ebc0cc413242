"""`airflow_adapter.runs` against the installed Airflow: the DagRun / TaskInstance / XCom models and
columns the executions and statistics read, DBDagBag, `dag.clear`, `patch_dag_run_state` and the
cascade of a run's deletion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from automation.airflow_adapter import runs
from automation.airflow_adapter.db import airflow_session
from tests.airflow_adapter.conftest import PROBE_DAG_ID


def states(run_id: str) -> dict[str, str | None]:
    with airflow_session() as session:
        return {ti.task_id: ti.state for ti in runs.task_instances(session, PROBE_DAG_ID, run_id)}


def test_the_models_have_the_columns_the_package_reads() -> None:
    DagRun, TI = runs.run_models()
    assert [c for c in runs.RUN_COLUMNS if not hasattr(DagRun, c)] == []
    assert [c for c in runs.TI_COLUMNS if not hasattr(TI, c)] == []


def test_task_instances_and_return_values_of_a_run(probe_run: Callable[[], Any]) -> None:
    run = probe_run()
    assert states(run.run_id) == {"out": "success", "boom": "failed"}
    with airflow_session() as session:
        (row,) = [ti for ti in runs.task_instances(session, PROBE_DAG_ID, run.run_id) if ti.task_id == "out"]
        assert row.map_index == -1 and row.try_number == 1 and row.start_date <= row.end_date
        assert runs.return_values(session, PROBE_DAG_ID, run.run_id) == {("out", -1): {"n": 1}}


def test_a_run_and_the_dag_it_executes(probe_run: Callable[[], Any]) -> None:
    run = probe_run()
    with airflow_session() as session:
        found = runs.dag_run(session, PROBE_DAG_ID, run.run_id)
        assert found is not None and found.state == "failed"
        dag = runs.dag_for_run(session, found)
        assert dag is not None and dag.dag_id == PROBE_DAG_ID and set(dag.task_ids) == {"out", "boom"}
        assert runs.dag_run(session, PROBE_DAG_ID, "no-such-run") is None


def test_clear_failed_then_mark_failed(probe_run: Callable[[], Any]) -> None:
    run = probe_run()
    with airflow_session() as session:
        found = runs.dag_run(session, PROBE_DAG_ID, run.run_id)
        assert runs.clear_failed(session, runs.dag_for_run(session, found), run.run_id) == 1
    assert states(run.run_id) == {"out": "success", "boom": None}  # cleared: the scheduler runs it again
    with airflow_session() as session:
        found = runs.dag_run(session, PROBE_DAG_ID, run.run_id)
        assert found.state == "queued"
        assert runs.clear_failed(session, runs.dag_for_run(session, found), run.run_id) == 0  # nothing failed
        runs.mark_failed(session, runs.dag_for_run(session, found), found)
    with airflow_session() as session:
        assert runs.dag_run(session, PROBE_DAG_ID, run.run_id).state == "failed"


def test_finished_runs_beyond_the_newest_and_their_deletion(probe_run: Callable[[], Any]) -> None:
    older, newer = probe_run(), probe_run()
    found = runs.finished_runs_beyond(PROBE_DAG_ID, 1, ("failed",))
    assert older.run_id in [run_id for _, _, run_id, _ in found]
    assert newer.run_id not in [run_id for _, _, run_id, _ in found]  # the newest is kept
    assert runs.finished_runs_beyond(PROBE_DAG_ID, 1, ("success",)) == []
    assert runs.finished_runs_beyond("no_such_prefix", 0, ("failed",)) == []
    runs.delete_runs([pk for pk, _, run_id, _ in found if run_id == older.run_id])
    with airflow_session() as session:
        assert runs.dag_run(session, PROBE_DAG_ID, older.run_id) is None
        assert runs.task_instances(session, PROBE_DAG_ID, older.run_id) == []  # cascaded
        assert runs.return_values(session, PROBE_DAG_ID, older.run_id) == {}
        assert runs.dag_run(session, PROBE_DAG_ID, newer.run_id) is not None
