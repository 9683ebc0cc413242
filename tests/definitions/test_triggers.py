"""Trigger summaries (definitions/triggers.describe_trigger), used by the template catalogue."""

from __future__ import annotations

from typing import Any

import pytest

from automation.actions import describe_step
from automation.catalogue.templates import get_template
from automation.definitions.triggers import describe_trigger


@pytest.mark.parametrize(
    ("trigger", "text"),
    [
        ({"type": "record_event", "entity": "deals", "events": ["created", "updated"], "fields": ["stage"]},
         "deals created/updated (stage)"),
        ({"type": "record_event", "entity": "deals", "events": ["updated"], "fields": [], "delay": "+3 days"},
         "deals updated, +3 days later"),
        ({"type": "schedule", "cron": "0 8 * * 1", "timezone": "Europe/Paris"}, "schedule 0 8 * * 1 (Europe/Paris)"),
        ({"type": "schedule", "cron": "0 8 * * 1"}, "schedule 0 8 * * 1 (UTC)"),
        ({"type": "inactivity", "entity": "deals", "days": 30}, "deals with no activity for 30 days"),
        ({"type": "manual", "inputs": {"name": {}, "amount": {}}}, "manual (name, amount)"),
        ({"type": "manual"}, "manual"),
        ({"type": "webhook"}, "webhook"),
        ({"type": "record_event", "entity": "deals", "events": [1, None], "fields": "<< fields >>"}, "deals 1/None"),
        ({}, "?"),
    ],
)  # fmt: skip
def test_a_trigger_is_described_in_one_line_and_never_raises(trigger: dict[str, Any], text: str) -> None:
    assert describe_trigger(trigger) == text


def test_the_catalogue_describes_steps_with_the_actions_own_describe() -> None:
    template = get_template("publish-pipeline")
    approve = next(s for s in template.steps if s.id == "approve")
    assert approve.summary == "ask for approval: 'Deploy {{ params.project_id }} to production?'"
    step = next(s for s in template.definition["steps"] if s["id"] == "approve")
    assert approve.summary == describe_step(step)
    assert template.trigger == "manual (project_id, environment)"
