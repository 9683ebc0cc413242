"""Executions read from Airflow's own runs (real `dag.test()` runs on the test Postgres)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from automation.airflow_adapter.runs import DATETIME_TRIGGER
from automation.errors import ConflictError, NotFoundError
from automation.insights.executions import cancel_execution, get_execution, list_executions, retry_execution
from tests.helpers import workflow
from tests.insights.conftest import failing_workflow, guarded_workflow

pytestmark = pytest.mark.usefixtures("db", "airflow_db")


def test_success_failed_and_skipped_runs_are_listed_with_status_version_and_steps(create, run_workflow) -> None:
    create(guarded_workflow("ins-guarded"))
    ok = run_workflow("ins-guarded", name="VIP account")
    skipped = run_workflow("ins-guarded", name="small fish")

    total, executions = list_executions("ins-guarded")
    assert total == 2
    by_run = {e.run_id: e for e in executions}
    assert by_run[ok.run_id].status == "success"
    assert by_run[skipped.run_id].status == "skipped"
    assert {e.version for e in executions} == {1}
    assert all(e.duration_s is not None and e.duration_s >= 0 for e in executions)
    assert by_run[ok.run_id].airflow_url.startswith("/dags/automation__ins-guarded/runs/")
    assert list_executions("ins-guarded", status="skipped")[0] == 1

    detail = get_execution("ins-guarded", ok.run_id)
    assert [s.step_id for s in detail.steps] == ["conditions", "create_deal", "to_proposition"]
    created = detail.steps[1]
    assert created.state == "success" and created.attempts == 1
    assert created.output["name"] == "VIP account"  # the recorded effect: the created deal
    assert detail.steps[0].output["run"] is True  # the gate's XCom

    skipped_detail = get_execution("ins-guarded", skipped.run_id)
    assert [s.state for s in skipped_detail.steps] == ["success", "skipped", "skipped"]


def test_a_failed_step_records_its_error_message(create, run_workflow) -> None:
    create(failing_workflow("ins-closer"))
    run = run_workflow("ins-closer", deal_id=424242)
    assert run.state == "failed"

    total, executions = list_executions("ins-closer", status="failed")
    assert total == 1 and executions[0].status == "failed"
    detail = get_execution("ins-closer", run.run_id)
    steps = {s.step_id: s for s in detail.steps}
    assert steps["note"].state == "success"
    failed = steps["close_missing"]
    assert failed.state == "failed" and failed.attempts == 1
    assert "424242" in failed.error and failed.error_class
    assert failed.failed_attempts[0]["try_number"] == 1


def test_unknown_workflow_or_run_is_not_found(create) -> None:
    with pytest.raises(NotFoundError):
        list_executions("nope")
    create(workflow("ins-known"))
    assert list_executions("ins-known") == (0, [])
    with pytest.raises(NotFoundError):
        get_execution("ins-known", "manual__nope")


def test_retry_clears_the_failed_steps_and_cancel_fails_the_run(create, run_workflow) -> None:
    create(failing_workflow("ins-retry"))
    run = run_workflow("ins-retry", deal_id=515151)
    with pytest.raises(ConflictError):
        cancel_execution("ins-retry", run.run_id)  # already ended

    retried = retry_execution("ins-retry", run.run_id)
    assert retried.status == "queued"  # Airflow's clear re-queued the run for the scheduler
    steps = {s.step_id: s for s in retried.steps}
    assert steps["note"].state == "success"  # only the failed step is cleared
    assert steps["close_missing"].state is None and steps["close_missing"].error is None
    assert steps["close_missing"].failed_attempts[0]["try_number"] == 1  # the history stays
    with pytest.raises(ConflictError):
        retry_execution("ins-retry", run.run_id)  # nothing failed any more

    cancelled = cancel_execution("ins-retry", run.run_id)
    assert cancelled.status == "failed"
    assert list_executions("ins-retry", status="failed")[0] == 1
    with pytest.raises(NotFoundError):
        retry_execution("ins-retry", "manual__nope")


def test_a_step_says_when_it_was_queued_and_what_it_waits_on_while_deferred(create, run_workflow) -> None:
    """Airflow's own rows of a deferral: a rate-limit wait on a `DateTimeTrigger` and an approval asked
    (`hitl_detail`); the detail says since when, until when, and who may answer where, nothing else."""
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session

    create(guarded_workflow("ins-waits"))
    run = run_workflow("ins-waits", name="VIP account")
    deferred_at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    moment = deferred_at + timedelta(minutes=5)
    with create_session() as session:
        tis = {
            ti.task_id: ti
            for ti in session.query(TaskInstance).filter_by(dag_id="automation__ins-waits", run_id=run.run_id)
        }
        trigger = Trigger(DATETIME_TRIGGER, {"moment": moment, "end_from_trigger": False}, created_date=deferred_at)
        session.add(trigger)
        session.flush()
        limited, asked = tis["create_deal"], tis["to_proposition"]
        limited.state, limited.next_method, limited.trigger_id = "deferred", "after_rate_limit", trigger.id
        limited.next_kwargs = {"event_id": 7, "secret": "not shown"}
        limited.queued_dttm = deferred_at - timedelta(seconds=3)
        asked.state, asked.next_method, asked.end_date = "awaiting_input", "execute_complete", None
        asked.trigger_timeout = deferred_at + timedelta(hours=1)  # Airflow 3.3 parks HITL: no trigger
        session.add(
            HITLDetail(
                ti_id=asked.id,
                options=["Approve", "Reject"],
                subject="Go?",
                assignees=[{"id": "ann", "name": "Ann"}],
                created_at=deferred_at,
            )
        )

    steps = {s.step_id: s for s in get_execution("ins-waits", run.run_id).steps}
    rate = steps["create_deal"]
    assert rate.queued_at == deferred_at - timedelta(seconds=3)
    assert rate.waiting is not None and rate.waiting.model_dump(exclude_none=True) == {
        "kind": "deferred", "reason": "rate_limit", "since": deferred_at, "until": moment,
    }  # fmt: skip
    approval = steps["to_proposition"].waiting
    assert approval is not None and approval.kind == "awaiting_approval" and approval.since == deferred_at
    assert approval.until == deferred_at + timedelta(hours=1)  # its timeout
    assert approval.assignees == ["ann"]
    assert (
        approval.answer_url
        == f"/dags/automation__ins-waits/runs/{quote(run.run_id, safe='')}/tasks/to_proposition/required_actions"
    )
    assert steps["conditions"].waiting is None  # a step that is not deferred waits on nothing
