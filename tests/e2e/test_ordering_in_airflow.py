"""End to end in a running Airflow: `settings.ordering: per_record` over 3 records x 4 interleaved events.
Each run's step calls a loopback server that holds it 2 s and notes when it started and ended: the
calls of one record come in event order and never overlap, the records' calls do overlap (no record
holds another), and the triggerer, restarted while runs wait, loses no wait."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import AirflowApi, wait_for, wait_for_schedule
from tests.e2e.test_controls_in_airflow import import_workflow
from tests.servers import http_server

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.usefixtures("db")]

RECORDS, EVENTS_EACH, HOLD = ("r1", "r2", "r3"), 4, 2.0


def ordered_workflow(base: str) -> dict[str, Any]:
    return {
        "key": "ordered-leads", "name": "Ordered leads", "status": "ACTIVE",
        "trigger": {"type": "record_event", "entity": "leads", "events": ["updated"]},
        "settings": {"ordering": "per_record", "retries": 2, "retry_delay": 1, "max_active_runs": 16},
        "steps": [{"id": "call", "type": "http_request", "config": {
            "url": f"{base}/step", "attempts": 1, "timeout": 60,
            "json": {"record": "{{ trigger.id }}", "seq": "{{ trigger.new.seq }}"}}}],
    }  # fmt: skip


def restart_triggerer(airflow: AirflowApi) -> None:
    """Stop the triggerer as a deploy does (SIGTERM: it ends its job, so its triggers are free to take
    at once) and start a new one."""
    procs = airflow.procs
    proc = procs.processes.pop("triggerer")
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(90)  # it lets its triggers' loop finish first (30 s when that loop is busy)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # its triggers go to the next triggerer after its heartbeat expires
        proc.wait(10)
    procs.start(("triggerer",))


def test_runs_of_a_record_start_in_event_order_one_at_a_time_and_records_run_side_by_side(
    airflow: AirflowApi, tmp_path: Path
) -> None:
    from sqlalchemy import text

    from automation.store.db import engine

    lock = threading.Lock()
    calls: list[dict[str, Any]] = []  # record, seq, start, end (monotonic)

    def respond(request: Any, n: int) -> tuple[int, dict[str, str], bytes]:
        body = json.loads(request.body)
        call = {"record": body["record"], "seq": int(body["seq"]), "start": time.monotonic()}
        with lock:
            calls.append(call)
        time.sleep(HOLD)
        call["end"] = time.monotonic()
        return 200, {}, b'{"ok": true}'

    with http_server(respond) as (_, base):
        import_workflow(tmp_path, ordered_workflow(base))
        wait_for_schedule(airflow, "automation__ordered-leads", timeout=90)
        events = [{"entity": "leads", "event": "updated", "id": record, "new": {"seq": seq},
                   "old": {"seq": seq - 1}, "idempotency_key": f"ordered-{record}-{seq}"}
                  for seq in range(EVENTS_EACH) for record in RECORDS]  # fmt: skip
        response = airflow.client.post("/automation/api/v1/events/batch", json={"events": events})
        assert response.status_code == 201, response.text
        posted = time.monotonic()
        with engine().connect() as conn:  # the ledger order is the events' order: r1/0, r2/0, r3/0, r1/1 ...
            stored = conn.execute(text("SELECT entity_id, new_data->>'seq' FROM automation.events ORDER BY id")).all()
        assert [(r, int(s)) for r, s in stored] == [(e["id"], e["new"]["seq"]) for e in events]

        # the triggerer goes down while the second runs of the records wait for the first ones
        wait_for(lambda: len(calls) >= 1, 120, "the first step call", 0.2)
        restart_triggerer(airflow)
        wait_for(lambda: len(calls) == len(events) and all("end" in c for c in calls), 300, "12 step calls", 0.5)
        time.sleep(3)  # none more (each event once)
        assert sorted((c["record"], c["seq"]) for c in calls) == sorted((e["id"], e["new"]["seq"]) for e in events)

    for record in RECORDS:
        mine = sorted((c for c in calls if c["record"] == record), key=lambda c: c["start"])
        assert [c["seq"] for c in mine] == list(range(EVENTS_EACH)), f"{record}: {mine}"
        for earlier, later in itertools.pairwise(mine):
            assert later["start"] >= earlier["end"], f"{record}: two runs of the record overlapped: {mine}"
    # the records are not held by one another: calls of different records overlapped in time
    overlapping = sum(
        1 for a in calls for b in calls
        if a["record"] < b["record"] and a["start"] < b["end"] and b["start"] < a["end"]
    )  # fmt: skip
    assert overlapping >= 2, calls
    print(
        f"3 records x 4 ordered runs: the last step ended {max(c['end'] for c in calls) - posted:.0f} s after "
        f"the events ({overlapping} overlapping pairs of calls of different records)"
    )
