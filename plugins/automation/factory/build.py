"""DAG plan -> Airflow DAGs: each step's tasks (the calls its action's `build_tasks` made, replayed),
plus a gate task when there are conditions or the trigger is an event.

Invariant: this module imports no definition model, action or store module (a task process and a
parse that trusts its plans load only Airflow and the step operators' module), and the same plan
gives an equal DAG at every parse."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pendulum
from airflow.sdk import DAG, AssetAny, CronTriggerTimetable, Param, PartitionedAssetTimetable
from airflow.sdk.definitions.callback import AsyncCallback  # public in airflow.sdk, missing from its stub
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

from automation.factory.schedule import event_asset
from automation.runtime.callbacks import DEADLINE_CALLBACK, RunFinished
from automation.runtime.operators import EACH_SUFFIX, GATE_TASK_ID, ForEachItemOperator, GateOperator, StepOperator
from automation.runtime.retry import policy_for

if TYPE_CHECKING:
    from automation.definitions import Workflow

#: Fixed, so a parse never changes the DAG when the definition did not change.
START_DATE = (2024, 1, 1)


def _seconds(value: int | None) -> timedelta | None:
    return timedelta(seconds=value) if value is not None else None


class StepTasks:
    """The `TaskKit` of one step: the Airflow tasks its action's `build_tasks` may ask for."""

    def __init__(self, step_id: str, name: str, args: dict[str, Any]) -> None:
        self.step_id = step_id
        self.name = name
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


def _routing(args: dict[str, Any]) -> dict[str, Any]:
    """Pool and queue arguments only when the plan names them (else Airflow's default pool and the
    `[operators] default_queue`)."""
    for name in ("pool", "queue"):
        if args.get(name) is None:
            args.pop(name, None)
    return args


def _step_tasks(step: dict[str, Any], key: str, version: int, dag: DAG) -> tuple[Any, Any]:
    """(first, last) task of a step, by replaying its task calls on the real kit."""
    args = _routing(dict(step["args"]))
    args.update(
        workflow_key=key,
        workflow_version=version,
        step_id=step["id"],
        retry_delay=_seconds(args["retry_delay"]),
        retry_exponential_backoff=2.0,
        max_retry_delay=_seconds(args["max_retry_delay"]),
        execution_timeout=_seconds(args["execution_timeout"]),
        retry_policy=policy_for(args["retry_policy"]),
        dag=dag,
    )
    kit = StepTasks(step["id"], step["name"], args)
    made: list[Any] = []
    for name, *inputs in step["tasks"]["calls"]:
        made.append(getattr(kit, name)(*(made[i] for i in inputs)))
    return made[step["tasks"]["first"]], made[step["tasks"]["last"]]


def _schedule(plan: dict[str, Any]) -> Any:
    schedule = plan["schedule"]
    if schedule is None:
        return None
    if "cron" in schedule:
        return CronTriggerTimetable(schedule["cron"], timezone=schedule["timezone"])
    assets = [event_asset(entity, event) for entity, event in schedule["assets"]]
    return PartitionedAssetTimetable(assets=assets[0] if len(assets) == 1 else AssetAny(*assets))


def _alert_args(plan: dict[str, Any]) -> dict[str, Any]:
    """DAG callbacks that count failure streaks (alerts, recovery), and the run deadline alert."""
    alerts, name = plan["alerts"], plan["name"]
    args: dict[str, Any] = {
        "on_failure_callback": RunFinished(failed=True, alerts=alerts["settings"], name=name),
        "on_success_callback": RunFinished(failed=False, alerts=alerts["settings"], name=name),
    }
    deadline = alerts["deadline"]
    if deadline is not None:
        args["deadline"] = DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=timedelta(seconds=deadline["seconds"]),
            callback=AsyncCallback(DEADLINE_CALLBACK, kwargs=deadline["kwargs"]),
        )
    return args


def _main_dag(plan: dict[str, Any]) -> DAG:
    key, version = plan["key"], plan["version"]
    dag = DAG(
        dag_id=plan["dag_id"],
        dag_display_name=plan["name"],
        description=plan["description"],
        schedule=_schedule(plan),
        start_date=pendulum.datetime(*START_DATE, tz=plan["timezone"]),
        catchup=plan["catchup"],
        max_active_runs=plan["max_active_runs"],
        dagrun_timeout=_seconds(plan["run_timeout"]),
        tags=set(plan["tags"]),
        params={name: Param(p["default"], description=p["description"], **p["schema"])
                for name, p in plan["params"].items()},
        doc_md=plan["doc_md"],
        is_paused_upon_creation=plan["paused"],
        render_template_as_native_obj=False,
        **_alert_args(plan),
    )  # fmt: skip
    tasks = {step["id"]: _step_tasks(step, key, version, dag) for step in plan["steps"]}
    for step in plan["steps"]:
        for upstream_id in step["upstream"]:
            tasks[upstream_id][1] >> tasks[step["id"]][0]
    gate = plan["gate"]
    if gate is not None:
        task = GateOperator(
            task_id=GATE_TASK_ID,
            task_display_name="conditions",
            workflow_key=key,
            workflow_version=version,
            # idempotent (the run's claim, throttle and debounce marks are keyed by run and event), so a
            # retry is safe; Airflow 3.3.2 can fail a short deferral whose trigger fires before the
            # scheduler handled the deferring attempt's exit, and the retry recovers it
            retries=gate["retries"],
            retry_delay=_seconds(gate["retry_delay"]),
            priority_weight=gate["priority_weight"],
            owner=gate["owner"],
            dag=dag,
            **_routing({"queue": gate["queue"]}),
        )
        for step in plan["steps"]:
            if not step["upstream"]:
                task >> tasks[step["id"]][0]
    return dag


def _scan_operator(kind: str) -> Any:
    """The one task of a scan DAG: an inactivity scan, or a poll (a plan from before polls has no kind)."""
    if kind == "poll":
        from automation.runtime.poll_task import PollOperator

        return PollOperator
    from automation.runtime.inactivity import InactivityScanOperator

    return InactivityScanOperator


def _scan_dag(plan: dict[str, Any]) -> DAG:
    """The cron DAG of an `inactivity` or `poll` workflow: one task that stores a ledger event per idle
    record or new item, each starting a run of the workflow's DAG."""
    scan = plan["scan"]
    operator = _scan_operator(scan.get("kind", "inactivity"))
    dag = DAG(
        dag_id=scan["dag_id"],
        dag_display_name=scan["name"],
        description=scan["description"],
        schedule=CronTriggerTimetable(scan["cron"], timezone=scan["timezone"]),
        start_date=pendulum.datetime(*START_DATE, tz=scan["timezone"]),
        catchup=False,
        max_active_runs=1,
        tags=set(scan["tags"]),
        is_paused_upon_creation=plan["paused"],
    )
    operator(
        task_id="poll" if scan.get("kind") == "poll" else "scan", workflow_key=plan["key"],
        workflow_version=plan["version"], retries=scan["retries"],
        retry_delay=_seconds(scan["retry_delay"]), owner=scan["owner"], dag=dag, **_routing({"queue": scan["queue"]}),
    )  # fmt: skip
    return dag


def dags_from_plan(plan: dict[str, Any]) -> dict[str, DAG]:
    """The workflow's DAGs by dag_id: its own, and an inactivity or poll workflow's scan DAG."""
    dags = {plan["dag_id"]: _main_dag(plan)}
    if plan["scan"] is not None:
        dags[plan["scan"]["dag_id"]] = _scan_dag(plan)
    return dags


def build_dag(workflow: Workflow, version: int) -> DAG:
    """The DAG of a validated workflow model (what a parse builds from its plan)."""
    from automation.factory.plan import plan_for

    return _main_dag(plan_for(workflow, version))


def build_scan_dag(workflow: Workflow, version: int) -> DAG:
    from automation.factory.plan import plan_for

    return _scan_dag(plan_for(workflow, version))
