"""A condition (simple form) as a SQL WHERE clause on a registered collection's columns."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import ColumnElement, Interval, String, and_, cast, false, func, literal, not_, or_, true
from sqlalchemy.sql import ColumnCollection

from automation.definitions.conditions import AllGroup, AnyGroup, Clause, Condition, JsonLogicCondition, NotGroup
from automation.errors import RegistryError


def _clause(clause: Clause, columns: ColumnCollection, where: str) -> ColumnElement[bool]:
    name = clause.field.split(".")[-1]
    if name not in columns:
        raise RegistryError(f"{where}: column {clause.field!r} is not in the collection; expected one of "
                            f"{sorted(columns.keys())}")  # fmt: skip
    col, value, op = columns[name], clause.value, clause.op
    simple = {"==": col == value, "!=": col != value, ">": col > value, "<": col < value, ">=": col >= value,
              "<=": col <= value}  # fmt: skip
    if op in simple:
        return simple[op]
    if op in {"in", "not_in"}:
        values = list(value or [])
        return col.in_(values) if op == "in" else col.not_in(values)
    if op == "is_empty":
        return or_(col.is_(None), cast(col, String) == "")
    if op == "is_not_empty":
        return and_(col.is_not(None), cast(col, String) != "")
    if op == "contains":
        return col.contains(str(value))
    if op == "matches":
        return col.regexp_match(str(value))
    if op in {"older_than_days", "newer_than_days"}:
        cutoff = func.now() - literal(timedelta(days=float(value)), Interval())
        return col < cutoff if op == "older_than_days" else col >= cutoff
    if op in {"before", "after"}:
        return col < value if op == "before" else col > value
    raise RegistryError(f"{where}: operator {op!r} cannot be used in a record filter")


def where_clause(condition: Condition | None, columns: ColumnCollection, where: str = "filter") -> ColumnElement[bool]:
    if condition is None:
        return true()
    if isinstance(condition, Clause):
        return _clause(condition, columns, where)
    if isinstance(condition, AllGroup):
        return and_(*(where_clause(c, columns, f"{where}.all[{i}]") for i, c in enumerate(condition.all)))
    if isinstance(condition, AnyGroup):
        return or_(false(), *(where_clause(c, columns, f"{where}.any[{i}]") for i, c in enumerate(condition.any)))
    if isinstance(condition, NotGroup):
        return not_(where_clause(condition.not_, columns, f"{where}.not"))
    if isinstance(condition, JsonLogicCondition):
        raise RegistryError(f"{where}: a record filter takes the simple form (all/any/not clauses), not JSONLogic")
    raise RegistryError(f"{where}: unsupported filter {condition!r}")
