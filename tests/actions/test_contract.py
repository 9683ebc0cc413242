"""The step contract (automation.actions.base): every built-in action states its config, capabilities,
tasks, outcome and description in one place; `describe_step` is the one summary everybody shows."""

from __future__ import annotations

from typing import Any

import pendulum
import pytest

from automation.actions import (
    Action,
    ActionConfig,
    ActionContext,
    ApprovalAsked,
    ChildRunStarted,
    Deferred,
    Delivered,
    RunInfo,
    action_names,
    describe_step,
    get_action,
)
from automation.actions.base import MAX_SUMMARY, Capabilities, duration_text
from automation.factory.build import build_dag
from automation.factory.doc import doc_md
from automation.validation import validate_definition
from tests.helpers import workflow

#: a config for each built-in and what `describe_step` says of it
DESCRIBED: dict[str, tuple[dict[str, Any], str]] = {
    "add_note": ({"entity": "deals", "entity_id": 1, "body": "Called"}, "note on deals: Called"),
    "add_tag": ({"collection": "deals", "id": 1, "tags": ["vip", "eu"]}, "tag the deals record: vip, eu"),
    "approval": ({"subject": "Refund?"}, "ask for approval: 'Refund?'"),
    "assign_user": (
        {"collection": "deals", "id": 1, "round_robin": [1, 2]},
        "assign the deals record in turn to users [1, 2]",
    ),
    "create_record": ({"collection": "deals", "values": {"name": "x"}}, "create a deals record"),
    "create_task": ({"title": "Send documents", "due": "+1 days"}, "task 'Send documents', due +1 days"),
    "delete_many": (
        {"collection": "deals", "filter": {"field": "stage", "op": "==", "value": "LOST"}},
        "delete matching deals",
    ),
    "delete_record": ({"collection": "deals", "id": "{{ trigger.id }}"}, "delete deals {{ trigger.id }}"),
    "for_each": (
        {"items": "{{ params.names }}", "action": {"type": "wait", "config": {"delay": "2h"}}},
        "for each item of {{ params.names }}: wait 2h",
    ),
    "http_request": ({"url": "https://example.com/hook", "method": "PUT"}, "PUT https://example.com/hook"),
    "send_email": ({"to": "a@b.test, c@d.test", "subject": "Hi", "body": "x"}, "email a@b.test, c@d.test: 'Hi'"),
    "send_notification": ({"title": "Won"}, "notify everyone: Won"),
    "trigger_workflow": ({"workflow": "child", "wait": True}, "start the workflow child and wait for it"),
    "update_field": ({"collection": "deals", "id": 1, "field": "stage", "value": "WON"}, "set deals.stage = WON"),
    "update_many": (
        {
            "collection": "deals",
            "filter": {"field": "stage", "op": "==", "value": "x"},
            "values": {"stage": "LOST", "amount": 0},
        },
        "update matching deals: stage, amount",
    ),
    "update_record": ({"collection": "deals", "id": 1, "values": {"stage": "WON"}}, "update deals: stage"),
    "wait": ({"delay": "3d"}, "wait 3d"),
}


def no_database() -> Any:
    raise AssertionError("this action must not open the database")


def context(task_id: str = "step") -> ActionContext:
    run = RunInfo("automation__wf", "manual__1", task_id, workflow_key="wf", workflow_version=1)
    return ActionContext(run=run, template_context={}, records_factory=no_database, effects_factory=no_database)


def test_every_built_in_is_an_action_of_the_contract_and_is_described() -> None:
    built_in = [n for n in action_names() if type(get_action(n)).__module__.startswith("automation.actions.")]
    assert sorted(DESCRIBED) == built_in
    for name, (config, expected) in DESCRIBED.items():
        action = get_action(name)
        assert isinstance(action, Action) and issubclass(action.config_model, ActionConfig), name
        assert isinstance(action.capabilities, Capabilities) and action.summary, name
        assert describe_step({"id": "s", "type": name, "config": config}) == expected, name


def test_capabilities_say_what_a_step_touches() -> None:
    external = {n for n in action_names() if get_action(n).capabilities.external}  # type: ignore[union-attr]
    assert {"send_email", "http_request", "approval"} <= external
    assert not external & {"create_record", "wait", "for_each", "trigger_workflow"}
    assert get_action("create_record").capabilities.needs_registry  # type: ignore[union-attr]
    assert get_action("for_each").unrendered == frozenset({"action"})  # type: ignore[union-attr]
    not_per_item = {n for n in action_names() if not get_action(n).capabilities.per_item}  # type: ignore[union-attr]
    assert not_per_item == {"for_each", "approval"}
    assert not get_action("wait").idempotent and get_action("send_email").idempotent  # type: ignore[union-attr]


def test_describe_step_never_raises_and_prefers_the_steps_name() -> None:
    assert describe_step({"id": "s", "type": "send_email", "name": "Welcome mail", "config": {}}) == "Welcome mail"
    assert describe_step({"type": "nosuch", "config": {"x": 1}}) == "nosuch"
    assert describe_step({"type": "wait", "config": "not a dict"}) == "wait"
    assert (
        describe_step({"type": "send_email", "config": {"to": 3, "subject": ["odd"]}})
        == "send an email (SMTP connection)"
    )
    assert describe_step({}) == "?"
    placeholder = describe_step({"type": "wait", "config": {"delay": "<< days >>"}})
    assert placeholder == "wait << days >>"  # a catalogue template's unrendered parameter shows as written
    long = describe_step({"type": "send_notification", "config": {"title": "x" * 500}})
    assert len(long) == MAX_SUMMARY and long.endswith("…")
    assert (duration_text(90), duration_text(7200), duration_text("{{ x }}")) == ("90s", "2h", "{{ x }}")


def test_execute_returns_one_outcome_type() -> None:
    wait = get_action("wait")
    assert wait is not None
    later = wait.execute(wait.config_model.model_validate({"delay": "1h"}), context())
    assert isinstance(later, Deferred) and later.until > pendulum.now("UTC") and later.output["waited"] is True
    past = wait.execute(wait.config_model.model_validate({"until": "2001-01-01T00:00:00Z"}), context())
    assert isinstance(past, Delivered) and past.output["waited"] is False
    trigger = get_action("trigger_workflow")
    assert trigger is not None
    child = trigger.execute(trigger.config_model.model_validate({"workflow": "child", "conf": {"a": 1}}), context())
    assert isinstance(child, ChildRunStarted) and child.dag_id == "automation__child"
    assert child.run_id == "triggered__manual__1__step" and child.conf["trigger"]["origin"]["workflow"] == "wf"
    approval = get_action("approval")
    assert approval is not None
    asked = approval.execute(approval.config_model.model_validate({"subject": "OK?", "timeout": "1h"}), context())
    assert asked == ApprovalAsked(subject="OK?", timeout=3600)


def test_build_tasks_gives_each_action_its_tasks() -> None:
    steps = [
        {"id": "each", "type": "for_each",
         "config": {"items": [1, 2], "action": {"type": "wait", "config": {"delay": 1}}}},
        {"id": "ok", "type": "approval", "config": {"subject": "Go?"}},
        {"id": "pause", "type": "wait", "config": {"delay": "1d"}},
        {"id": "child", "type": "trigger_workflow", "config": {"workflow": "other"}},
    ]  # fmt: skip
    dag = build_dag(validate_definition(workflow("kinds", steps=steps)), 1)
    kinds = {task_id: type(task).__name__ for task_id, task in dag.task_dict.items()}
    assert kinds == {"each": "StepOperator", "each__each": "MappedOperator", "ok": "ApprovalStepOperator",
                     "pause": "StepOperator", "child": "StepOperator"}  # fmt: skip
    assert dag.task_dict["each"].downstream_task_ids == {"each__each"}
    assert dag.task_dict["each__each"].downstream_task_ids == {"ok"}  # the step's last task leads on


def test_doc_md_says_each_step_as_the_catalogue_does() -> None:
    steps = [{"id": "mail", "type": "send_email", "config": {"to": "a@b.test", "subject": "Hi {{ params.name }}",
                                                             "body": "x"}},
             {"id": "pause", "type": "wait", "config": {"delay": "3d"}, "when": {"field": "params.name", "op": "is_empty"}}]  # fmt: skip
    text = doc_md(validate_definition(workflow("doc", steps=steps)), 4)
    assert "1. `mail`: send_email: email a@b.test: 'Hi {{ params.name }}'" in text
    assert "2. `pause`: wait: wait 3d (only when its `when` holds)" in text


def test_step_operators_are_one_subclass_level_of_base_operator() -> None:
    """The BaseOperator metaclass wraps each `__init__` of the hierarchy: one level each, not three."""
    from airflow.sdk import BaseOperator

    from automation.runtime.inactivity import InactivityScanOperator
    from automation.runtime.operators import GateOperator, StepOperator

    for operator in (StepOperator, GateOperator, InactivityScanOperator):
        inits = [c for c in operator.mro() if issubclass(c, BaseOperator) and "__init__" in vars(c)]
        assert inits == [operator, BaseOperator], operator


@pytest.mark.parametrize("name", ["send_email", "approval", "wait"])
def test_the_default_describe_is_the_summary(name: str) -> None:
    action = get_action(name)
    assert action is not None
    assert Action.describe(action, None) == action.summary[0].lower() + action.summary[1:]
