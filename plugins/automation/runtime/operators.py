"""The Airflow operators of a workflow DAG: the conditions gate and one task per step.

They hold only (workflow key, step id, parsed version); everything else comes from the version
pinned for the run, so an edit made while a run is going does not change that run.

Each operator is one subclass level of `BaseOperator` (its metaclass wraps every `__init__` of the
class hierarchy, and a DAG of 5,000 workflows constructs tens of thousands of them per parse); what
they share is the plain mixin `PinnedRunMixin`, which has no `__init__`. A step operator acts on the
`Outcome` of its action's `execute` (automation.actions.base) and nothing else.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import pendulum
from airflow.sdk import BaseOperator, SkipMixin
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from automation.errors import ConditionError, PermanentActionError
from automation.runtime.callbacks import StepNoticeCallback, record_failed_attempt, record_retried_attempt
from automation.runtime.retry import RETRY_POLICY

if TYPE_CHECKING:
    from automation.actions import ApprovalAsked, ChildRunStarted, RunInfo
    from automation.definitions import Step, Workflow
    from automation.definitions.notices import NoticeKind
    from automation.runtime.executor import StepResult

GATE_TASK_ID = "conditions"
EACH_SUFFIX = "__each"


def _at(moment: Any) -> Any:
    """A trigger firing at `moment` (the standard provider's, imported only by a task that defers)."""
    from airflow.providers.standard.triggers.temporal import DateTimeTrigger

    return DateTimeTrigger(moment=moment)


def _runs_ended(dag_id: str, run_ids: list[str]) -> Any:
    """A trigger firing once these runs of the DAG have ended, success or failed (the standard provider's)."""
    from airflow.providers.standard.triggers.external_task import DagStateTrigger

    ended: Any = ["success", "failed"]  # Airflow's DagRunState values (a str enum)
    return DagStateTrigger(dag_id=dag_id, states=ended, run_ids=run_ids, poll_interval=1.0)


def task_kwargs(kwargs: dict[str, Any], notices: Collection[NoticeKind] = ()) -> dict[str, Any]:
    """BaseOperator arguments of a workflow task: the retry policy, failure records and the callbacks of
    the step's notices (`notices`: the kinds its policy sends: start, success, retry, failure)."""
    kwargs.setdefault("retry_policy", RETRY_POLICY)
    kwargs.setdefault("on_failure_callback", record_failed_attempt)
    kwargs.setdefault("on_retry_callback", record_retried_attempt)
    for kind in notices:
        name = "on_execute_callback" if kind == "start" else f"on_{kind}_callback"  # start: before execute
        current = kwargs.get(name)
        current = current if isinstance(current, list) else [current] if current else []
        kwargs[name] = [*current, StepNoticeCallback(kind)]
    return kwargs


class PinnedRunMixin:
    """What every workflow task reads at run time: the pinned version and the template context.
    A plain mixin (no `__init__`), listed after `BaseOperator` so the metaclass wraps one `__init__`."""

    workflow_key: str
    workflow_version: int

    def pinned(self, context: Any) -> tuple[Workflow, int]:
        from automation.runtime.versions import pinned_workflow

        dag_run = context["dag_run"]
        return pinned_workflow(dag_run.dag_id, dag_run.run_id, self.workflow_key, self.workflow_version)

    def run_info(self, context: Any, version: int) -> RunInfo:
        from automation.actions import RunInfo

        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        return RunInfo(
            dag_id=ti.dag_id,
            run_id=ti.run_id,
            task_id=ti.task_id,
            map_index=-1 if map_index is None else map_index,
            try_number=getattr(ti, "try_number", 1) or 1,
            workflow_key=self.workflow_key,
            workflow_version=version,
        )

    def trigger(self, context: Any, workflow: Workflow) -> dict[str, Any]:
        from automation.definitions.triggers import EVENT_TRIGGERS
        from automation.runtime.context import trigger_payload
        from automation.runtime.event_gate import event_trigger

        partition_key = getattr(context["dag_run"], "partition_key", None)
        if partition_key and workflow.trigger.type in EVENT_TRIGGERS:
            return event_trigger(workflow, partition_key)
        return trigger_payload(context, workflow)

    def base_context(self, context: Any, workflow: Workflow, version: int, outputs: dict[str, Any]) -> dict[str, Any]:
        from automation.runtime.context import run_info, template_context
        from automation.runtime.expand import expand_trigger

        return template_context(
            workflow,
            version,
            expand_trigger(workflow, self.trigger(context, workflow)),
            run=run_info(context),
            params=dict(context.get("params") or {}),
            step_outputs=outputs,
        )


class GateOperator(BaseOperator, PinnedRunMixin, SkipMixin):
    """Decides whether the run goes on: the event checks (exactly once, loops, changed fields,
    throttle/debounce, then the waits: ordering per record, rate limit, delay) for event-triggered runs,
    then the conditions. No skips every step."""

    template_fields = ()
    ui_color = "#fff4d6"

    def __init__(self, *, workflow_key: str, workflow_version: int, **kwargs: Any) -> None:
        super().__init__(**task_kwargs(kwargs))
        self.workflow_key = workflow_key
        self.workflow_version = workflow_version

    def execute(self, context: Any) -> dict[str, Any]:
        from automation.runtime.event_gate import decide
        from automation.store.ledger import EventLedger

        workflow, version = self.pinned(context)
        values = self.base_context(context, workflow, version, {})
        event_id = values["trigger"].get("event_id")
        if event_id is None:
            return self._conditions(context, workflow, version, values, None)
        decision = decide(workflow, values["trigger"], context["dag_run"].run_id, EventLedger())
        if not decision.run:
            return self._stop(context, workflow, event_id, decision.outcome, decision.reason)
        if decision.wait_seconds:
            self.log.info("Debounce: waiting %s s for later events of %s", decision.wait_seconds, decision.scope)
            self.defer(
                trigger=_at(pendulum.now("UTC").add(seconds=decision.wait_seconds)),
                method_name="after_debounce",
                kwargs={"event_id": event_id, "scope": decision.scope},
            )
        return self._order_checks(context, workflow, version, values, event_id)

    def after_debounce(self, context: Any, event: Any = None, event_id: int = 0, scope: str = "") -> dict[str, Any]:
        from automation.store.ledger import EventLedger

        workflow, version = self.pinned(context)
        latest = EventLedger().debounce_latest(workflow.key, scope)
        if latest != event_id:
            return self._stop(context, workflow, event_id, "debounced", f"event {latest} came later and takes over")
        values = self.base_context(context, workflow, version, {})
        return self._order_checks(context, workflow, version, values, event_id)

    def _order_checks(
        self, context: Any, workflow: Workflow, version: int, values: dict[str, Any], event_id: int, checks: int = 0
    ) -> dict[str, Any]:
        """The ordering per record (`settings.ordering`): the steps wait for the runs of the record's earlier
        events to end (deferred: no worker slot held), checked again until none is left."""
        from automation.runtime.ordering import next_check, waiting_for

        ti, dag_id = context["ti"], context["dag_run"].dag_id

        def unfinished(run_ids: list[str]) -> list[str]:
            """Airflow's answer through the Task SDK: a count over all, then the states of the most recent
            ones until that many are found (usually the first: each waited for the one before it)."""
            count = int(ti.get_dr_count(dag_id=dag_id, run_ids=run_ids, states=["queued", "running"]))
            going: list[str] = []
            for run_id in run_ids:
                if len(going) >= count:
                    break
                try:
                    if ti.get_dagrun_state(dag_id=dag_id, run_id=run_id) in ("queued", "running"):
                        going.append(run_id)
                except Exception:  # deleted since the count: finished
                    continue
            return going

        wait = waiting_for(workflow, values["trigger"], unfinished)
        if wait is not None:
            kwargs = {"event_id": event_id, "checks": checks + 1}
            if wait.going:  # they must end in any case: no check before that
                self.log.info("Ordering: %s; waiting for %s to end", wait.reason, ", ".join(wait.going))
                trigger = _runs_ended(dag_id, wait.going)
            else:
                pause = next_check(checks)
                self.log.info("Ordering: %s; checking again in %.1f s", wait.reason, pause)
                trigger = _at(pendulum.now("UTC").add(seconds=pause))
            self.defer(trigger=trigger, method_name="after_order", kwargs=kwargs)
        return self._after_checks(context, workflow, version, values, event_id)

    def after_order(self, context: Any, event: Any = None, event_id: int = 0, checks: int = 0) -> dict[str, Any]:
        workflow, version = self.pinned(context)
        values = self.base_context(context, workflow, version, {})
        return self._order_checks(context, workflow, version, values, event_id, checks)

    def _after_checks(
        self, context: Any, workflow: Workflow, version: int, values: dict[str, Any], event_id: int
    ) -> dict[str, Any]:
        """The rate limit (`settings.rate_limit`): a run beyond it waits for its turn, without a worker slot."""
        from automation.runtime.rate_limit import reserve_start

        start = reserve_start(workflow, values["trigger"], event_id)
        if start is not None and start > pendulum.now("UTC"):
            self.log.info("Rate limit: the steps start at %s", start)
            self.defer(trigger=_at(start), method_name="after_rate_limit", kwargs={"event_id": event_id})
        return self._delay_checks(context, workflow, version, values, event_id)

    def after_rate_limit(self, context: Any, event: Any = None, event_id: int = 0) -> dict[str, Any]:
        workflow, version = self.pinned(context)
        values = self.base_context(context, workflow, version, {})
        return self._delay_checks(context, workflow, version, values, event_id)

    def _delay_checks(
        self, context: Any, workflow: Workflow, version: int, values: dict[str, Any], event_id: int
    ) -> dict[str, Any]:
        """The trigger's `delay`: the steps start later, without holding a worker slot."""
        from automation.runtime.event_gate import delayed_start

        moment = delayed_start(workflow, values["trigger"])
        if moment is not None and moment > pendulum.now("UTC"):
            self.log.info("Delayed start: the steps start at %s", moment)
            self.defer(trigger=_at(moment), method_name="after_delay", kwargs={"event_id": event_id})
        return self._conditions(context, workflow, version, values, event_id)

    def after_delay(self, context: Any, event: Any = None, event_id: int = 0) -> dict[str, Any]:
        workflow, version = self.pinned(context)
        values = self.base_context(context, workflow, version, {})
        return self._conditions(context, workflow, version, values, event_id)

    def _conditions(
        self, context: Any, workflow: Workflow, version: int, values: dict[str, Any], event_id: int | None
    ) -> dict[str, Any]:
        from automation import metrics
        from automation.conditions import evaluate
        from automation.runtime.context import condition_data
        from automation.store.ledger import EventLedger

        try:
            met = evaluate(workflow.conditions, condition_data(workflow, values))
        except ConditionError as exc:
            if event_id is not None:
                EventLedger().set_outcome(event_id, workflow.key, "error", str(exc))
            raise AirflowFailException(str(exc)) from exc
        if not met:
            return self._stop(context, workflow, event_id, "conditions_false", "the conditions are false")
        if event_id is not None:
            EventLedger().set_outcome(event_id, workflow.key, "ran")
        metrics.count("automation.runs.started", workflow=workflow.key)
        return {"run": True, "outcome": "ran", "version": version}

    def _stop(
        self, context: Any, workflow: Workflow, event_id: int | None, outcome: str, reason: str | None
    ) -> dict[str, Any]:
        from automation import metrics
        from automation.store.ledger import EventLedger

        self.log.info("Not running the steps: %s (%s)", outcome, reason)
        metrics.count("automation.runs.skipped", workflow=workflow.key, outcome=outcome)
        if event_id is not None and outcome != "duplicate":
            EventLedger().set_outcome(event_id, workflow.key, outcome, reason)
        downstream = [t for t in context["task"].get_flat_relatives(upstream=False) if not t.is_teardown]
        self.skip(ti=context["ti"], tasks=downstream)
        return {"run": False, "outcome": outcome, "reason": reason}


_STEP_REF = re.compile(r"steps\.([a-z_][a-z0-9_]*)")


class StepOperator(BaseOperator, PinnedRunMixin):
    """Runs one step of the pinned version through `execute_step` and acts on its action's `Outcome`."""

    template_fields = ()
    ui_color = "#e8f1ff"

    def __init__(
        self,
        *,
        workflow_key: str,
        workflow_version: int,
        step_id: str,
        notices: Collection[NoticeKind] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**task_kwargs(kwargs, notices))
        self.workflow_key = workflow_key
        self.workflow_version = workflow_version
        self.step_id = step_id

    def referenced_outputs(self, context: Any, workflow: Workflow, step: Step) -> dict[str, Any]:
        """Outputs of the other steps the config, `when` or notices of this step refer to."""
        policy = workflow.notify_policy(step)
        text = json.dumps(
            [step.config, *(m.model_dump(by_alias=True) if m else None for m in (step.when, policy))], default=str
        )
        ids = sorted({m for m in _STEP_REF.findall(text) if m != self.step_id and workflow.step(m)})
        if not ids:
            return {}
        values = context["ti"].xcom_pull(task_ids=ids)
        values = values if isinstance(values, list) else [values]
        return dict(zip(ids, values, strict=False))

    def step_and_context(self, context: Any) -> tuple[Workflow, int, Step, dict[str, Any]]:
        workflow, version = self.pinned(context)
        step = workflow.step(self.step_id)
        if step is None:
            raise AirflowSkipException(f"step {self.step_id!r} is not in version {version} of this workflow")
        values = self.base_context(context, workflow, version, self.referenced_outputs(context, workflow, step))
        return workflow, version, step, values

    def execute(self, context: Any) -> Any:
        from automation import metrics
        from automation.runtime.executor import execute_step

        workflow, version, step, values = self.step_and_context(context)
        started = time.monotonic()
        result = execute_step(workflow, step, values, self.run_info(context, version))
        metrics.timing("automation.step.duration", time.monotonic() - started, workflow=workflow.key, step=step.id)
        return self.finish(step, result, context)

    def finish(self, step: Step, result: StepResult, context: Any) -> Any:
        """The task's answer to the step's outcome: skip, return the output, defer, start a child run, ask."""
        from automation.actions import ApprovalAsked, ChildRunStarted, Deferred

        outcome = result.outcome
        if result.status == "skipped":
            raise AirflowSkipException(result.reason)
        if result.status == "recorded":
            self.log.info("Step %s already delivered in an earlier try; returning its recorded output", step.id)
        if isinstance(outcome, Deferred):
            self.log.info("Step %s waits until %s (deferred: no worker slot held)", step.id, outcome.until)
            self.defer(trigger=_at(outcome.until), method_name="resume", kwargs={"output": outcome.output})
        if isinstance(outcome, ChildRunStarted):
            self.start_run(outcome)
        if isinstance(outcome, ApprovalAsked):
            return self.ask(outcome, context)
        return result.output

    def ask(self, request: ApprovalAsked, context: Any) -> Any:
        """Only the approval task (automation.runtime.hitl) can ask a person."""
        raise PermanentActionError(f"step {self.step_id!r} asks for an approval but runs as a plain step task")

    def start_run(self, run: ChildRunStarted) -> None:
        from airflow.providers.common.compat.sdk import DagRunTriggerException

        self.log.info("Starting %s (run %s)%s", run.dag_id, run.run_id, ", waiting for it" if run.wait else "")
        raise DagRunTriggerException(
            trigger_dag_id=run.dag_id,
            dag_run_id=run.run_id,
            conf=run.conf,
            logical_date=None,
            reset_dag_run=False,
            skip_when_already_exists=True,
            wait_for_completion=run.wait,
            allowed_states=["success"],
            failed_states=["failed"],
            poke_interval=run.poll_interval,
            deferrable=True,
        )

    def resume(self, context: Any, event: Any = None, output: Any = None) -> Any:
        return output

    def execute_complete(self, context: Any, event: tuple[str, dict[str, Any]]) -> dict[str, Any]:
        """Back from waiting on a triggered workflow (DagStateTrigger)."""
        _, data = event
        run_id = data["run_ids"][0]
        state = data.get(run_id)
        if state != "success":
            raise PermanentActionError(f"triggered workflow {data['dag_id']} run {run_id} ended {state}")
        return {"dag_id": data["dag_id"], "run_id": run_id, "state": state}


class ForEachItemOperator(StepOperator):
    """One mapped instance per item of a step whose action lists items (for_each): runs the step its
    action's `per_item_step` gives, with `item` and `index`. Built only at run time (mapped)."""

    def __init__(self, *, item: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.item = item

    def execute(self, context: Any) -> Any:
        from automation.actions import get_action
        from automation.runtime.executor import execute_step

        workflow, version, step, values = self.step_and_context(context)
        action = get_action(step.type)
        inner = action.per_item_step(step) if action is not None else None
        if inner is None:
            raise PermanentActionError(f"step {step.id!r}: the action {step.type!r} runs no step per item")
        run = self.run_info(context, version)
        values = {**values, "item": self.item, "index": run.map_index}
        return self.finish(inner, execute_step(workflow, inner, values, run), context)
