"""Workflow definition models (pydantic v2). Knows nothing of the store, actions or Airflow."""

from automation.definitions.conditions import Clause, Condition
from automation.definitions.settings import Settings, Throttle
from automation.definitions.steps import Step
from automation.definitions.triggers import (
    InactivityTrigger,
    ManualTrigger,
    RecordEventTrigger,
    ScheduleTrigger,
    Trigger,
    WebhookTrigger,
)
from automation.definitions.workflow import Status, Workflow

__all__ = [
    "Clause",
    "Condition",
    "InactivityTrigger",
    "ManualTrigger",
    "RecordEventTrigger",
    "ScheduleTrigger",
    "Settings",
    "Status",
    "Step",
    "Throttle",
    "Trigger",
    "WebhookTrigger",
    "Workflow",
]
