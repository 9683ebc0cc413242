"""The `approval` step: Airflow's human-in-the-loop ApprovalOperator, fed by the pinned version."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk.exceptions import AirflowSkipException

from automation.actions.approval import ApprovalConfig
from automation.jsonable import to_jsonable
from automation.runtime.executor import render_step
from automation.runtime.operators import StepOperator


class ApprovalStepOperator(StepOperator, ApprovalOperator):
    """Subject, body and timeout are rendered at run time from the step's config; the answer
    (chosen option, who, when) is the step's output. A reject skips every later step."""

    template_fields = ()
    ui_color = "#f3e8ff"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("subject", "Approval")
        kwargs.setdefault("ignore_downstream_trigger_rules", True)
        super().__init__(**kwargs)

    def execute(self, context: Any) -> Any:
        workflow, _, step, values = self.step_and_context(context)
        prepared = render_step(workflow, step, values)
        if prepared is None:
            raise AirflowSkipException(f"step {step.id!r}: `when` is false")
        config: ApprovalConfig = prepared[1]
        self.subject, self.body = config.subject, config.body
        self.response_timeout = timedelta(seconds=config.timeout) if config.timeout else None
        self.defaults = [config.on_timeout] if config.on_timeout else None
        self.fail_on_reject = config.fail_on_reject
        self.assigned_users = [{"id": u, "name": u} for u in config.assigned_users] or None
        return ApprovalOperator.execute(self, context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        return to_jsonable(dict(ApprovalOperator.execute_complete(self, context, event)))
