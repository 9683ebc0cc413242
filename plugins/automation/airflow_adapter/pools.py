"""Airflow pools the product makes and sizes: one per collection with a concurrency limit, and the pools
workflows name in `settings.pool` (what `airflow pools set` does).

Relies on: the ORM model `airflow.models.pool.Pool` (`pool`, `slots`, `description`, `include_deferred`).
The public alternative, `POST/PATCH /api/v2/pools`, needs a running api-server and a token, which the CLI
and an import do not have (as for `dags`). The metadata database is found as everywhere else
(`airflow_adapter.db`).

Invariant: only pools whose name starts with `prefix` are resized or deleted; a pool someone else made
(a workflow's `settings.pool`) is created when missing and otherwise left as it is."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from automation.airflow_adapter.db import metadata_session, require_metadata_db

#: the slots of a pool a workflow names that did not exist (Airflow's default_pool's own default size)
NEW_NAMED_POOL_SLOTS = 128


@dataclass
class PoolChanges:
    created: list[str] = field(default_factory=list)
    resized: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def sync_pools(owned: Mapping[str, int], named: Iterable[str], prefix: str, *, delete_stale: bool) -> PoolChanges:
    """Make each `owned` pool (name -> slots) exist with that size, each `named` pool exist, and (with
    `delete_stale`) delete the pools under `prefix` that `owned` no longer lists."""
    from airflow.models.pool import Pool
    from sqlalchemy import select

    require_metadata_db()
    changes = PoolChanges()
    with metadata_session() as session:
        existing = {p.pool: p for p in session.scalars(select(Pool)) if p.pool is not None}
        for name, slots in sorted(owned.items()):
            pool = existing.get(name)
            description = f"automation: steps touching collection {name.removeprefix(prefix)!r}"
            if pool is None:
                session.add(Pool(pool=name, slots=slots, description=description, include_deferred=False))
                changes.created.append(name)
            elif pool.slots != slots:
                pool.slots = slots
                changes.resized.append(name)
            else:
                changes.unchanged.append(name)
        for name in sorted(set(named) - set(owned)):
            if name in existing:
                changes.unchanged.append(name)
                continue
            description = "automation: named by a workflow's settings.pool"
            session.add(Pool(pool=name, slots=NEW_NAMED_POOL_SLOTS, description=description, include_deferred=False))
            changes.created.append(name)
        if delete_stale:
            for name, pool in sorted(existing.items()):
                if name.startswith(prefix) and name not in owned:
                    session.delete(pool)
                    changes.deleted.append(name)
    return changes


def pool_slots(names: Iterable[str]) -> dict[str, int]:
    """The slots of each of the pools that exist."""
    from airflow.models.pool import Pool
    from sqlalchemy import select

    wanted = list(names)
    with metadata_session() as session:
        return {p.pool: p.slots for p in session.scalars(select(Pool).where(Pool.pool.in_(wanted)))}
