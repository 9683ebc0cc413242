"""Lookups in conditions: one column of one related record, read by its primary key.

Invariant: a condition reads the database only through a lookup, and only through the reader its
caller passed in (`ConditionData.reader`; `StoreReader` reads through `RecordStore.get`: identifiers
from the registry, the id a bound parameter, one SELECT by primary key of the record's registered
columns, so every column a condition reads of one record costs one read). One evaluation (`Lookups`)
reads each record at most once and at most `[automation] max_condition_lookups` records; one more
fails the evaluation with a `ConditionError`. A condition without lookups calls no reader and reads
no setting. A null id or a missing record reads null; the value is what an event would carry
(JSON: numbers, text, ISO dates). The collection and column are checked against the registry at
validation (`lookup_problems`) and again before each read (the registry file may change)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from automation.config import max_condition_lookups
from automation.definitions.conditions import (
    AllGroup,
    AnyGroup,
    Clause,
    Condition,
    JsonLogicCondition,
    NotGroup,
    lookup_target,
)
from automation.errors import ConditionError
from automation.jsonable import to_jsonable
from automation.paths import MISSING

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from automation.records.registry import Collection, CollectionsRegistry

#: Characters of a text id, at most (an id longer than this is refused, not sent to the database).
MAX_ID_CHARS = 200
_DIGITS = re.compile(r"^\s*-?[0-9]{1,18}\s*$")


class RecordReader(Protocol):
    """Where lookups read records: `registry` says which collections and columns exist; `read` returns
    the record with that primary key (its columns by name) or None when there is none."""

    @property
    def registry(self) -> CollectionsRegistry: ...

    def read(self, collection: str, record_id: Any) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True)
class LookupRead:
    """One lookup as the evaluation saw it (the dry run lists them)."""

    collection: str
    id: Any
    column: str
    value: Any
    found: bool


class StoreReader:
    """Reads through `RecordStore.get` on the collection's own database: on the connection `connections`
    opens for its connection id when given (a dry run's, rolled back), else on a connection taken from
    that database's pool for each read (nothing is opened before the first lookup)."""

    def __init__(
        self,
        connections: Callable[[str], Connection] | None = None,
        registry: CollectionsRegistry | None = None,
    ) -> None:
        self._connections = connections
        self._registry = registry

    @property
    def registry(self) -> CollectionsRegistry:
        if self._registry is None:
            from automation.records.registry import get_registry

            self._registry = get_registry()
        return self._registry

    def read(self, collection: str, record_id: Any) -> Mapping[str, Any] | None:
        from automation.errors import NotFoundError
        from automation.records.store import RecordStore, records_engine

        try:
            if self._connections is not None:
                return RecordStore(None, self.registry, connections=self._connections).get(collection, record_id)
            with records_engine(self.registry, collection).connect() as conn:
                return RecordStore(conn, self.registry).get(collection, record_id)
        except NotFoundError:
            return None


def _record_id(spec: Collection, collection: str, record_id: Any) -> Any:
    """The id as the primary key's registry type takes it: an integer key accepts an integer or its
    digits as text; anything else that is not a plain number or text is refused."""
    kind = spec.columns.get(spec.primary_key)
    if isinstance(record_id, bool) or not isinstance(record_id, int | float | str):
        raise ConditionError(f"the {collection} id must be a number or a text, got {record_id!r}")
    if isinstance(record_id, str) and len(record_id) > MAX_ID_CHARS:
        raise ConditionError(f"the {collection} id is longer than {MAX_ID_CHARS} characters")
    if kind == "integer":
        if isinstance(record_id, float) and record_id.is_integer():
            return int(record_id)
        if isinstance(record_id, str) and _DIGITS.match(record_id):
            return int(record_id)
        if not isinstance(record_id, int) or not -(2**63) <= record_id < 2**63:
            shown = repr(record_id) if len(repr(record_id)) <= 40 else repr(record_id)[:37] + "..."
            raise ConditionError(f"the {collection} id must be an integer ({collection}.{spec.primary_key} is an "
                                 f"integer column, at most 64-bit), got {shown}")  # fmt: skip
    if kind == "string":
        return str(record_id)
    return record_id


class Lookups:
    """The lookups of one evaluation: each record read once (memoized by collection and id), at most
    `limit` records (default: the `max_condition_lookups` setting, read on the first lookup), every
    lookup appended to `seen`."""

    def __init__(
        self, reader: RecordReader | None, limit: int | None = None, seen: list[LookupRead] | None = None
    ) -> None:
        self.reader = reader
        self.limit = limit
        self.seen: list[LookupRead] = [] if seen is None else seen
        self._records: dict[tuple[str, Any], Mapping[str, Any] | None] = {}

    @property
    def reads(self) -> int:
        """Records read from the reader so far in this evaluation."""
        return len(self._records)

    def value(self, collection: str, column: str, record_id: Any, where: str) -> Any:
        """`column` of the `collection` record whose primary key is `record_id`; None for a null id or
        a missing record. `ConditionError` (prefixed with `where`) for anything else."""
        if self.reader is None:
            raise ConditionError(f"{where}: this condition looks up {collection}.{column}, but it is evaluated "
                                 "without a record reader (no database here)")  # fmt: skip
        registry = self.reader.registry
        spec = registry.collections.get(collection)
        if spec is None:
            raise ConditionError(f"{where}: collection {collection!r} is not in the registry; expected one of "
                                 f"{sorted(registry.collections)}")  # fmt: skip
        if column not in spec.columns:
            raise ConditionError(f"{where}: collection {collection!r} has no column {column!r}; expected one of "
                                 f"{sorted(spec.columns)}")  # fmt: skip
        if record_id is None or record_id is MISSING or record_id == "":
            self.seen.append(LookupRead(collection, None, column, None, False))
            return None
        try:
            key = _record_id(spec, collection, record_id)
        except ConditionError as exc:
            raise ConditionError(f"{where}: {exc}") from None
        if (collection, key) not in self._records:
            limit = max_condition_lookups() if self.limit is None else self.limit
            self.limit = limit
            if len(self._records) >= limit:
                raise ConditionError(
                    f"{where}: reading {collection} {key!r} would be lookup {len(self._records) + 1} of this "
                    f"evaluation, over the limit of {limit} ([automation] max_condition_lookups); look up fewer "
                    "records or raise the setting"
                )
            self._records[(collection, key)] = self.reader.read(collection, key)
        record = self._records[(collection, key)]
        value = None if record is None else to_jsonable(record.get(column))
        self.seen.append(LookupRead(collection, key, column, value, record is not None))
        return value


# -- validation --------------------------------------------------------------------------------------


def _jsonlogic_lookups(logic: Any, path: str) -> Iterator[tuple[str, str, str]]:
    """`(path, collection, column)` of each `lookup` in a JsonLogic expression (iteratively)."""
    stack: list[tuple[Any, str]] = [(logic, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, list):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(node))
        elif isinstance(node, dict):
            for key, value in node.items():
                args = value if isinstance(value, list) else None
                if key == "lookup" and args and len(args) == 3 and isinstance(args[0], str) and isinstance(
                        args[2], str):  # fmt: skip
                    yield f"{where}.lookup", args[0], args[2]
                stack.append((value, f"{where}.{key}"))


def lookup_sites(condition: Condition | None, path: str) -> Iterator[tuple[str, str, str]]:
    """`(path, collection, column)` of every lookup in a condition, clauses and JsonLogic alike; the path
    is the clause's `field` or the JsonLogic `lookup`."""
    if condition is None:
        return
    if isinstance(condition, Clause):
        if target := lookup_target(condition.field):
            yield f"{path}.field", *target
    elif isinstance(condition, AllGroup | AnyGroup):
        key, children = ("all", condition.all) if isinstance(condition, AllGroup) else ("any", condition.any)
        for index, child in enumerate(children):
            yield from lookup_sites(child, f"{path}.{key}[{index}]")
    elif isinstance(condition, NotGroup):
        yield from lookup_sites(condition.not_, f"{path}.not")
    elif isinstance(condition, JsonLogicCondition):
        yield from _jsonlogic_lookups(condition.jsonlogic, f"{path}.jsonlogic")


def lookup_problems(
    condition: Condition | None, path: str, registry: Callable[[], CollectionsRegistry] | None = None
) -> list[tuple[str, str]]:
    """`(path, message)` for each lookup whose collection or column the registry does not have (the
    registry is loaded only when the condition has a lookup)."""
    sites = list(lookup_sites(condition, path))
    if not sites:
        return []
    if registry is None:
        from automation.records.registry import get_registry

        registry = get_registry
    known = registry()
    problems = []
    for where, collection, column in sites:
        spec = known.collections.get(collection)
        if spec is None:
            problems.append((where, f"collection {collection!r} is not in the registry; expected one of "
                                    f"{sorted(known.collections)}"))  # fmt: skip
        elif column not in spec.columns:
            problems.append((where, f"collection {collection!r} has no column {column!r}; expected one of "
                                    f"{sorted(spec.columns)}"))  # fmt: skip
    return problems
