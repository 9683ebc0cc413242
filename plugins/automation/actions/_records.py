"""Config pieces shared by the record actions: a registered collection and its columns."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from automation.actions.base import ActionConfig, is_template
from automation.definitions.base import PathError
from automation.errors import RegistryError
from automation.records.registry import get_registry


class CollectionValues(ActionConfig):
    """A collection from the registry and values for some of its columns."""

    collection: str = Field(min_length=1)
    values: dict[str, Any] = Field(min_length=1)

    @model_validator(mode="after")
    def _registered(self) -> CollectionValues:
        if is_template(self.collection):
            raise PathError("collection", "must be a literal name from the registry, not a template")
        registry = get_registry()
        try:
            registry.collection(self.collection)
        except RegistryError as exc:
            raise PathError("collection", str(exc)) from exc
        try:
            registry.check_columns(self.collection, list(self.values))
        except RegistryError as exc:
            raise PathError("values", str(exc)) from exc
        return self
