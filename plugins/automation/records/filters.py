"""A condition (simple form) as a SQL WHERE clause on a registered collection's columns.

Invariant: a filter names only the collection's columns and the operators SQL can run, each
compiled by its entry in definitions/operators.py, so a filter selects exactly the rows the same
condition would accept in Python (a `matches` pattern reaches Postgres only translated to the
identical Postgres pattern, `contains` is a substring, NULL compares false, `not` negates).
`filter_problems` finds what `where_clause` would refuse, so validation and run time agree."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, false, not_, or_, true
from sqlalchemy.sql import ColumnCollection

from automation.definitions.conditions import (
    AllGroup,
    AnyGroup,
    Clause,
    Condition,
    JsonLogicCondition,
    NotGroup,
)
from automation.definitions.operators import OPERATORS, SQL_OPERATORS
from automation.definitions.regex import RegexError
from automation.errors import ConditionError, RegistryError

__all__ = ["NOT_JSONLOGIC", "SQL_OPERATORS", "clause_problem", "filter_problems", "where_clause"]

NOT_JSONLOGIC = "a record filter takes the simple form (all/any/not clauses), not JSONLogic"


def _is_template(value: object) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def clause_problem(clause: Clause, columns: Collection[str], *, templates: bool = False) -> tuple[str, str] | None:
    """`(key, message)` for what is wrong with one clause (`key` is `field`, `op` or `value`), or
    None. With `templates`, a field or value still holding a template is left for run time. When
    `columns` maps names to registry types, the operator and value must suit the column's type
    (the operator table's `column_problem`); with names only, the operator and value alone."""
    if clause.via is not None:
        return "field", "a record filter compares the collection's own columns; it cannot use a lookup"
    column = clause.field.split(".")[-1]
    field_template = templates and _is_template(clause.field)
    if not field_template and column not in columns:
        return "field", f"column {clause.field!r} is not in the collection; expected one of {sorted(columns)}"
    spec = OPERATORS[clause.op]
    if spec.sql is None:
        return "op", spec.not_in_filters or f"operator {clause.op!r} cannot be used in a record filter"
    value_template = templates and _is_template(clause.value)
    column_type = columns.get(column) if isinstance(columns, Mapping) and not field_template else None
    if isinstance(column_type, str):
        return spec.column_problem(column_type, clause.value, template=value_template)
    if clause.op == "matches" and not value_template:  # the pattern must mean the same on Postgres
        return spec.column_problem("string", clause.value)
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


def _clause(clause: Clause, columns: ColumnCollection[str, Any], where: str) -> ColumnElement[bool]:
    problem = clause_problem(clause, columns.keys())
    if problem:
        raise RegistryError(f"{where}: {problem[1]}")
    compile_sql = OPERATORS[clause.op].sql
    assert compile_sql is not None  # clause_problem refused the others
    try:
        return compile_sql(columns[clause.field.split(".")[-1]], clause.value)
    except (ConditionError, RegexError) as exc:
        raise RegistryError(f"{where}: {exc}") from None


def where_clause(
    condition: Condition | None, columns: ColumnCollection[str, Any], where: str = "filter"
) -> ColumnElement[bool]:
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
