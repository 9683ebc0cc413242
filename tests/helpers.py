"""Small builders shared by the tests."""

from __future__ import annotations

import copy
from typing import Any

from automation.demo.shapes import five_step_workflow

__all__ = ["MANUAL_WORKFLOW", "five_step_workflow", "workflow"]

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
