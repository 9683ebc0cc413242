"""The operator table (definitions/operators.py) as users meet it: one meaning in the gate, `when`,
JsonLogic and the pages, and validation that says which values a record filter accepts."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from automation.actions import describe_step
from automation.conditions import ConditionData, evaluate
from automation.definitions import Condition
from automation.definitions.operators import OPERATORS, UNARY_OPERATORS
from automation.errors import ConditionError, DefinitionError
from automation.pages.readable import condition_tree, readable
from automation.validation import validate_definition
from tests.helpers import workflow

parse = TypeAdapter(Condition).validate_python
ROW: dict[str, Any] = {"deal": {"stage": None, "amount": 100, "name": "ACME", "closed_at": None, "tags": []}}


def holds(condition: dict[str, Any]) -> bool:
    return evaluate(parse(condition), ConditionData(values=ROW))


def issues_of(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(DefinitionError) as caught:
        validate_definition(data)
    return {issue.path: issue.message for issue in caught.value.issues}


def test_a_null_value_compares_false_and_not_flips_it() -> None:
    """As a record filter reads a NULL column; `>` on None used to stop the run with an error."""
    assert not holds({"field": "deal.stage", "op": ">", "value": "A"})
    assert not holds({"field": "deal.closed_at", "op": "before", "value": "2030-01-01"})
    assert not holds({"field": "deal.stage", "op": "contains", "value": "A"})
    assert holds({"field": "deal.stage", "op": "!=", "value": "WON"})
    assert holds({"field": "deal.stage", "op": "not_in", "value": ["WON"]})
    assert holds({"not": {"field": "deal.stage", "op": "==", "value": "WON"}})
    assert holds({"field": "deal.stage", "op": "==", "value": None})


def test_a_missing_field_is_still_an_error_and_a_wrong_type_too() -> None:
    with pytest.raises(ConditionError, match="deal.budget' is missing"):
        holds({"field": "deal.budget", "op": ">", "value": 1})
    with pytest.raises(ConditionError, match="'contains' on text needs a text value"):
        holds({"field": "deal.name", "op": "contains", "value": 5})  # was an uncaught TypeError


def test_jsonlogic_extras_mean_what_the_clauses_mean() -> None:
    assert holds({"jsonlogic": {"is_empty": [{"var": "deal.tags"}]}}) == holds({"field": "deal.tags", "op": "is_empty"})
    assert holds({"jsonlogic": {"contains": [{"var": "deal.name"}, "CM"]}})
    assert not holds({"jsonlogic": {"before": [{"var": "deal.closed_at"}, "2030-01-01"]}})
    assert holds({"jsonlogic": {"regex": [{"var": "deal.name"}, "^A"]}})
    # a field absent before and empty now did not change, in a clause as in JsonLogic (which said it did)
    data = ConditionData(values={"deal": {"owner": None}}, old_values={"deal": {}})
    assert not evaluate(parse({"field": "deal.owner", "op": "changed"}), data)
    assert not evaluate(parse({"jsonlogic": {"changed": "deal.owner"}}), data)


@pytest.mark.parametrize(
    ("clause", "message"),
    [
        ({"field": "params.name", "op": "in", "value": "WON"}, "expected a list of values, got 'WON'"),
        ({"field": "params.name", "op": "older_than_days", "value": "soon"}, "expected a number of days"),
        ({"field": "params.name", "op": "before", "value": "yesterday"}, "expected a date (ISO 8601"),
    ],
)
def test_a_value_the_operator_cannot_take_is_refused_at_its_path(clause: dict[str, Any], message: str) -> None:
    """They failed only when the gate evaluated them."""
    issues = issues_of(workflow(conditions=clause))
    assert list(issues) == ["conditions.value"]
    assert message in issues["conditions.value"]


def bulk(condition: dict[str, Any]) -> dict[str, Any]:
    return workflow(steps=[{"id": "bulk", "type": "update_many", "config": {
        "collection": "deals", "values": {"stage": "LOST"}, "filter": condition}}])  # fmt: skip


def test_a_record_filter_refuses_what_postgres_would_read_differently() -> None:
    issues = issues_of(bulk({"all": [
        {"field": "name", "op": "matches", "value": r"\bACME"},
        {"field": "amount", "op": ">", "value": "5"},
        {"field": "created_at", "op": "==", "value": "2024-01-01"},
        {"field": "name", "op": "older_than_days", "value": 3},
    ]}))  # fmt: skip
    path = "steps[0].config.filter.all"
    assert "word boundary in RE2 but a backspace in Postgres" in issues[f"{path}[0].value"]
    assert "cannot be used in a record filter" in issues[f"{path}[0].value"]
    assert issues[f"{path}[1].value"] == "the column holds numbers; expected a number, got '5'"
    assert issues[f"{path}[2].op"].endswith("on a datetime column in a record filter (only on boolean, integer, "
                                            "number, string columns); compare dates with before, after, "
                                            "older_than_days or newer_than_days")  # fmt: skip
    assert "on a string column" in issues[f"{path}[3].op"]
    assert set(issues) == {f"{path}[0].value", f"{path}[1].value", f"{path}[2].op", f"{path}[3].op"}
    # the same pattern in a gate runs on RE2, where \b means what it says
    assert validate_definition(workflow(conditions={"field": "params.name", "op": "matches", "value": r"\bACME"}))


def test_the_pages_use_the_table_words_and_the_steps_summary() -> None:
    for name, spec in OPERATORS.items():
        clause = {"field": "deal.x", "op": name} | ({} if name in UNARY_OPERATORS else {"value": 1})
        assert condition_tree(clause).text.startswith(f"deal.x {spec.words}")
    step = {"id": "s", "type": "update_record", "config": {"collection": "deals", "id": 1, "values": {"stage": "WON"}}}
    shown = readable(workflow(steps=[step])).steps[0]
    assert shown.summary == describe_step(step) and shown.summary
