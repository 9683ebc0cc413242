"""Config pieces shared by the record actions: a registered collection, its columns, record ids."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from automation.actions.base import ActionConfig, is_template
from automation.definitions.base import PathError
from automation.errors import RegistryError
from automation.records.registry import get_registry

RecordId = int | str
#: How many rows one bulk step may touch; more matches fail the step and change nothing.
MaxRows = Annotated[int, Field(ge=1, le=100_000, description="more matches fail the step, changing nothing")]


def check_collection(name: str, columns: list[str] | None = None, path: str = "collection") -> None:
    """Raise `PathError` (a field path and what is allowed) unless the collection and columns exist."""
    if is_template(name):
        raise PathError(path, "must be a literal name from the registry, not a template")
    registry = get_registry()
    try:
        registry.collection(name)
    except RegistryError as exc:
        raise PathError(path, str(exc)) from exc
    if columns:
        try:
            registry.check_columns(name, columns)
        except RegistryError as exc:
            raise PathError("values", str(exc)) from exc


class CollectionConfig(ActionConfig):
    collection: str = Field(min_length=1, description="a collection from the registry")

    @model_validator(mode="after")
    def _registered(self) -> CollectionConfig:
        check_collection(self.collection, self._columns())
        return self

    def _columns(self) -> list[str]:
        return []


class CollectionValues(CollectionConfig):
    """A collection from the registry and values for some of its columns."""

    values: dict[str, Any] = Field(min_length=1)

    def _columns(self) -> list[str]:
        return list(self.values)
