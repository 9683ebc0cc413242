"""The registry of collections and columns that actions may touch (nothing else is reachable)."""

from __future__ import annotations

import re
import time
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, field_validator

from automation.config import DB_CONN_ID, collections_file
from automation.definitions.base import StrictModel
from automation.errors import RegistryError

ColumnType = Literal["integer", "number", "string", "boolean", "datetime", "date", "json"]
_IDENT = r"^[a-z_][a-z0-9_]{0,62}$"
#: an Airflow connection id (the ASCII part of what airflow.models.connection.sanitize_conn_id accepts, 250 at most)
CONN_ID_PATTERN = r"^[A-Za-z0-9_#!()\-.:/\\]{1,250}$"
DEFAULT_REGISTRY = Path(__file__).with_name("crm_collections.yaml")


class Relation(StrictModel):
    column: str = Field(pattern=_IDENT)
    collection: str = Field(pattern=_IDENT)


class Collection(StrictModel):
    table: str = Field(pattern=r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$", description="schema.table")
    primary_key: str = Field(default="id", pattern=_IDENT)
    columns: dict[str, ColumnType]
    relations: dict[str, Relation] = Field(default_factory=dict)
    connection_id: str | None = Field(
        default=None,
        pattern=CONN_ID_PATTERN,
        description="the Airflow connection of this collection's database; none = the registry's connection_id",
    )

    @field_validator("columns")
    @classmethod
    def _identifiers(cls, columns: dict[str, ColumnType]) -> dict[str, ColumnType]:

        for name in columns:
            if not re.match(_IDENT, name):
                raise ValueError(f"column {name!r} is not a plain lowercase identifier")
        return columns

    @property
    def schema_name(self) -> str:
        return self.table.split(".", 1)[0]

    @property
    def table_name(self) -> str:
        return self.table.split(".", 1)[1]


class CollectionsRegistry(StrictModel):
    connection_id: str = Field(default=DB_CONN_ID, pattern=CONN_ID_PATTERN)
    collections: dict[str, Collection]

    def connection_for(self, collection: str) -> str:
        """The Airflow connection id of `collection`'s database (its own, else the registry's)."""
        return self.collection(collection).connection_id or self.connection_id

    def connection_ids(self) -> set[str]:
        """Every connection id a collection uses (the registry's own only if some collection uses it)."""
        return {spec.connection_id or self.connection_id for spec in self.collections.values()}

    def collection(self, name: str) -> Collection:
        try:
            return self.collections[name]
        except KeyError:
            raise RegistryError(
                f"collection {name!r} is not in the registry; expected one of {sorted(self.collections)}"
            ) from None

    def check_columns(self, collection: str, columns: list[str] | set[str]) -> Collection:
        spec = self.collection(collection)
        unknown = sorted(set(columns) - set(spec.columns))
        if unknown:
            raise RegistryError(
                f"column(s) {unknown} are not in collection {collection!r}; expected some of {sorted(spec.columns)}"
            )
        return spec


def registry_path() -> Path:
    return Path(collections_file() or DEFAULT_REGISTRY)


@cache
def _load(path: str, mtime: float) -> CollectionsRegistry:
    return CollectionsRegistry.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


_checked: dict[str, tuple[float, CollectionsRegistry]] = {}
RECHECK_SECONDS = 2.0


def get_registry() -> CollectionsRegistry:
    """The registry file's content, re-read when it changes (its mtime is looked at every 2 s at
    most: a parse validates thousands of step configs against it)."""
    path = str(registry_path())
    now = time.monotonic()
    cached = _checked.get(path)
    if cached is not None and now - cached[0] < RECHECK_SECONDS:
        return cached[1]
    registry = _load(path, Path(path).stat().st_mtime)
    _checked[path] = (now, registry)
    return registry
