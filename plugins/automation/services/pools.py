"""The Airflow pools workflows run in: one per collection with a `concurrency` limit in the registry
(sized to it, deleted when the limit goes), and each pool a workflow names in `settings.pool` (made when
missing). `automation pools sync` runs `sync`; every save and import runs `sync_quietly` for what it saved.

Invariant: a sync never changes a pool it did not make beyond creating a missing named one, and a save
never fails because Airflow's database cannot be reached (the pools wait for the next sync)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from automation.airflow_adapter.pools import PoolChanges
from automation.records.registry import POOL_PREFIX, get_registry

log = logging.getLogger(__name__)


def named_pool(definition: dict[str, Any]) -> str | None:
    """The `settings.pool` of a stored (validated) definition."""
    settings = definition.get("settings")
    pool = settings.get("pool") if isinstance(settings, dict) else None
    return pool if isinstance(pool, str) else None


def sync(definitions: Iterable[dict[str, Any]], *, delete_stale: bool = True) -> PoolChanges:
    """Make the registry's collection pools and the pools `definitions` name; with `delete_stale`, delete
    the collection pools the registry no longer asks for."""
    from automation.airflow_adapter.pools import sync_pools

    named = {pool for d in definitions if (pool := named_pool(d)) is not None}
    return sync_pools(get_registry().pools(), named, POOL_PREFIX, delete_stale=delete_stale)


def sync_all(delete_stale: bool = True) -> PoolChanges:
    """`sync` for every stored workflow (`automation pools sync`)."""
    from automation.store.repository import Repository

    return sync([w.definition for w in Repository().list_workflows()], delete_stale=delete_stale)


def sync_quietly(definitions: Iterable[dict[str, Any]]) -> None:
    """`sync` after a save or an import (nothing deleted); never raises: Airflow's database may be
    unreachable from here, and `automation pools sync` catches up."""
    try:
        changes = sync(list(definitions), delete_stale=False)
        if changes.created or changes.resized:
            log.info("Airflow pools created %s, resized %s", changes.created, changes.resized)
    except Exception as exc:
        log.warning("Could not sync the Airflow pools of the saved workflows: %s", exc)
