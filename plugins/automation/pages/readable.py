"""A definition (stored JSON, or a template with placeholders) as something a person reads:
labelled trigger fields, a condition tree in words (each operator's words from the operator table),
steps with their one-line summary (the action's `describe`) and their config as YAML."""

from __future__ import annotations

import json
from typing import Any

import yaml
from pydantic import BaseModel

from automation.actions import describe_step
from automation.definitions.operators import OPERATORS

_STEP_POLICY = ("retries", "retry_delay", "timeout", "continue_on_failure", "repeat_on_clear", "depends_on", "notify")


class Field(BaseModel):
    label: str
    value: str
    block: bool = False  # a nested value, shown as YAML


class ConditionNode(BaseModel):
    text: str
    children: list[ConditionNode] = []


class ReadableStep(BaseModel):
    id: str
    type: str
    name: str | None = None
    summary: str = ""  # what the step does, in one line (the action's `describe`, as everywhere)
    when: ConditionNode | None = None
    config_yaml: str = ""
    policy: list[Field] = []


class ReadableDefinition(BaseModel):
    trigger_type: str
    trigger: list[Field]
    conditions: ConditionNode | None
    steps: list[ReadableStep]
    settings: list[Field]


def label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def _fields(values: dict[str, Any], skip: tuple[str, ...] = ()) -> list[Field]:
    return [_field(k, v) for k, v in values.items() if k not in skip and v not in (None, [], {}, "")]


def _field(name: str, value: Any) -> Field:
    flat_list = isinstance(value, list) and all(isinstance(v, str | int | float) for v in value)
    if isinstance(value, dict) or (isinstance(value, list) and not flat_list):
        return Field(label=label(name), value=as_yaml(value), block=True)
    return Field(label=label(name), value=value_text(value))


def condition_tree(condition: Any) -> ConditionNode:
    if not isinstance(condition, dict):
        return ConditionNode(text=value_text(condition))
    if "all" in condition:
        return ConditionNode(text="all of", children=[condition_tree(c) for c in condition["all"]])
    if "any" in condition:
        return ConditionNode(text="any of", children=[condition_tree(c) for c in condition["any"]])
    if "not" in condition:
        return ConditionNode(text="not", children=[condition_tree(condition["not"])])
    if "jsonlogic" in condition:
        return ConditionNode(text=f"JSONLogic {json.dumps(condition['jsonlogic'], sort_keys=True)}")
    op = str(condition.get("op", "?"))
    spec = OPERATORS.get(op)
    words = spec.words if spec else op
    field = condition.get("field", "?")
    if condition.get("via"):  # a lookup: lookup:users.team via deal.owner_id
        field = f"{field} via {condition['via']}"
    if spec and spec.unary:
        return ConditionNode(text=f"{field} {words}")
    return ConditionNode(text=f"{field} {words} {json.dumps(condition.get('value'), ensure_ascii=False)}")


def as_yaml(value: Any) -> str:
    if value in (None, {}, []):
        return ""
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=100).rstrip()


def readable(definition: dict[str, Any]) -> ReadableDefinition:
    trigger = definition.get("trigger") or {}
    steps = [
        ReadableStep(
            id=str(step.get("id", "?")),
            type=str(step.get("type", "?")),
            name=step.get("name"),
            summary=describe_step(step),
            when=condition_tree(step["when"]) if step.get("when") else None,
            config_yaml=as_yaml(step.get("config")),
            policy=[_field(k, step[k]) for k in _STEP_POLICY if step.get(k)],
        )
        for step in definition.get("steps") or []
    ]
    conditions = definition.get("conditions")
    return ReadableDefinition(
        trigger_type=label(str(trigger.get("type", "unknown"))),
        trigger=_fields(trigger, skip=("type",)),
        conditions=condition_tree(conditions) if conditions else None,
        steps=steps,
        settings=_fields(definition.get("settings") or {}),
    )
