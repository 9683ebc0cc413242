"""The rate limit of a workflow's event runs (`settings.rate_limit: {max, per, scope}`): each run reserves a
start time, and one beyond the limit waits for it (the conditions task defers until then).

Invariant: in any window of `per` seconds at most `max` reserved starts of a scope fall, and none is dropped.
The scope's last `max` reservations are `max` rows of `throttle_state` (scope keys `rate:<i>:<scope>`); a new
run takes the oldest row and starts at `max(now, oldest + per)` under a transaction-scoped advisory lock, so
reservations are handed out in order and each is `per` after the one `max` before it. A retry of the same
event's gate gets its own reservation back while it is among the last `max` (the row keeps the event id),
else a new one: later, never a start beyond the limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from automation.definitions import Workflow
from automation.store import tables as t
from automation.store.db import engine

#: the start of a slot never used
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def scope_of(workflow: Workflow, trigger: dict[str, Any]) -> str | None:
    """The rate limit's scope of an event ("global" or "<entity>:<id>"); None without a rate limit."""
    limit = workflow.settings.rate_limit
    if limit is None:
        return None
    return "global" if limit.scope == "global" else f"{trigger.get('entity')}:{trigger.get('id')}"[:200]


def reserve_start(workflow: Workflow, trigger: dict[str, Any], event_id: int) -> datetime | None:
    """When the run of event `event_id` may start its steps under the workflow's rate limit (now or later);
    None without a rate limit."""
    limit, scope = workflow.settings.rate_limit, scope_of(workflow, trigger)
    if limit is None or scope is None:
        return None
    keys = [f"rate:{i}:{scope}" for i in range(limit.max)]
    slots = t.throttle_state
    with engine().begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"{workflow.key}|rate|{scope}"})
        mine = select(slots.c.last_at).where(
            slots.c.workflow_key == workflow.key, slots.c.scope_key.in_(keys), slots.c.last_event_id == event_id
        )
        kept = conn.execute(mine).scalar()
        if kept is not None:  # a retry of this event's gate
            return kept
        conn.execute(
            pg_insert(slots)
            .values(
                [{"workflow_key": workflow.key, "scope_key": k, "last_event_id": 0, "last_at": _NEVER} for k in keys]
            )
            .on_conflict_do_nothing(index_elements=["workflow_key", "scope_key"])
        )
        oldest_key, oldest_at = conn.execute(
            select(slots.c.scope_key, slots.c.last_at)
            .where(slots.c.workflow_key == workflow.key, slots.c.scope_key.in_(keys))
            .order_by(slots.c.last_at, slots.c.scope_key)
            .limit(1)
        ).one()
        now = conn.execute(select(func.now())).scalar_one()
        start: datetime = max(now, oldest_at + timedelta(seconds=limit.per))
        conn.execute(
            slots.update()
            .where(slots.c.workflow_key == workflow.key, slots.c.scope_key == oldest_key)
            .values(last_at=start, last_event_id=event_id)
        )
    return start
