"""The Airflow schedule of each trigger type.

Invariant: the same trigger gives an equal schedule at every parse; an event's asset is one shared
object per (entity, event) within a process, as a hand-written DAG file defines it once for its DAGs.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from airflow.sdk import Asset, AssetAny, CronTriggerTimetable, PartitionedAssetTimetable

from automation.definitions import (
    InactivityTrigger,
    ManualTrigger,
    RecordEventTrigger,
    ScheduleTrigger,
    Trigger,
    WebhookTrigger,
)
from automation.definitions.triggers import inactivity_event


@lru_cache(maxsize=8192)  # building an Asset normalizes its URI; thousands of DAGs share a few events
def event_asset(entity: str, event: str) -> Asset:
    """The asset an event type is emitted on; its partition key is the event's ledger id."""
    uri = f"automation://{entity}/{event}"
    return Asset(name=uri, uri=uri, group="automation")


def schedule_for(trigger: Trigger, key: str) -> Any:
    if isinstance(trigger, ScheduleTrigger):
        return CronTriggerTimetable(trigger.cron, timezone=trigger.timezone)
    if isinstance(trigger, InactivityTrigger):  # runs per record; the scan DAG has the cron
        return PartitionedAssetTimetable(assets=event_asset(trigger.entity, inactivity_event(key)))
    if isinstance(trigger, RecordEventTrigger):
        assets = [event_asset(trigger.entity, event) for event in sorted(set(trigger.events))]
        return PartitionedAssetTimetable(assets=assets[0] if len(assets) == 1 else AssetAny(*assets))
    if isinstance(trigger, WebhookTrigger):
        return PartitionedAssetTimetable(assets=event_asset("webhook", key))
    if isinstance(trigger, ManualTrigger):
        return None
    return None


def timezone_for(trigger: Trigger) -> str:
    return getattr(trigger, "timezone", "UTC")
