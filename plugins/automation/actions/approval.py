"""approval: a human approves or rejects (Airflow's HITL), with a timeout; the answer is the output."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from automation.actions.base import Action, ActionConfig, ActionContext, ApprovalAsked, Capabilities, TaskKit
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
class Approval(Action[ApprovalConfig]):
    name = "approval"
    config_model = ApprovalConfig
    summary = "Ask a person to approve or reject"
    # a dry run describes it (a person is not asked); one task per step, never per item
    capabilities = Capabilities(external=True, idempotent=False, per_item=False)

    def build_tasks(self, kit: TaskKit) -> tuple[Any, Any]:
        task = kit.approval()
        return task, task

    def describe(self, config: ApprovalConfig) -> str:
        return f"ask for approval: {config.subject!r}"

    def execute(self, config: ApprovalConfig, ctx: ActionContext) -> ApprovalAsked:
        timeout = config.timeout if isinstance(config.timeout, int) else None
        return ApprovalAsked(
            subject=config.subject,
            body=config.body,
            timeout=timeout,
            on_timeout=config.on_timeout,
            assigned_users=tuple(config.assigned_users),
            fail_on_reject=config.fail_on_reject,
        )
