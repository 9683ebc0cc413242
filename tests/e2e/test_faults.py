"""Faults with real processes (issue 12): an emitter killed between its two commits, a scheduler
killed mid-burst, a Postgres restart mid-burst. Each keeps one DAG run per event and nothing stuck.

The session's stack is shared: every test leaves every process running (the Postgres restart, the
most disruptive, runs after every other test and checks the stack is whole again before it ends).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select, text

from automation.local.embedded_db import EmbeddedPostgres
from automation.local.stack import AIRFLOW_PROCESSES, AUTOMATION_PROCESSES
from automation.store.db import engine
from tests.e2e.conftest import AirflowApi, wait_for
from tests.e2e.test_events_in_airflow import import_workflows, sql

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.usefixtures("db")]


def workflow(key: str) -> dict:
    return {
        "key": key, "name": key, "status": "ACTIVE",
        "trigger": {"type": "record_event", "entity": "faults", "events": ["created"]},
        # retries: on a loaded machine a task's start call can time out (the task never ran)
        "settings": {"max_active_runs": 500, "retries": 3, "retry_delay": 2},
        "steps": [{"id": "log", "type": "create_record", "config": {"collection": "activities", "values": {
            "body": f"{key} {{{{ trigger.id }}}}", "entity": "faults", "entity_id": "{{ trigger.id }}"}}}],
    }  # fmt: skip


def outbox_insert(count: int, prefix: str) -> list[int]:
    with engine().begin() as conn:
        return list(
            conn.execute(
                text(
                    "INSERT INTO automation.events (idempotency_key, entity, entity_id, event, new_data) "
                    "SELECT :p || i, 'faults', i::text, 'created', jsonb_build_object('id', i) "
                    "FROM generate_series(1, :n) i RETURNING id"
                ),
                {"p": prefix, "n": count},
            ).scalars()
        )


def runs_by_event(dag_id: str) -> dict[str, list[str]]:
    """Airflow's DAG runs of `dag_id`: partition key (the event id) -> states."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(select(DagRun.partition_key, DagRun.state).where(DagRun.dag_id == dag_id)).all()
    out: dict[str, list[str]] = {}
    for key, state in rows:
        out.setdefault(key, []).append(str(state))
    return out


def all_succeeded(dag_id: str, ids: list[int]) -> bool:
    runs = runs_by_event(dag_id)
    return all(runs.get(str(i)) and all(s == "success" for s in runs[str(i)]) for i in ids)


def assert_one_successful_run_each(dag_id: str, ids: list[int]) -> None:
    wait_for(lambda: all_succeeded(dag_id, ids), 300, f"a successful run of {dag_id} per event", interval=3)
    time.sleep(5)  # a duplicate would show by now: the emitter and the scheduler have caught up
    runs = runs_by_event(dag_id)
    assert {key: states for key, states in runs.items() if len(states) != 1} == {}
    assert sorted(int(key) for key in runs) == sorted(ids)


def unemitted() -> list[int]:
    return [r["id"] for r in sql("SELECT id FROM automation.events WHERE emitted_at IS NULL ORDER BY id")]


def test_an_emitter_killed_between_its_two_commits_gives_one_run_per_event(airflow: AirflowApi, tmp_path) -> None:

    import_workflows(tmp_path, airflow, workflow("fault-emitter"))
    airflow.procs.kill("emitter")
    try:
        _emitter_killed_between_its_commits(airflow)
    finally:  # the tests after this one need the stack's emitter, whatever happened here
        if "emitter" not in airflow.procs.processes:  # killed (and not started again) above
            airflow.procs.start(("emitter",))


def _emitter_killed_between_its_commits(airflow: AirflowApi) -> None:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    ids = outbox_insert(10, "emitter-")

    def in_airflow() -> int:
        with create_session() as session:
            found = session.scalars(select(AssetEvent.extra).where(AssetEvent.partition_key.in_([str(i) for i in ids])))
            return sum(1 for extra in found if extra.get("entity") == "faults" and extra.get("event_id") in ids)

    # another session holds a SHARE lock on the ledger: the emitter claims and emits (Airflow's commit),
    # then its UPDATE marking the rows waits; killed there, its ledger transaction never commits
    with engine().connect() as blocker:
        blocker.execute(text("LOCK TABLE automation.events IN SHARE MODE"))
        airflow.procs.start(("emitter",))
        wait_for(lambda: in_airflow() == 10, 120, "the asset events in Airflow")
        time.sleep(1)
        airflow.procs.kill("emitter")
        blocker.rollback()
    wait_for(lambda: unemitted() == ids, 30, "the lost marks")  # the dead backend's transaction rolled back

    airflow.procs.start(("emitter",))
    wait_for(lambda: not unemitted(), 120, "the restarted emitter's sweep")
    assert in_airflow() == 10  # marked, not emitted again
    assert_one_successful_run_each("automation__fault-emitter", ids)


def test_a_scheduler_killed_mid_burst_leaves_no_task_stuck_for_a_minute(airflow: AirflowApi, tmp_path) -> None:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    dag_id = "automation__fault-scheduler"
    import_workflows(tmp_path, airflow, workflow("fault-scheduler"))

    def in_flight() -> set[str]:
        with create_session() as session:
            return set(
                session.scalars(
                    select(TaskInstance.id).where(
                        TaskInstance.dag_id == dag_id, TaskInstance.state.in_(["running", "queued"])
                    )
                )
            )

    ids = outbox_insert(20, "scheduler-")
    wait_for(in_flight, 180, "tasks of the burst in flight", interval=0.2)
    airflow.procs.kill("scheduler")  # its LocalExecutor's task processes go with it
    killed = time.monotonic()
    stuck = in_flight()  # frozen: nobody schedules, runs or resets them now
    assert stuck
    time.sleep(5)  # as compose's `restart: always` would
    airflow.procs.start(("scheduler",))
    wait_for(lambda: not (stuck & in_flight()), 120, "the orphaned task instances reset", interval=2)
    recovered = time.monotonic() - killed
    print(f"{len(stuck)} orphaned task instances reset {recovered:.0f}s after the scheduler was killed")
    assert recovered < 60, f"task instances stayed in flight {recovered:.0f}s after the scheduler died"
    assert_one_successful_run_each(dag_id, ids)


@pytest.fixture
def whole_again(airflow: AirflowApi, pg: EmbeddedPostgres) -> Iterator[list[str]]:
    """Whatever happens in the test: Postgres up, every process running, the api-server healthy."""
    messages: list[str] = []
    try:
        with airflow.procs.supervised(report=messages.append):
            yield messages
    finally:
        if not pg.alive():
            pg.start()

        def whole() -> bool:
            for message in airflow.procs.supervise():
                messages.append(message)
            try:
                healthy = httpx.get(f"{airflow.base}/api/v2/monitor/health", timeout=5).status_code == 200
            except httpx.HTTPError:
                healthy = False
            return healthy and not airflow.procs.dead()

        wait_for(whole, 180, "every process running again")


@pytest.mark.runs_last
def test_a_postgres_restart_mid_burst_keeps_the_stack_up_and_one_run_per_event(
    airflow: AirflowApi, tmp_path, pg: EmbeddedPostgres, whole_again: list[str]
) -> None:
    dag_id = "automation__fault-postgres"
    import_workflows(tmp_path, airflow, workflow("fault-postgres"))
    accepted: dict[int, int] = {}  # event number -> ledger id
    answers: Counter[str] = Counter()

    def post(i: int) -> None:
        """A client that retries (same idempotency key) until the event is accepted."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                response = airflow.client.post(
                    "/automation/api/v1/events",
                    json={"entity": "faults", "event": "created", "id": i, "idempotency_key": f"pg-{i}"},
                    timeout=30,
                )
                answers[str(response.status_code)] += 1
                if response.status_code in (200, 201):
                    accepted[i] = response.json()["id"]
                    return
            except httpx.HTTPError as exc:
                answers[type(exc).__name__] += 1
            time.sleep(1)

    def burst(numbers: range) -> None:
        for i in numbers:
            post(i)
            time.sleep(0.3)

    burst(range(5))
    during = threading.Thread(target=burst, args=(range(5, 20),))
    during.start()
    time.sleep(1)
    pg.stop()
    time.sleep(5)
    pg.start()
    during.join(300)
    print(f"answers during the restart: {dict(answers)}; supervisor: {whole_again}")
    assert sorted(accepted) == list(range(20)), answers
    assert_one_successful_run_each(dag_id, list(accepted.values()))
    # every process of the stack is running: its own reconnect, or started again by the supervisor
    wait_for(lambda: not airflow.procs.dead(), 120, "every process running")
    assert set(airflow.procs.processes) == set(AIRFLOW_PROCESSES + AUTOMATION_PROCESSES)
    assert not [m for m in whole_again if m.startswith("emitter ")], "the emitter must reconnect, not exit"
