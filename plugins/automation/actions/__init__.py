"""Step actions: one module per action (the `Action[ConfigT]` contract of `base`), registered by name;
actions of other packages come from the `airflow_automations.actions` entry-point group."""

from automation.actions.base import (
    Action,
    ActionConfig,
    ActionContext,
    ApprovalAsked,
    Capabilities,
    ChildRunStarted,
    Deferred,
    Delivered,
    Outcome,
    RunInfo,
    Skipped,
    TaskKit,
    describe_step,
)
from automation.actions.registry import action_names, get_action, register

__all__ = [
    "Action", "ActionConfig", "ActionContext", "ApprovalAsked", "Capabilities", "ChildRunStarted", "Deferred",
    "Delivered", "Outcome", "RunInfo", "Skipped", "TaskKit", "action_names", "describe_step", "get_action", "register",
]  # fmt: skip
