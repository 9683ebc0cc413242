"""A condition (simple form) as a SQL WHERE clause on a registered collection's columns.

Invariant: a filter names only the collection's columns and the operators SQL can run, and a
`matches` pattern reaches Postgres only after RE2 accepted it (the same subset as conditions).
`contains` means a substring (LIKE wildcards in the value are escaped), as it does in conditions.
`filter_problems` finds what `where_clause` would refuse, so validation and run time agree."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

from sqlalchemy import ColumnElement, Interval, String, and_, cast, false, func, literal, not_, or_, true
from sqlalchemy.sql import ColumnCollection

from automation.definitions.conditions import (
    AllGroup,
    AnyGroup,
    Clause,
    Condition,
    JsonLogicCondition,
    NotGroup,
    RegexError,
    compile_regex,
)
from automation.errors import RegistryError

#: Every clause operator but `changed` (a filter sees one state of a row, not two).
SQL_OPERATORS = frozenset({"==", "!=", ">", "<", ">=", "<=", "in", "not_in", "is_empty", "is_not_empty", "contains",
                           "matches", "older_than_days", "newer_than_days", "before", "after"})  # fmt: skip
NOT_JSONLOGIC = "a record filter takes the simple form (all/any/not clauses), not JSONLogic"


def _is_template(value: object) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def clause_problem(clause: Clause, columns: Collection[str], *, templates: bool = False) -> tuple[str, str] | None:
    """`(key, message)` for what is wrong with one clause (`key` is `field`, `op` or `value`), or
    None. With `templates`, a field or value still holding a template is left for run time."""
    if not (templates and _is_template(clause.field)) and clause.field.split(".")[-1] not in columns:
        return "field", f"column {clause.field!r} is not in the collection; expected one of {sorted(columns)}"
    if clause.op not in SQL_OPERATORS:
        return "op", f"operator {clause.op!r} cannot be used in a record filter"
    if clause.op == "matches" and not (templates and _is_template(clause.value)):
        try:
            compile_regex(str(clause.value))
        except RegexError as exc:
            return "value", str(exc)
    return None


def filter_problems(
    condition: Condition | None, columns: Collection[str], where: str = "filter", *, templates: bool = False
) -> list[tuple[str, str]]:
    """Every `(path, message)` that `where_clause` would raise for this filter."""
    if condition is None:
        return []
    if isinstance(condition, Clause):
        problem = clause_problem(condition, columns, templates=templates)
        return [(f"{where}.{problem[0]}", problem[1])] if problem else []
    if isinstance(condition, AllGroup | AnyGroup):
        key = "all" if isinstance(condition, AllGroup) else "any"
        children = condition.all if isinstance(condition, AllGroup) else condition.any
        return [p for i, c in enumerate(children) for p in filter_problems(c, columns, f"{where}.{key}[{i}]",
                                                                           templates=templates)]  # fmt: skip
    if isinstance(condition, NotGroup):
        return filter_problems(condition.not_, columns, f"{where}.not", templates=templates)
    if isinstance(condition, JsonLogicCondition):
        return [(where, NOT_JSONLOGIC)]
    return [(where, f"unsupported filter {condition!r}")]


def _clause(clause: Clause, columns: ColumnCollection, where: str) -> ColumnElement[bool]:
    problem = clause_problem(clause, columns.keys())
    if problem:
        raise RegistryError(f"{where}: {problem[1]}")
    col, value, op = columns[clause.field.split(".")[-1]], clause.value, clause.op
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
    if op == "contains":  # a substring, as in conditions: % and _ in the value are not wildcards
        return col.contains(str(value), autoescape=True)
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
        raise RegistryError(f"{where}: {NOT_JSONLOGIC}")
    raise RegistryError(f"{where}: unsupported filter {condition!r}")
