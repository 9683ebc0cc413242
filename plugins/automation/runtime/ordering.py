"""Ordering per record (`settings.ordering: per_record`): the run of a record's event starts its steps only
once the run of every earlier event of that record (for this workflow) has finished; runs of other
records are never held.

Rules:
- "earlier" is the ledger order (event ids, the order events were received) among the events of the
  record the workflow subscribes to;
- finished means Airflow's run ended, `success` or `failed`, or its gate stopped it (duplicate,
  conditions false, throttled...). A failed earlier run does not hold the later ones back (as a queue
  that moves past a poison message: the failed run is in the executions' failed view to retry); a
  retried (cleared) run is going again, so a later event's run that has not started waits for it again;
- an earlier event whose run has not started yet (not emitted, or its run queued in Airflow behind
  `max_active_runs`) is waited for until it is `settings.ordering_wait` old, then no longer: a run never
  waits forever for one that may never come (an event from before the workflow existed has no run);
- only the `LOOK_BACK` most recent earlier events are looked at.

Invariant: the wait is a deferral of the gate on the triggerer (no worker slot held while waiting): until
the runs it waits for end (the standard provider's `DagStateTrigger`), or, when only earlier events whose
run has not started are left, until the next check (the same `DateTimeTrigger` as the rate limit and the
delay). Its state is the ledger, `event_runs` and Airflow's runs, so it survives restarts of the scheduler
and the triggerer. A run waits only for earlier ones, so two runs of a record never wait for each other,
and at most one of them is past its wait at a time (unless `ordering_wait` let one go past a run that had
not started)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from automation.definitions import RecordEventTrigger, Workflow
from automation.store.record_order import RecordOrder

#: the longest pause between two checks of a waiting run (they start at 1 s and grow by half each time)
MAX_CHECK_SECONDS = 15.0

#: `unfinished(run_ids)`: those of these runs of the workflow's DAG (the most recent first) that are queued or
#: running in Airflow
UnfinishedRuns = Callable[[list[str]], list[str]]


@dataclass(frozen=True)
class Wait:
    """What a run of `record` waits for: earlier events whose run has not started, and the runs of earlier
    events still going."""

    record: str
    unstarted: list[int]
    going: list[str]

    @property
    def reason(self) -> str:
        parts = []
        if self.going:
            parts.append(f"{len(self.going)} run{'s' if len(self.going) > 1 else ''} of earlier events still going")
        if self.unstarted:
            ids = ", ".join(str(i) for i in self.unstarted[:10]) + (" ..." if len(self.unstarted) > 10 else "")
            parts.append(f"earlier event{'s' if len(self.unstarted) > 1 else ''} {ids} not started yet")
        return f"waits for the earlier events of {self.record} ({'; '.join(parts)})"


def ordered(workflow: Workflow) -> bool:
    return workflow.settings.ordering == "per_record" and isinstance(workflow.trigger, RecordEventTrigger)


def waiting_for(workflow: Workflow, trigger: dict[str, Any], unfinished: UnfinishedRuns) -> Wait | None:
    """What the run of this event waits for before its steps may start; None when it may start now (or the
    workflow keeps no order). A dry run's sample event (no ledger id) comes after every stored event."""
    spec = workflow.trigger
    entity, record_id = trigger.get("entity"), trigger.get("id")
    if not ordered(workflow) or not isinstance(spec, RecordEventTrigger) or not entity or record_id is None:
        return None
    event_id = trigger.get("event_id")
    earlier = RecordOrder().earlier_events(
        workflow.key,
        str(entity),
        str(record_id),
        spec.events,
        int(event_id) if event_id is not None else None,
        float(workflow.settings.ordering_wait),
    )
    going = unfinished([earlier.claimed[i] for i in sorted(earlier.claimed, reverse=True)]) if earlier.claimed else []
    if not going and not earlier.unstarted:
        return None
    return Wait(f"{entity}:{record_id}", earlier.unstarted, going)


def next_check(checks: int) -> float:
    """Seconds until the next check of a run that has waited `checks` times for a run not started."""
    return min(MAX_CHECK_SECONDS, 1.5 ** min(checks, 20))
