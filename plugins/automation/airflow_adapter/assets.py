"""Asset events in Airflow's metadata database: the assets workflows listen to, the events already
registered, and registering one (which queues the runs of the DAGs scheduled on that asset).

Relies on: `airflow.models.asset.AssetModel` / `AssetEvent` (ORM models: `uri`, `id`; `asset_id`,
`timestamp`, `partition_key`, `extra`) and `airflow.assets.manager.asset_manager.register_asset_change`.
The public `POST /api/v2/assets/events` registers one event per request, without a partition key, and
in its own transaction; the emitter registers a batch of partitioned events in the same transaction
that checks which of them an earlier emission already registered (its exactly-once invariant), so it
needs the asset manager on a session of its own."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any


def assets_by_uri(session: Any, uris: Iterable[str]) -> dict[str, Any]:
    """The asset models (with their `id`) Airflow has for these URIs: those some DAG is scheduled on."""
    from airflow.models.asset import AssetModel
    from sqlalchemy import select

    return {m.uri: m for m in session.scalars(select(AssetModel).where(AssetModel.uri.in_(list(uris))))}


def events_since(
    session: Any, asset_ids: Iterable[int], since: datetime, partition_keys: Iterable[str]
) -> list[tuple[str, Any]]:
    """(partition_key, extra) of the asset events of these assets at or after `since` whose partition
    key is one of `partition_keys` (an index range on asset id and timestamp, never the whole table)."""
    from airflow.models.asset import AssetEvent
    from sqlalchemy import select

    found = session.execute(
        select(AssetEvent.partition_key, AssetEvent.extra).where(
            AssetEvent.asset_id.in_(list(asset_ids)),
            AssetEvent.timestamp >= since,
            AssetEvent.partition_key.in_(list(partition_keys)),
        )
    )
    return [(key, extra) for key, extra in found]


def register_event(session: Any, asset: Any, extra: dict[str, Any], partition_key: str) -> None:
    """Register an asset event in `session` (committed with it), as the REST API does (source_is_api)."""
    from airflow.assets.manager import asset_manager

    asset_manager.register_asset_change(
        asset=asset, extra=extra, partition_key=partition_key, source_is_api=True, session=session
    )
