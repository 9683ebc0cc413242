"""The assets events are emitted on.

Invariant: an event's asset is one shared object per (entity, event) within a process, as a
hand-written DAG file defines it once for its DAGs, and equal at every parse.
"""

from __future__ import annotations

from functools import lru_cache

from airflow.sdk import Asset


@lru_cache(maxsize=8192)  # building an Asset normalizes its URI; thousands of DAGs share a few events
def event_asset(entity: str, event: str) -> Asset:
    """The asset an event type is emitted on; its partition key is the event's ledger id."""
    uri = f"automation://{entity}/{event}"
    return Asset(name=uri, uri=uri, group="automation")
