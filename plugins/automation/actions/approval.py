"""approval: a human approves or rejects (Airflow's HITL), with a timeout; the answer is the output."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from automation.actions.base import Action, ActionConfig, ActionContext
from automation.actions.registry import register
from automation.definitions.base import Duration


class ApprovalConfig(ActionConfig):
    subject: str = Field(min_length=1)
    body: str | None = Field(default=None, description="Markdown shown to the approver")
    timeout: Duration | None = Field(default=None, description="after it, `on_timeout` is taken")
    on_timeout: Literal["Approve", "Reject"] | None = Field(default=None, description="default answer on timeout")
    assigned_users: list[str] = Field(default_factory=list, description="user ids allowed to answer")
    fail_on_reject: bool = Field(default=False, description="reject fails the step (default: skips what follows)")


@register
class Approval(Action):
    name = "approval"
    config_model = ApprovalConfig
    operator = "automation.runtime.hitl.ApprovalStepOperator"
    idempotent = False
    external = True  # a dry run describes it (a person is not asked)
    summary = "Ask a person to approve or reject"

    def describe(self, config: ApprovalConfig) -> str:
        return f"would ask for approval: {config.subject!r}"

    def run(self, config: ApprovalConfig, ctx: ActionContext) -> Any:  # pragma: no cover - the operator runs it
        raise NotImplementedError("approval runs as Airflow's human-in-the-loop task, not as a plain action")
