from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from automation.factory.build import build_dag
from automation.store.repository import Repository
from automation.validation import validate_definition
from tests.helpers import workflow

#: A step that fails at once (a missing record is a permanent error: no retries).
MISSING_DEAL = {
    "id": "close_missing",
    "type": "update_record",
    "config": {"collection": "deals", "id": "{{ params.deal_id }}", "values": {"stage": "WON"}},
}


def failing_workflow(key: str) -> dict[str, Any]:
    data = workflow(key, trigger={"type": "manual", "inputs": {"deal_id": {"type": "integer", "required": True}}})
    data["steps"] = [
        {"id": "note", "type": "create_record",
         "config": {"collection": "activities", "values": {"body": "closing", "entity": "deals", "entity_id": 1}}},
        {**MISSING_DEAL, "depends_on": ["note"]},
    ]  # fmt: skip
    return data


def guarded_workflow(key: str) -> dict[str, Any]:
    return workflow(key, conditions={"field": "params.name", "op": "matches", "value": "^VIP"})


@pytest.fixture
def run_workflow() -> Callable[..., Any]:
    """Run the stored workflow's current version in real Airflow (`dag.test()`); returns the DagRun."""

    def run(key: str, **conf: Any) -> Any:
        stored = Repository().get(key)
        return build_dag(validate_definition(stored.with_status()), stored.version).test(run_conf=conf)

    return run


@pytest.fixture
def create() -> Callable[[dict[str, Any]], Any]:
    return lambda data: Repository().create(validate_definition(data))
