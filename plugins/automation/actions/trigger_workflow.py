"""trigger_workflow: start another workflow's DAG run with a conf, optionally waiting (deferred)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from automation.actions.base import Action, ActionConfig, ActionContext, Capabilities, ChildRunStarted
from automation.actions.registry import register
from automation.config import dag_id_for
from automation.definitions.base import SLUG_PATTERN


class TriggerWorkflowConfig(ActionConfig):
    workflow: str = Field(pattern=SLUG_PATTERN, description="key of the workflow to start")
    conf: dict[str, Any] = Field(default_factory=dict, description="its params / trigger data")
    wait: bool = Field(default=False, description="wait (deferred) until it finishes; its failure fails this step")
    poll_interval: int = Field(default=10, ge=1, le=3600)


@register
class TriggerWorkflow(Action[TriggerWorkflowConfig]):
    name = "trigger_workflow"
    config_model = TriggerWorkflowConfig
    summary = "Start another workflow"
    # not keyed as an effect: the child run id is derived from this run, so a clear finds it instead of
    # starting another
    capabilities = Capabilities(idempotent=False)

    def describe(self, config: TriggerWorkflowConfig) -> str:
        return f"start the workflow {config.workflow}" + (" and wait for it" if config.wait else "")

    def refusal(self, config: TriggerWorkflowConfig, ctx: ActionContext) -> str | None:
        from automation.errors import NotFoundError
        from automation.store.repository import Repository

        try:
            Repository().get(config.workflow)
        except NotFoundError:
            return f"workflow: there is no workflow {config.workflow!r} to start"
        return None

    def execute(self, config: TriggerWorkflowConfig, ctx: ActionContext) -> ChildRunStarted:
        origin = {"workflow": ctx.run.workflow_key, "dag_id": ctx.run.dag_id, "run_id": ctx.run.run_id,
                  "depth": int((ctx.template_context.get("trigger") or {}).get("depth") or 0) + 1}  # fmt: skip
        conf = {**config.conf, "trigger": {"type": "workflow", "origin": origin, "params": config.conf}}
        run_id = f"triggered__{ctx.run.run_id}__{ctx.run.task_id}"[:250]
        return ChildRunStarted(dag_id=dag_id_for(config.workflow), run_id=run_id, conf=conf, wait=config.wait,
                               poll_interval=config.poll_interval)  # fmt: skip
