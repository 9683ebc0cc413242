"""Evaluate a condition model against event data; errors name the clause, never a silent false.

Invariant: a clause means what its operator's entry in definitions/operators.py says (the same
entry compiles record filters to SQL); JsonLogic's `changed`, `regex`, `contains`, `is_empty`,
`before`, `after` and `older_than_days` are those entries too. One evaluation does bounded work
whoever chose the data. Regular expressions (`matches`, JsonLogic `regex`) run on RE2, in time
linear in the text, and share one matching budget per evaluation (`RegexBudget`); JsonLogic has
its own work budget (jsonlogic.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pendulum

from automation.conditions.jsonlogic import JsonLogic
from automation.definitions.conditions import (
    AllGroup,
    AnyGroup,
    Clause,
    Condition,
    JsonLogicCondition,
    NotGroup,
)
from automation.definitions.operators import OPERATORS, UNARY_OPERATORS, is_empty, to_datetime
from automation.definitions.regex import REGEX_BUDGET, RegexBudget
from automation.errors import ConditionError
from automation.paths import MISSING, resolve


@dataclass(frozen=True)
class ConditionData:
    """What conditions see: `values` (new state, trigger, params, steps) and `old_values`
    (the same names bound to the record's previous state, for `changed`)."""

    values: dict[str, Any]
    old_values: dict[str, Any] = field(default_factory=dict)


def _clause(clause: Clause, data: ConditionData, where: str) -> bool:
    where = f"{where} ({clause.field} {clause.op}{'' if clause.op in UNARY_OPERATORS else f' {clause.value!r}'})"
    spec = OPERATORS[clause.op]
    actual = resolve(data.values, clause.field)
    if clause.op == "changed":
        return spec.evaluate(actual, resolve(data.old_values, clause.field), where)
    if actual is MISSING and not spec.unary:
        raise ConditionError(f"{where}: field {clause.field!r} is missing from the data")
    return spec.evaluate(actual, clause.value, where)


def _extra(name: str) -> Any:
    """A JsonLogic operator that is also a clause operator: the table's meaning (`where` its name)."""
    evaluate = OPERATORS[name].evaluate
    return lambda actual=None, value=None: evaluate(None if actual is MISSING else actual, value, name)


def _jsonlogic(data: ConditionData) -> JsonLogic:
    def changed(path: str) -> bool:
        return OPERATORS["changed"].evaluate(resolve(data.values, path), resolve(data.old_values, path), "changed")

    return JsonLogic(
        extra={
            "changed": changed,
            "old": lambda path: None if (v := resolve(data.old_values, path)) is MISSING else v,
            "regex": _extra("matches"),
            "now": lambda: pendulum.now("UTC").isoformat(),
            "date_add": lambda d, n, unit="days": to_datetime(d, "date_add").add(**{unit: n}).isoformat(),
            "date_diff": lambda a, b, unit="days": (
                (to_datetime(a, "date_diff") - to_datetime(b, "date_diff")).in_days()
                if unit == "days"
                else (to_datetime(a, "date_diff") - to_datetime(b, "date_diff")).total_seconds()
            ),
            "before": _extra("before"),
            "after": _extra("after"),
            "older_than_days": _extra("older_than_days"),
            "length": lambda x: len(x) if x is not None else 0,
            "contains": _extra("contains"),
            "is_empty": is_empty,
        }
    )


def evaluate(condition: Condition | None, data: ConditionData, where: str = "conditions") -> bool:
    if condition is None:
        return True
    if REGEX_BUDGET.get() is None:  # the outermost call: one budget for the whole condition
        token = REGEX_BUDGET.set(RegexBudget())
        try:
            return _evaluate(condition, data, where)
        finally:
            REGEX_BUDGET.reset(token)
    return _evaluate(condition, data, where)


def _evaluate(condition: Condition, data: ConditionData, where: str) -> bool:
    if isinstance(condition, Clause):
        return _clause(condition, data, where)
    if isinstance(condition, AllGroup):
        return all(_evaluate(c, data, f"{where}.all[{i}]") for i, c in enumerate(condition.all))
    if isinstance(condition, AnyGroup):
        return any(_evaluate(c, data, f"{where}.any[{i}]") for i, c in enumerate(condition.any))
    if isinstance(condition, NotGroup):
        return not _evaluate(condition.not_, data, f"{where}.not")
    if isinstance(condition, JsonLogicCondition):
        try:
            result = _jsonlogic(data).apply(condition.jsonlogic, data.values)
        except ConditionError as exc:
            raise ConditionError(f"{where}.jsonlogic: {exc}") from exc
        return bool(result) and result != []
    raise ConditionError(f"{where}: unsupported condition {condition!r}")
