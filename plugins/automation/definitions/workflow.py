"""The workflow definition: trigger + conditions + ordered steps + settings."""

from __future__ import annotations

from enum import StrEnum
from graphlib import CycleError, TopologicalSorter

from pydantic import Field, model_validator

from automation.definitions.base import PathError, Slug, StrictModel
from automation.definitions.conditions import Condition
from automation.definitions.notices import StepNotifications
from automation.definitions.settings import Settings
from automation.definitions.steps import Step
from automation.definitions.triggers import Trigger


class Status(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    DRAFT = "DRAFT"


class Workflow(StrictModel):
    key: Slug
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    status: Status = Status.DRAFT
    trigger: Trigger
    conditions: Condition | None = None
    steps: list[Step] = Field(min_length=1)
    settings: Settings = Field(default_factory=Settings)

    @model_validator(mode="after")
    def _ordering_needs_records(self) -> Workflow:
        if self.settings.ordering == "per_record" and self.trigger.type != "record_event":
            raise PathError(
                "settings.ordering",
                f"per_record ordering needs a record_event trigger (runs of a record), not {self.trigger.type}",
            )
        return self

    @model_validator(mode="after")
    def _steps_form_a_dag(self) -> Workflow:
        ids = [s.id for s in self.steps]
        seen: set[str] = set()
        for index, step_id in enumerate(ids):
            if step_id in seen:
                raise PathError(f"steps[{index}].id", f"duplicate step id {step_id!r}; step ids must be unique")
            seen.add(step_id)
        for index, step in enumerate(self.steps):
            for dep in step.depends_on or []:
                if dep not in seen:
                    raise PathError(
                        f"steps[{index}].depends_on",
                        f"unknown step id {dep!r}; expected one of {sorted(seen)}",
                    )
                if dep == step.id:
                    raise PathError(f"steps[{index}].depends_on", "a step cannot depend on itself")
        if all(s.depends_on is None for s in self.steps):
            return self  # list order: no cycle possible
        try:
            tuple(TopologicalSorter(self.upstream_map()).static_order())
        except CycleError as exc:
            cycle = " -> ".join(exc.args[1])
            raise PathError("steps", f"depends_on forms a cycle ({cycle}); remove one dependency") from exc
        return self

    def upstream_map(self) -> dict[str, list[str]]:
        """Upstream step ids of each step: `depends_on` when any step sets it, else list order."""
        if any(s.depends_on is not None for s in self.steps):
            return {s.id: list(s.depends_on or []) for s in self.steps}
        return {s.id: ([self.steps[i - 1].id] if i else []) for i, s in enumerate(self.steps)}

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def notify_policy(self, step: Step) -> StepNotifications | None:
        """A step's notification policy: its own `notify`, else `settings.notify_steps`."""
        return step.notify or self.settings.notify_steps
