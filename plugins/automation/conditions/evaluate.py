"""Evaluate a condition model against event data; errors name the clause, never a silent false.

Invariant: one evaluation does bounded work whoever chose the data. Regular expressions
(`matches`, JsonLogic `regex`) run on RE2, in time linear in the text, and share one matching
budget per evaluation (`RegexBudget`); JsonLogic has its own work budget (jsonlogic.py)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import pendulum

from automation.conditions.jsonlogic import JsonLogic
from automation.definitions.conditions import (
    UNARY_OPERATORS,
    AllGroup,
    AnyGroup,
    Clause,
    Condition,
    JsonLogicCondition,
    NotGroup,
    RegexBudget,
    RegexError,
    regex_search,
)
from automation.errors import ConditionError
from automation.paths import MISSING, resolve

#: The regular-expression budget of the evaluation under way (set by the outermost `evaluate`).
_REGEX_BUDGET: ContextVar[RegexBudget | None] = ContextVar("regex_budget", default=None)


@dataclass(frozen=True)
class ConditionData:
    """What conditions see: `values` (new state, trigger, params, steps) and `old_values`
    (the same names bound to the record's previous state, for `changed`)."""

    values: dict[str, Any]
    old_values: dict[str, Any] = field(default_factory=dict)


def _is_empty(value: Any) -> bool:
    return value is MISSING or value is None or value == "" or (isinstance(value, list | dict) and not value)


def _datetime(value: Any, clause: str) -> pendulum.DateTime:
    if isinstance(value, str) and value.strip().lower() == "now":
        return pendulum.now("UTC")
    try:
        parsed = pendulum.parse(value) if isinstance(value, str) else pendulum.instance(value)
    except Exception as exc:
        raise ConditionError(f"{clause}: expected a date, got {value!r}") from exc
    return parsed  # type: ignore[return-value]


def _number_or_same(actual: Any, expected: Any, clause: str) -> tuple[Any, Any]:
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        try:
            return float(actual), float(expected)
        except (TypeError, ValueError) as exc:
            raise ConditionError(f"{clause}: expected a number, got {actual!r}") from exc
    if type(actual) is not type(expected) and not (isinstance(actual, str) and isinstance(expected, str)):
        raise ConditionError(f"{clause}: cannot compare {actual!r} with {expected!r}")
    return actual, expected


def _compare_clause(clause: Clause, actual: Any, where: str) -> bool:
    op, expected = clause.op, clause.value
    if op == "==":
        return actual == expected or (
            isinstance(expected, int | float) and _number_or_same(actual, expected, where)[0] == float(expected)
        )
    if op == "!=":
        return not _compare_clause(clause.model_copy(update={"op": "=="}), actual, where)
    if op in {">", "<", ">=", "<="}:
        a, b = _number_or_same(actual, expected, where)
        return {">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[op]
    if op == "contains":
        if isinstance(actual, str | list | dict):
            return expected in actual
        raise ConditionError(f"{where}: 'contains' needs text or a list, got {actual!r}")
    if op in {"in", "not_in"}:
        if not isinstance(expected, list):
            raise ConditionError(f"{where}: '{op}' needs a list as value, got {expected!r}")
        return (actual in expected) == (op == "in")
    if op == "matches":
        try:
            return regex_search(str(expected), "" if actual is None else str(actual), _REGEX_BUDGET.get())
        except RegexError as exc:
            raise ConditionError(f"{where}: {exc}") from None
    if op in {"older_than_days", "newer_than_days"}:
        age = pendulum.now("UTC") - _datetime(actual, where)
        days = float(expected)
        return age.total_seconds() > days * 86400 if op == "older_than_days" else age.total_seconds() < days * 86400
    if op in {"before", "after"}:
        a, b = _datetime(actual, where), _datetime(expected, where)
        return a < b if op == "before" else a > b
    raise ConditionError(f"{where}: unknown operator {op!r}")


def _clause(clause: Clause, data: ConditionData, where: str) -> bool:
    where = f"{where} ({clause.field} {clause.op}{'' if clause.op in UNARY_OPERATORS else f' {clause.value!r}'})"
    actual = resolve(data.values, clause.field)
    if clause.op == "changed":
        before = resolve(data.old_values, clause.field)
        return (None if before is MISSING else before) != (None if actual is MISSING else actual)
    if clause.op == "is_empty":
        return _is_empty(actual)
    if clause.op == "is_not_empty":
        return not _is_empty(actual)
    if actual is MISSING:
        raise ConditionError(f"{where}: field {clause.field!r} is missing from the data")
    return _compare_clause(clause, actual, where)


def _regex(text: Any, pattern: Any) -> bool:
    try:
        return regex_search(str(pattern), str(text or ""), _REGEX_BUDGET.get())
    except RegexError as exc:
        raise ConditionError(str(exc)) from None


def _jsonlogic(data: ConditionData) -> JsonLogic:
    def changed(path: str) -> bool:
        return resolve(data.old_values, path) != resolve(data.values, path)

    return JsonLogic(
        extra={
            "changed": changed,
            "old": lambda path: None if (v := resolve(data.old_values, path)) is MISSING else v,
            "regex": _regex,
            "now": lambda: pendulum.now("UTC").isoformat(),
            "date_add": lambda d, n, unit="days": _datetime(d, "date_add").add(**{unit: n}).isoformat(),
            "date_diff": lambda a, b, unit="days": (
                (_datetime(a, "date_diff") - _datetime(b, "date_diff")).in_days()
                if unit == "days"
                else (_datetime(a, "date_diff") - _datetime(b, "date_diff")).total_seconds()
            ),
            "before": lambda a, b: _datetime(a, "before") < _datetime(b, "before"),
            "after": lambda a, b: _datetime(a, "after") > _datetime(b, "after"),
            "older_than_days": lambda d, n: (
                (pendulum.now("UTC") - _datetime(d, "older_than_days")).total_seconds() > float(n) * 86400
            ),
            "length": lambda x: len(x) if x is not None else 0,
            "contains": lambda haystack, needle: needle in (haystack or []),
            "is_empty": _is_empty,
        }
    )


def evaluate(condition: Condition | None, data: ConditionData, where: str = "conditions") -> bool:
    if condition is None:
        return True
    if _REGEX_BUDGET.get() is None:  # the outermost call: one budget for the whole condition
        token = _REGEX_BUDGET.set(RegexBudget())
        try:
            return _evaluate(condition, data, where)
        finally:
            _REGEX_BUDGET.reset(token)
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
