"""Query pieces the store's readers share: optional filters, where an unset (None) filter matches all."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select

SelectT = TypeVar("SelectT", bound=Select[Any])


def where_equal(query: SelectT, *filters: tuple[Any, object]) -> SelectT:
    """`query` narrowed to rows whose column equals its value, for each (column, value) whose value is set."""
    for column, value in filters:
        if value is not None:
            query = query.where(column == value)
    return query
