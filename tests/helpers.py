"""Small builders shared by the tests."""

from __future__ import annotations

import copy
from typing import Any

MANUAL_WORKFLOW: dict[str, Any] = {
    "key": "manual-deal",
    "name": "Manual deal",
    "status": "ACTIVE",
    "trigger": {"type": "manual", "inputs": {"name": {"type": "string", "required": True}}},
    "steps": [
        {
            "id": "create_deal",
            "type": "create_record",
            "config": {"collection": "deals", "values": {"name": "{{ params.name }}", "amount": 1200}},
        },
        {
            "id": "to_proposition",
            "type": "update_record",
            "config": {
                "collection": "deals",
                "id": "{{ steps.create_deal.output.id }}",
                "values": {"stage": "PROPOSITION"},
            },
        },
    ],
}


def workflow(key: str = "wf", **overrides: Any) -> dict[str, Any]:
    data = copy.deepcopy(MANUAL_WORKFLOW)
    data["key"] = key
    data.update(overrides)
    return data


def five_step_workflow(key: str) -> dict[str, Any]:
    """The benchmark's shape: a record event, a condition, five record steps."""
    return {
        "key": key,
        "name": f"Workflow {key}",
        "status": "ACTIVE",
        "trigger": {"type": "record_event", "entity": "deals", "events": ["updated"], "fields": ["stage"]},
        "conditions": {"all": [{"field": "deal.stage", "op": "==", "value": "SIGNED"}]},
        "steps": [
            {
                "id": f"step_{i}",
                "type": "create_record",
                "config": {"collection": "activities", "values": {"body": f"step {i}", "entity": "deals",
                                                                  "entity_id": "{{ trigger.id }}"}},
            }
            for i in range(5)
        ],
    }  # fmt: skip
