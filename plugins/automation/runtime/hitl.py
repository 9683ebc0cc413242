"""The approval task: Airflow's human-in-the-loop ApprovalOperator, asking what the step's action's
`ApprovalAsked` outcome says (subject, body, timeout... rendered from the pinned version)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator

from automation.actions import ApprovalAsked
from automation.jsonable import to_jsonable
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

    def ask(self, request: ApprovalAsked, context: Any) -> Any:
        self.subject, self.body = request.subject, request.body
        self.response_timeout = timedelta(seconds=request.timeout) if request.timeout else None
        self.defaults = [request.on_timeout] if request.on_timeout else None
        self.fail_on_reject = request.fail_on_reject
        self.assigned_users = [{"id": u, "name": u} for u in request.assigned_users] or None
        return ApprovalOperator.execute(self, context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:  # type: ignore[override]  # HITL's event
        return to_jsonable(dict(ApprovalOperator.execute_complete(self, context, event)))
