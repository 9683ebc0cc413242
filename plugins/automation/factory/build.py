"""Definition -> Airflow DAG: each step's tasks (as its action's `build_tasks` says), plus a gate task
when there are conditions or the trigger is an event."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any, get_args

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, TriggerRule
from airflow.sdk.definitions.callback import AsyncCallback  # public in airflow.sdk, missing from its stub
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

from automation.actions import Action, get_action
from automation.alerts.deadline import CALLBACK_PATH as DEADLINE_CALLBACK
from automation.alerts.failures import on_run_finished
from automation.config import dag_id_for
from automation.definitions import Status, Step, Workflow
from automation.definitions.notices import NoticeKind
from automation.definitions.triggers import EVENT_TRIGGERS, SCAN_SUFFIX, InactivityTrigger
from automation.factory.doc import doc_md
from automation.factory.params import params_for
from automation.factory.schedule import schedule_for, timezone_for
from automation.runtime.operators import EACH_SUFFIX, GATE_TASK_ID, ForEachItemOperator, GateOperator, StepOperator

_NOTICE_KINDS = get_args(NoticeKind)

#: Fixed, so a parse never changes the DAG when the definition did not change.
START_DATE = (2024, 1, 1)


def _seconds(value: int | None) -> timedelta | None:
    return timedelta(seconds=value) if value is not None else None


def _task_args(step: Step, workflow: Workflow, version: int, dag: DAG, trigger_rule: str) -> dict[str, Any]:
    settings = workflow.settings
    policy = workflow.notify_policy(step)
    return dict(
        workflow_key=workflow.key,
        workflow_version=version,
        step_id=step.id,
        notices=[kind for kind in _NOTICE_KINDS if policy.notice(kind)] if policy is not None else [],
        retries=step.retries if step.retries is not None else settings.retries,
        retry_delay=_seconds(step.retry_delay if step.retry_delay is not None else settings.retry_delay),
        retry_exponential_backoff=2.0,
        max_retry_delay=_seconds(settings.max_retry_delay),
        execution_timeout=_seconds(step.timeout if step.timeout is not None else settings.timeout),
        priority_weight=settings.priority,
        owner=settings.owner,
        trigger_rule=trigger_rule,
        dag=dag,
    )


class StepTasks:
    """The `TaskKit` of one step: the Airflow tasks its action's `build_tasks` may ask for."""

    def __init__(self, step: Step, args: dict[str, Any]) -> None:
        self.step_id = step.id
        self.name = step.name or step.id
        self.args = args

    def step(self) -> Any:
        return StepOperator(task_id=self.step_id, task_display_name=self.name, **self.args)

    def each(self, items: Any) -> Any:
        each = ForEachItemOperator.partial(
            task_id=f"{self.step_id}{EACH_SUFFIX}", task_display_name=f"{self.name} (each)", **self.args
        ).expand(item=items.output)
        items >> each
        return each

    def approval(self) -> Any:
        from automation.runtime.hitl import ApprovalStepOperator  # the HITL provider, only for DAGs that ask

        return ApprovalStepOperator(task_id=self.step_id, task_display_name=self.name, **self.args)


def _step_tasks(step: Step, args: dict[str, Any]) -> tuple[Any, Any]:
    """(first, last) task of a step, as its action builds them (an unknown action: one step task,
    which fails saying so when it runs)."""
    action: Action[Any] | None = get_action(step.type)
    kit = StepTasks(step, args)
    if action is None:
        task = kit.step()
        return task, task
    return action.build_tasks(kit)


def _alert_args(workflow: Workflow) -> dict[str, Any]:
    """DAG callbacks that count failure streaks (alerts, recovery), and the run deadline alert."""
    alerts = workflow.settings.alerts
    dumped, name = alerts.model_dump(mode="json"), workflow.name
    args: dict[str, Any] = {
        "on_failure_callback": partial(on_run_finished, failed=True, alerts=dumped, name=name),
        "on_success_callback": partial(on_run_finished, failed=False, alerts=dumped, name=name),
    }
    if alerts.deadline is not None:
        args["deadline"] = DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=timedelta(seconds=alerts.deadline),
            callback=AsyncCallback(
                DEADLINE_CALLBACK,
                kwargs={"key": workflow.key, "name": workflow.name, "deadline_s": alerts.deadline,
                        "recipients": alerts.email, "notify": alerts.notify},
            ),
        )  # fmt: skip
    return args


def build_dag(workflow: Workflow, version: int) -> DAG:
    trigger = workflow.trigger
    settings = workflow.settings
    dag = DAG(
        dag_id=dag_id_for(workflow.key),
        dag_display_name=workflow.name,
        description=(workflow.description or workflow.name)[:500],
        schedule=schedule_for(trigger, workflow.key),
        start_date=pendulum.datetime(*START_DATE, tz=timezone_for(trigger)),
        catchup=getattr(trigger, "catchup", False),
        max_active_runs=settings.max_active_runs,
        tags={"automation", trigger.type, *settings.tags},
        params=params_for(trigger),
        doc_md=doc_md(workflow, version),
        is_paused_upon_creation=workflow.status != Status.ACTIVE,
        render_template_as_native_obj=False,
        **_alert_args(workflow),
    )
    upstream = workflow.upstream_map()
    by_id = {s.id: s for s in workflow.steps}
    tasks = {}
    for step in workflow.steps:
        upstream_ids = upstream[step.id]
        rule = TriggerRule.NONE_FAILED
        if upstream_ids and all(by_id[u].continue_on_failure for u in upstream_ids):
            rule = TriggerRule.ALL_DONE
        tasks[step.id] = _step_tasks(step, _task_args(step, workflow, version, dag, rule))
    for step_id, upstream_ids in upstream.items():
        for upstream_id in upstream_ids:
            tasks[upstream_id][1] >> tasks[step_id][0]
    if workflow.conditions is not None or trigger.type in EVENT_TRIGGERS:
        gate = GateOperator(
            task_id=GATE_TASK_ID,
            task_display_name="conditions",
            workflow_key=workflow.key,
            workflow_version=version,
            # idempotent (the run's claim, throttle and debounce marks are keyed by run and event), so a
            # retry is safe; Airflow 3.3.2 can fail a short deferral whose trigger fires before the
            # scheduler handled the deferring attempt's exit, and the retry recovers it
            retries=settings.retries,
            retry_delay=_seconds(settings.retry_delay),
            priority_weight=settings.priority,
            owner=settings.owner,
            dag=dag,
        )
        for step_id, upstream_ids in upstream.items():
            if not upstream_ids:
                gate >> tasks[step_id][0]
    return dag


def build_scan_dag(workflow: Workflow, version: int) -> DAG:
    """The cron DAG of an `inactivity` workflow: one task that starts a run per idle record."""
    from automation.runtime.inactivity import InactivityScanOperator

    trigger = workflow.trigger
    assert isinstance(trigger, InactivityTrigger)
    dag = DAG(
        dag_id=f"{dag_id_for(workflow.key)}{SCAN_SUFFIX}",
        dag_display_name=f"{workflow.name} (inactivity scan)",
        description=f"Finds {trigger.entity} idle for {trigger.days} days and starts {dag_id_for(workflow.key)}",
        schedule=CronTriggerTimetable(trigger.scan_cron, timezone=trigger.timezone),
        start_date=pendulum.datetime(*START_DATE, tz=trigger.timezone),
        catchup=False,
        max_active_runs=1,
        tags={"automation", "inactivity-scan", *workflow.settings.tags},
        is_paused_upon_creation=workflow.status != Status.ACTIVE,
    )
    InactivityScanOperator(
        task_id="scan", workflow_key=workflow.key, workflow_version=version, retries=workflow.settings.retries,
        retry_delay=_seconds(workflow.settings.retry_delay), owner=workflow.settings.owner, dag=dag,
    )  # fmt: skip
    return dag
