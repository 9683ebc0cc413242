from __future__ import annotations

import pendulum
import pytest
from pydantic import TypeAdapter

from automation.conditions import ConditionData, evaluate
from automation.definitions import Condition
from automation.errors import ConditionError

parse = TypeAdapter(Condition).validate_python
NEW = {"deal": {"amount": 60000, "stage": "SIGNED", "tags": ["vip"], "ref": "ORD-2024-001", "owner": None}}
OLD = {"deal": {"amount": 60000, "stage": "PROPOSITION", "tags": [], "ref": "ORD-2024-001", "owner": None}}
DATA = ConditionData(values=NEW, old_values=OLD)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "deal.amount", "op": ">", "value": 50000}, True),
        ({"field": "deal.amount", "op": "<=", "value": 50000}, False),
        ({"field": "deal.stage", "op": "in", "value": ["SIGNED", "WON"]}, True),
        ({"field": "deal.stage", "op": "not_in", "value": ["SIGNED"]}, False),
        ({"field": "deal.tags", "op": "contains", "value": "vip"}, True),
        ({"field": "deal.owner", "op": "is_empty"}, True),
        ({"field": "deal.stage", "op": "changed"}, True),
        ({"field": "deal.amount", "op": "changed"}, False),
        ({"field": "deal.ref", "op": "matches", "value": r"^ORD-\d{4}-"}, True),
        ({"all": [{"field": "deal.amount", "op": ">", "value": 1}, {"field": "deal.stage", "op": "==", "value": "X"}]},
         False),
        ({"any": [{"field": "deal.amount", "op": ">", "value": 1}, {"field": "deal.stage", "op": "==", "value": "X"}]},
         True),
        ({"not": {"field": "deal.stage", "op": "==", "value": "SIGNED"}}, False),
        ({"jsonlogic": {"and": [{">": [{"var": "deal.amount"}, 50000]}, {"changed": "deal.stage"}]}}, True),
        ({"jsonlogic": {"==": [{"old": "deal.stage"}, "PROPOSITION"]}}, True),
        ({"jsonlogic": {"some": [{"var": "deal.tags"}, {"==": [{"var": ""}, "vip"]}]}}, True),
    ],
)  # fmt: skip
def test_operators(condition: dict, expected: bool) -> None:
    assert evaluate(parse(condition), DATA) is expected


def test_missing_field_is_an_error_naming_the_clause() -> None:
    with pytest.raises(ConditionError) as caught:
        evaluate(parse({"all": [{"field": "deal.amount", "op": ">", "value": 1},
                                {"field": "deal.budget", "op": ">", "value": 1}]}), DATA)  # fmt: skip
    assert "conditions.all[1]" in str(caught.value) and "deal.budget" in str(caught.value)


def test_type_mismatch_is_an_error() -> None:
    with pytest.raises(ConditionError, match="expected a number"):
        evaluate(parse({"field": "deal.stage", "op": ">", "value": 5}), DATA)


def test_dates() -> None:
    old = pendulum.now("UTC").subtract(days=40).isoformat()
    data = ConditionData(values={"deal": {"updated_at": old}})
    assert evaluate(parse({"field": "deal.updated_at", "op": "older_than_days", "value": 30}), data)
    assert not evaluate(parse({"field": "deal.updated_at", "op": "older_than_days", "value": 60}), data)
    assert evaluate(parse({"field": "deal.updated_at", "op": "before", "value": "now"}), data)
