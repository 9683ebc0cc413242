"""The Airflow callbacks a workflow's DAG and tasks carry (run alerts, failed attempts, step notices).

Invariant: importing this module imports nothing beyond the standard library; each callback imports
what it does when it is called, so a parse (thousands of tasks carry these) pays nothing for them.
Every callback logs and swallows its own errors: a callback never fails a task or a run.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

#: The workflow's DeadlineAlert callback (automation.alerts.deadline), run by the triggerer.
DEADLINE_CALLBACK = "automation.alerts.deadline.deadline_missed"


class RunFinished:
    """DAG on_success/on_failure callback: counts failure streaks, sends alerts and recoveries."""

    def __init__(self, *, failed: bool, alerts: dict[str, Any], name: str) -> None:
        self.failed, self.alerts, self.name = failed, alerts, name

    def __call__(self, context: Any) -> None:
        from automation.alerts.failures import on_run_finished

        on_run_finished(context, failed=self.failed, alerts=self.alerts, name=self.name)
        if self.failed:
            close_unclaimed_event(context)


def close_unclaimed_event(context: Any) -> None:
    """A failed run of a ledger event whose gate never claimed the event (its first task failed to start):
    its outcome becomes `not_started`, so the ordering per record does not wait for it."""
    try:
        from automation.config import key_for_dag_id
        from automation.store.record_order import RecordOrder

        dag_run = context["dag_run"]
        partition_key = str(getattr(dag_run, "partition_key", None) or "")
        key = key_for_dag_id(dag_run.dag_id)
        if partition_key.isdigit() and key and RecordOrder().close_unclaimed(int(partition_key), key, dag_run.run_id):
            log.info("Run %s ended before its gate claimed event %s", dag_run.run_id, partition_key)
    except Exception:
        log.exception("Could not record the end of an unclaimed event's run")


def _record_failure(context: Any, will_retry: bool) -> None:
    """Keep why an attempt failed (Airflow keeps no message on a task instance)."""
    ti, error = context["ti"], context.get("exception")
    try:
        from automation.store.runs import RunRecords

        RunRecords().record_failure(
            dag_id=ti.dag_id,
            run_id=ti.run_id,
            task_id=ti.task_id,
            map_index=-1 if getattr(ti, "map_index", None) is None else ti.map_index,
            try_number=getattr(ti, "try_number", None) or 1,
            error_class=type(error).__name__ if isinstance(error, BaseException) else "TaskFailure",
            message=str(error or "") or (type(error).__name__ if error is not None else "the task failed"),
            will_retry=will_retry,
        )
    except Exception:
        log.exception("Could not record the failure of %s", ti.task_id)


def record_failed_attempt(context: Any) -> None:
    _record_failure(context, will_retry=False)


def record_retried_attempt(context: Any) -> None:
    _record_failure(context, will_retry=True)


class StepNoticeCallback:
    """An Airflow task callback (on_success/on_retry/on_failure) for one kind of step notice."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __call__(self, context: Any) -> None:
        try:
            from automation.runtime.step_notices import send_step_notice

            send_step_notice(context, self.kind)  # type: ignore[arg-type]  # one of NoticeKind, set by task_kwargs
        except Exception:
            log.exception("Could not send the %s notice of task %s", self.kind, context.get("ti"))

    def __repr__(self) -> str:
        return f"StepNoticeCallback({self.kind!r})"
