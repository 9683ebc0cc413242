from __future__ import annotations

import pytest

from automation.definitions import Workflow
from automation.errors import DefinitionError
from automation.validation import json_schema, validate_definition
from tests.helpers import workflow


def issues_of(data: dict) -> dict[str, str]:
    with pytest.raises(DefinitionError) as caught:
        validate_definition(data)
    return {issue.path: issue.message for issue in caught.value.issues}


def test_valid_definition_parses_with_defaults() -> None:
    parsed = validate_definition(workflow())
    assert parsed.key == "wf"
    assert parsed.settings.retries == 2
    assert parsed.upstream_map() == {"create_deal": [], "to_proposition": ["create_deal"]}


def test_step_config_error_names_the_config_path() -> None:
    data = workflow()
    data["steps"][1]["config"]["values"] = {"stag": "X"}
    issues = issues_of(data)
    assert list(issues) == ["steps[1].config.values"]
    assert "'stag'" in issues["steps[1].config.values"] and "stage" in issues["steps[1].config.values"]


def test_unknown_keys_are_errors_at_every_level() -> None:
    data = workflow(colour="blue")
    data["steps"][0]["retrys"] = 3
    data["steps"][0]["config"]["valeus"] = {}
    issues = issues_of(data)
    assert "colour" in issues and "steps[0].retrys" in issues
    assert all("unknown key" in issues[p] for p in ("colour", "steps[0].retrys"))


def test_unknown_action_lists_the_registered_ones() -> None:
    data = workflow()
    data["steps"][0]["type"] = "send_fax"
    issues = issues_of(data)
    assert "unknown action 'send_fax'" in issues["steps[0].type"]
    assert "create_record" in issues["steps[0].type"]


def test_trigger_errors_drop_the_union_tag_from_the_path() -> None:
    issues = issues_of(workflow(trigger={"type": "schedule", "cron": "every day"}))
    assert "trigger.cron" in issues and "cron" in issues["trigger.cron"]
    issues = issues_of(workflow(trigger={"type": "sometimes"}))
    assert "trigger" in issues and "'record_event'" in issues["trigger"]


def test_condition_errors_point_into_nested_groups() -> None:
    conditions = {"all": [{"field": "a", "op": "=="}, {"any": [{"field": "b", "op": "~="}]}]}
    issues = issues_of(workflow(conditions=conditions))
    assert list(issues) == ["conditions.all[1].any[0].op"]


def test_durations_accept_seconds_and_units() -> None:
    data = workflow()
    data["steps"][0].update(retry_delay="5m", timeout=90)
    parsed = validate_definition(data)
    assert parsed.steps[0].retry_delay == 300 and parsed.steps[0].timeout == 90
    data["steps"][0]["retry_delay"] = "5 fortnights"
    assert "steps[0].retry_delay" in issues_of(data)


def test_depends_on_must_name_steps_and_be_acyclic() -> None:
    data = workflow()
    data["steps"][0]["depends_on"] = ["ghost"]
    assert "unknown step id 'ghost'" in issues_of(data)["steps[0].depends_on"]
    data["steps"][0]["depends_on"] = ["to_proposition"]
    data["steps"][1]["depends_on"] = ["create_deal"]
    assert "cycle" in issues_of(data)["steps"]


def test_duplicate_step_ids_are_rejected() -> None:
    data = workflow()
    data["steps"][1]["id"] = "create_deal"
    assert "duplicate step id" in issues_of(data)["steps[1].id"]


def test_depends_on_builds_a_fan_out() -> None:
    data = workflow()
    data["steps"].append({**data["steps"][1], "id": "third", "depends_on": ["create_deal"]})
    data["steps"][1]["depends_on"] = ["create_deal"]
    data["steps"][0]["depends_on"] = []
    upstream = validate_definition(data).upstream_map()
    assert upstream == {"create_deal": [], "to_proposition": ["create_deal"], "third": ["create_deal"]}


def test_templates_pass_definition_validation_but_not_runtime_validation() -> None:
    from automation.validation import parse_step_config

    parsed = validate_definition(workflow())
    step = parsed.steps[1]
    with pytest.raises(DefinitionError) as caught:
        parse_step_config(step, {"collection": "deals", "id": None, "values": {"stage": "X"}})
    assert caught.value.issues[0].path == "steps.to_proposition.config.id"


def test_json_schema_covers_triggers_and_action_configs() -> None:
    schema = json_schema()
    assert {"create_record", "update_record"} <= set(schema["$defs"]["actions"])
    assert schema["additionalProperties"] is False
    assert Workflow.model_json_schema()["properties"]["key"]["pattern"]


def test_expand_paths_follow_registry_relations() -> None:
    data = workflow("x", trigger={"type": "record_event", "entity": "deals", "events": ["created"]},
                    settings={"expand": ["owner", "organisation.boss"]})  # fmt: skip
    issues = issues_of(data)
    assert (
        list(issues) == ["settings.expand[1]"]
        and "'organisations' has no relation 'boss'" in issues["settings.expand[1]"]
    )
