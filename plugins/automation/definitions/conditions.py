"""Condition models: nested all/any/not groups of clauses, or raw JSONLogic."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag

from automation.definitions.base import StrictModel

Operator = Literal[
    "==", "!=", ">", "<", ">=", "<=", "contains", "in", "not_in", "is_empty", "is_not_empty",
    "changed", "matches", "older_than_days", "newer_than_days", "before", "after",
]  # fmt: skip

#: Operators that take no `value`.
UNARY_OPERATORS = frozenset({"is_empty", "is_not_empty", "changed"})


class Clause(StrictModel):
    """`{"field": "deal.amount", "op": ">", "value": 50000}` on a dotted path."""

    field: str = Field(min_length=1, description="dotted path, e.g. deal.amount or old.stage")
    op: Operator
    value: Any = None


class AllGroup(StrictModel):
    all: list[Condition] = Field(min_length=1)


class AnyGroup(StrictModel):
    any: list[Condition] = Field(min_length=1)


class NotGroup(StrictModel):
    not_: Condition = Field(alias="not")


class JsonLogicCondition(StrictModel):
    jsonlogic: dict[str, Any] | bool


def _condition_tag(value: Any) -> str:
    if isinstance(value, dict):
        for tag in ("all", "any", "not", "jsonlogic"):
            if tag in value:
                return tag
        return "clause"
    for tag, model in _TAGGED:
        if isinstance(value, model):
            return tag
    return "clause"


Condition = Annotated[
    Union[  # noqa: UP007 - a tagged union needs Union[...] with Annotated members
        Annotated[AllGroup, Tag("all")],
        Annotated[AnyGroup, Tag("any")],
        Annotated[NotGroup, Tag("not")],
        Annotated[JsonLogicCondition, Tag("jsonlogic")],
        Annotated[Clause, Tag("clause")],
    ],
    Discriminator(_condition_tag),
]

_TAGGED = (("all", AllGroup), ("any", AnyGroup), ("not", NotGroup), ("jsonlogic", JsonLogicCondition))

for _model in (AllGroup, AnyGroup, NotGroup):
    _model.model_rebuild()
