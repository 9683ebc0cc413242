"""Step actions: one module per action (config model + handler), registered by name."""

from automation.actions.base import Action, ActionConfig, ActionContext, RunInfo
from automation.actions.registry import action_names, get_action, register

__all__ = ["Action", "ActionConfig", "ActionContext", "RunInfo", "action_names", "get_action", "register"]
