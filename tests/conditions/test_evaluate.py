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


# Regular expressions run on RE2 (issue 12, ReDoS): linear time whoever chose the text or the pattern.

REDOS_PROBE = r"""
import sys
from pydantic import TypeAdapter
from automation.conditions import ConditionData, evaluate
from automation.definitions import Condition

text = "a" * 50 + "!"
data = ConditionData(values={"deal": {"ref": text, "pattern": "^(a+)+$"}})
parse = TypeAdapter(Condition).validate_python
clause = parse({"field": "deal.ref", "op": "matches", "value": "^(a+)+$"})
literal = parse({"jsonlogic": {"regex": [{"var": "deal.ref"}, "^(a+)+$"]}})
chosen = parse({"jsonlogic": {"regex": [{"var": "deal.ref"}, {"var": "deal.pattern"}]}})
print([evaluate(c, data) for c in (clause, literal, chosen)])
"""


def test_catastrophic_pattern_on_a_hostile_value_finishes() -> None:
    """`^(a+)+$` on 50 `a`s and `!` took 14.4 s at 28 characters with Python's `re` (x4 per 2 more):
    years at 51. The probe runs in a subprocess so a regression fails the test instead of hanging it."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "plugins"), str(root)])}
    done = subprocess.run([sys.executable, "-c", REDOS_PROBE], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[False, False, False]"


def test_matches_and_regex_use_re2_syntax() -> None:
    data = ConditionData(values={"deal": {"ref": "ORD-2024-001 café"}})
    assert evaluate(parse({"field": "deal.ref", "op": "matches", "value": r"(?i)^ord-\d{4}-\d+ caf\x{e9}\z"}), data)
    assert evaluate(parse({"jsonlogic": {"regex": [{"var": "deal.ref"}, r"\bcafé$"]}}), data)
    assert not evaluate(parse({"jsonlogic": {"regex": [{"var": "deal.ref"}, r"^\d"]}}), data)


def test_a_pattern_chosen_by_the_data_that_re2_cannot_run_is_an_error_naming_the_clause() -> None:
    data = ConditionData(values={"deal": {"ref": "aa", "pattern": r"(a)\1"}})
    condition = parse({"any": [{"jsonlogic": {"regex": [{"var": "deal.ref"}, {"var": "deal.pattern"}]}}]})
    with pytest.raises(ConditionError) as caught:
        evaluate(condition, data)
    assert "conditions.any[0].jsonlogic" in str(caught.value)
    assert "RE2 does not support backreferences" in str(caught.value)


def test_a_pattern_chosen_by_the_data_cannot_make_one_match_expensive() -> None:
    """RE2 is linear in the text, but `a[ab]{1000}c` costs ~1,000 steps per byte once its DFA cache
    overflows (8 s on 1 MB, measured): instructions x bytes over the budget is refused, not run."""
    data = ConditionData(values={"deal": {"notes": "ab" * 150_000, "pattern": "a[ab]{1000}c", "cheap": "^(ab)+$"}})
    costly = parse({"jsonlogic": {"regex": [{"var": "deal.notes"}, {"var": "deal.pattern"}]}})
    with pytest.raises(ConditionError, match="more matching work than allowed"):
        evaluate(costly, data)
    assert evaluate(parse({"jsonlogic": {"regex": [{"var": "deal.notes"}, {"var": "deal.cheap"}]}}), data)
    assert evaluate(parse({"field": "deal.notes", "op": "matches", "value": r"\pL+$"}), data)


def test_the_regular_expressions_of_one_condition_share_one_budget() -> None:
    data = ConditionData(values={"deal": {"notes": "ab" * 25_000}})
    costly = {"field": "deal.notes", "op": "matches", "value": "a[ab]{900}c"}  # ~906 x 50,000 per match
    assert not evaluate(parse({"any": [costly, costly]}), data)
    with pytest.raises(ConditionError, match=r"conditions\.any\[2\].*more matching work than allowed"):
        evaluate(parse({"any": [costly, costly, costly]}), data)
    assert not evaluate(parse({"any": [costly, costly]}), data)  # the next evaluation has its own budget


def test_jsonlogic_that_grows_quadratically_with_the_data_stops_with_an_error() -> None:
    """`reduce` + `merge` copies the accumulator each step: 40,000 items took 12 s, a 1 MB webhook
    list minutes. The evaluator's work budget stops it instead (a few hundred ms)."""
    data = ConditionData(values={"items": list(range(60_000))})
    grow = {"reduce": [{"var": "items"}, {"merge": [{"var": "accumulator"}, {"var": "current"}]}, []]}
    with pytest.raises(ConditionError, match="conditions.jsonlogic: .*work units"):
        evaluate(parse({"jsonlogic": {"<": [{"length": grow}, 1]}}), data)
    total = {"reduce": [{"var": "items"}, {"+": [{"var": "accumulator"}, {"var": "current"}]}, 0]}
    assert evaluate(parse({"jsonlogic": {">": [total, 1000]}}), data)
