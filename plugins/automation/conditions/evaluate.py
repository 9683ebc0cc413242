"""Evaluate a condition model against event data; errors name the clause, never a silent false.

Invariant: a clause means what its operator's entry in definitions/operators.py says (the same
entry compiles record filters to SQL); JsonLogic's `changed`, `regex`, `contains`, `is_empty`,
`before`, `after` and `older_than_days` are those entries too. One evaluation does bounded work
whoever chose the data. Regular expressions (`matches`, JsonLogic `regex`) run on RE2, in time
linear in the text, and share one matching budget per evaluation (`RegexBudget`); JsonLogic has
its own work budget (jsonlogic.py). Lookups (`lookup:<collection>.<column>` clauses, JsonLogic
`lookup`) read only through the data's `reader`, counted and capped per evaluation (lookup.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pendulum

from automation.conditions.jsonlogic import JsonLogic
from automation.conditions.lookup import LookupRead, Lookups, RecordReader
from automation.definitions.conditions import (
    AllGroup,
    AnyGroup,
    Clause,
    Condition,
    JsonLogicCondition,
    NotGroup,
    lookup_target,
)
from automation.definitions.operators import OPERATORS, UNARY_OPERATORS, is_empty, to_datetime
from automation.definitions.regex import REGEX_BUDGET, RegexBudget
from automation.errors import ConditionError
from automation.paths import MISSING, resolve


@dataclass(frozen=True)
class ConditionData:
    """What conditions see: `values` (new state, trigger, params, steps) and `old_values`
    (the same names bound to the record's previous state, for `changed`); `reader` is where lookups
    read related records (None: a lookup is an error, nothing else needs it)."""

    values: dict[str, Any]
    old_values: dict[str, Any] = field(default_factory=dict)
    reader: RecordReader | None = None


def _clause(clause: Clause, data: ConditionData, lookups: Lookups, where: str) -> bool:
    shown = clause.field if clause.via is None else f"{clause.field} via {clause.via}"
    where = f"{where} ({shown} {clause.op}{'' if clause.op in UNARY_OPERATORS else f' {clause.value!r}'})"
    spec = OPERATORS[clause.op]
    target = lookup_target(clause.field) if clause.via is not None else None
    if target is not None and clause.via is not None:
        record_id = resolve(data.values, clause.via)
        if record_id is MISSING:
            raise ConditionError(f"{where}: field {clause.via!r} (the record id to look up) is missing from the data")
        return spec.evaluate(lookups.value(*target, record_id, where), clause.value, where)
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


def _jsonlogic(data: ConditionData, lookups: Lookups) -> JsonLogic:
    def lookup(collection: str, record_id: Any, column: str) -> Any:
        return lookups.value(collection, column, record_id, f"lookup {collection}.{column}")

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
            "lookup": lookup,
        }
    )


def evaluate(
    condition: Condition | None,
    data: ConditionData,
    where: str = "conditions",
    *,
    seen: list[LookupRead] | None = None,
) -> bool:
    """Whether `condition` holds for `data`; `ConditionError` naming the clause when it cannot be told.
    One call is one evaluation: its lookups are memoized and capped together, and appended to `seen`."""
    if condition is None:
        return True
    lookups = Lookups(data.reader, seen=seen)
    if REGEX_BUDGET.get() is None:  # the outermost call: one budget for the whole condition
        token = REGEX_BUDGET.set(RegexBudget())
        try:
            return _evaluate(condition, data, lookups, where)
        finally:
            REGEX_BUDGET.reset(token)
    return _evaluate(condition, data, lookups, where)


def _evaluate(condition: Condition, data: ConditionData, lookups: Lookups, where: str) -> bool:
    if isinstance(condition, Clause):
        return _clause(condition, data, lookups, where)
    if isinstance(condition, AllGroup):
        return all(_evaluate(c, data, lookups, f"{where}.all[{i}]") for i, c in enumerate(condition.all))
    if isinstance(condition, AnyGroup):
        return any(_evaluate(c, data, lookups, f"{where}.any[{i}]") for i, c in enumerate(condition.any))
    if isinstance(condition, NotGroup):
        return not _evaluate(condition.not_, data, lookups, f"{where}.not")
    if isinstance(condition, JsonLogicCondition):
        try:
            result = _jsonlogic(data, lookups).apply(condition.jsonlogic, data.values)
        except ConditionError as exc:
            raise ConditionError(f"{where}.jsonlogic: {exc}") from exc
        return bool(result) and result != []
    raise ConditionError(f"{where}: unsupported condition {condition!r}")
