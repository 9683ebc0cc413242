"""Definitions of a fixed shape, for benchmarks and scale tests."""

from __future__ import annotations

from typing import Any


def five_step_workflow(key: str) -> dict[str, Any]:
    """A record event, one condition, five record steps in a chain."""
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
                "config": {
                    "collection": "activities",
                    "values": {"body": f"step {i}", "entity": "deals", "entity_id": "{{ trigger.id }}"},
                },
            }
            for i in range(5)
        ],
    }
