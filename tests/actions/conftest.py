from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from automation.actions import RunInfo
from automation.runtime.context import template_context
from automation.runtime.executor import StepResult, execute_step
from automation.validation import validate_definition
from tests.helpers import workflow

DEAL = {"id": 1, "name": "ACME", "stage": "SIGNED", "amount": 60000, "owner_id": 1}


def run_one_step(
    step: dict[str, Any], *, trigger: dict[str, Any] | None = None, run_id: str = "run-1", **kwargs: Any
) -> StepResult:
    definition = validate_definition(
        workflow("t", trigger={"type": "record_event", "entity": "deals", "events": ["updated"]}, steps=[step])
    )
    trigger = trigger or {"type": "record_event", "entity": "deals", "event": "updated", "id": 1, "new": DEAL,
                          "old": {**DEAL, "stage": "PROPOSITION"}}  # fmt: skip
    context = template_context(definition, 1, trigger, params={})
    run = RunInfo(dag_id="automation__t", run_id=run_id, task_id=step["id"], workflow_key="t", workflow_version=1)
    return execute_step(definition, definition.steps[0], context, run, **kwargs)


@pytest.fixture
def run_step() -> Callable[..., StepResult]:
    return run_one_step
