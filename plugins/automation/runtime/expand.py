"""`settings.expand`: load records related to the trigger's entity, by the registry's relations,
so templates can say `{{ entity.owner.email }}` or `{{ entity.organisation.owner.name }}`."""

from __future__ import annotations

import copy
from typing import Any

from automation.definitions import Workflow
from automation.errors import NotFoundError, RegistryError
from automation.records.registry import CollectionsRegistry, get_registry
from automation.records.store import RecordStore, record_reader


def _expand(record: dict[str, Any], collection: str, path: list[str], store: RecordStore) -> None:
    registry = store.registry
    relation = registry.collection(collection).relations.get(path[0])
    if relation is None:
        raise RegistryError(
            f"settings.expand: {collection!r} has no relation {path[0]!r}; "
            f"expected one of {sorted(registry.collection(collection).relations)}"
        )
    related = record.get(path[0])
    if not isinstance(related, dict):
        key = record.get(relation.column)
        if key is None:
            record[path[0]] = None
            return
        try:
            related = store.get(relation.collection, key)
        except NotFoundError:
            related = None
        record[path[0]] = related
    if related is not None and len(path) > 1:
        _expand(related, relation.collection, path[1:], store)


def expand_trigger(
    workflow: Workflow, trigger: dict[str, Any], registry: CollectionsRegistry | None = None
) -> dict[str, Any]:
    """A copy of `trigger` whose new/old records carry the related records named in `expand`."""
    entity = getattr(workflow.trigger, "entity", None)
    if isinstance(entity, list):  # several entities: the event's own (another one is refused by the gate)
        entity = trigger.get("entity") if trigger.get("entity") in entity else None
    if not workflow.settings.expand or not entity:
        return trigger
    registry = registry or get_registry()
    expanded = copy.deepcopy(trigger)
    with record_reader(registry) as store:
        for side in ("new", "old"):
            record = expanded.get(side)
            if isinstance(record, dict) and record:
                for path in workflow.settings.expand:
                    _expand(record, entity, path.split("."), store)
    return expanded
