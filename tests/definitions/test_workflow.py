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


# Bounded conditions (issue 12): RE2-only patterns, nesting and size limits, filter columns.

RE2_HINT = "patterns run on RE2"


@pytest.mark.parametrize(
    ("conditions", "path", "reason"),
    [
        ({"all": [{"field": "deal.ref", "op": "matches", "value": r"^(\w)\1$"}]}, "conditions.all[0].value",
         r"RE2 does not support backreferences (\1)"),
        ({"not": {"field": "deal.ref", "op": "matches", "value": r"(?<!x)y"}}, "conditions.not.value",
         "RE2 does not support lookbehind"),
        ({"jsonlogic": {"and": [True, {"regex": [{"var": "deal.ref"}, "a(?=b)"]}]}},
         "conditions.jsonlogic.and[1].regex[1]", "RE2 does not support lookahead"),
        ({"field": "deal.ref", "op": "matches", "value": r"end\Z"}, "conditions.value", r"write \z"),
        ({"field": "deal.ref", "op": "matches", "value": r"(abcdef){1000}"}, "conditions.value",
         "6004 RE2 instructions; at most 5000"),
    ],
)  # fmt: skip
def test_patterns_re2_cannot_run_are_refused_with_their_path(conditions: dict, path: str, reason: str) -> None:
    issues = issues_of(workflow(conditions=conditions))
    assert list(issues) == [path]
    assert reason in issues[path] and RE2_HINT in issues[path]


def test_a_step_when_and_a_record_filter_refuse_them_too_but_a_template_waits_for_run_time() -> None:
    data = workflow()
    data["steps"][0]["when"] = {"field": "params.name", "op": "matches", "value": "(?P<x>a)(?P=x)"}
    assert "RE2 does not support backreferences" in issues_of(data)["steps[0].when.value"]
    data = workflow()
    data["steps"].append({"id": "bulk", "type": "update_many", "config": {
        "collection": "deals", "values": {"stage": "LOST"},
        "filter": {"any": [{"field": "name", "op": "matches", "value": "{{ params.name }}"},
                           {"field": "name", "op": "matches", "value": "(?=x)"}]}}})  # fmt: skip
    assert list(issues_of(data)) == ["steps[2].config.filter.any[1].value"]


def nested_jsonlogic(levels: int) -> dict:
    logic: dict = {"var": "deal.amount"}
    for _ in range(levels):
        logic = {"!": [logic]}
    return logic


def test_deep_jsonlogic_is_refused_at_validation_where_storing_it_failed() -> None:
    """400 nested operators passed validation and then failed to serialize (a 500 on create)."""
    for levels in (150, 400, 100_000):
        issues = issues_of(workflow(conditions={"jsonlogic": nested_jsonlogic(levels)}))
        assert list(issues) == ["conditions.jsonlogic"] and "more than 32 levels" in issues["conditions.jsonlogic"]
    fine = validate_definition(workflow(conditions={"jsonlogic": nested_jsonlogic(15)}))
    assert fine.model_dump(mode="json")["conditions"]["jsonlogic"]


def test_jsonlogic_size_and_group_depth_are_bounded() -> None:
    wide = {"or": [{"==": [{"var": "deal.stage"}, f"S{i}"]} for i in range(3000)]}
    issues = issues_of(workflow(conditions={"jsonlogic": wide}))
    assert "more than 10000 values" in issues["conditions.jsonlogic"]

    clause: dict = {"field": "deal.amount", "op": ">", "value": 1}
    for i in range(300):
        clause = {"all": [clause]} if i % 2 else {"not": clause}
    issues = issues_of(workflow(conditions=clause))
    assert list(issues) == ["conditions"] and "more than 16 levels" in issues["conditions"]


def test_a_definition_nested_too_deep_anywhere_is_refused_with_the_path() -> None:
    data = workflow()
    value: object = "x"
    for _ in range(200):
        value = [value]
    data["steps"][0]["config"]["values"]["name"] = value
    issues = issues_of(data)
    (path,) = issues
    assert path.startswith("steps[0].config.values.name[0][0]") and "more than 64 levels" in issues[path]


def record_step(kind: str, config: dict) -> dict:
    return workflow(steps=[{"id": "bulk", "type": kind, "config": config}])


def test_filter_columns_and_operators_are_checked_by_validate() -> None:
    """They were checked only when the step ran; validate now refuses what `where_clause` would."""
    issues = issues_of(record_step("update_many", {
        "collection": "deals", "values": {"stage": "LOST"},
        "filter": {"all": [{"field": "stage", "op": "==", "value": "NEW"}, {"field": "password", "op": "==", "value": 1},
                           {"field": "deals.amount", "op": "changed"}, {"jsonlogic": True}]}}))  # fmt: skip
    assert set(issues) == {"steps[0].config.filter.all[1].field", "steps[0].config.filter.all[2].op",
                           "steps[0].config.filter.all[3]"}  # fmt: skip
    assert "column 'password' is not in the collection" in issues["steps[0].config.filter.all[1].field"]
    assert "'stage'" in issues["steps[0].config.filter.all[1].field"]

    issues = issues_of(
        record_step("delete_many", {"collection": "deals", "filter": {"not": {"field": "x", "op": "is_empty"}}})
    )
    assert list(issues) == ["steps[0].config.filter.not.field"]

    issues = issues_of(record_step("for_each", {
        "query": {"collection": "deals", "filter": {"field": "colour", "op": "==", "value": "red"}},
        "action": {"type": "update_many", "config": {"collection": "contacts", "values": {"name": "{{ item.name }}"},
                                                     "filter": {"field": "stage", "op": "==", "value": 1}}}}))  # fmt: skip
    assert set(issues) == {"steps[0].config.query.filter.field", "steps[0].config.action.config.filter.field"}

    trigger = {
        "type": "inactivity",
        "entity": "deals",
        "days": 7,
        "filter": {"field": "colour", "op": "==", "value": 1},
    }
    assert list(issues_of(workflow(trigger=trigger))) == ["trigger.filter.field"]

    ok = {"collection": "deals", "values": {"stage": "LOST"},
          "filter": {"all": [{"field": "deals.amount", "op": ">", "value": "{{ params.min }}"},
                             {"field": "name", "op": "matches", "value": "^AC"}]}}  # fmt: skip
    with_min = {**record_step("update_many", ok), "trigger": {"type": "manual", "inputs": {"min": {"type": "number"}}}}
    assert validate_definition(with_min)
