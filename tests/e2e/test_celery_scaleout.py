"""Scale-out: the scheduler on CeleryExecutor, two Celery workers on Redis, the machine's Postgres 15.

20 events through the events API become exactly 20 runs of a two-step workflow, each step of each
event runs once, and both workers ran steps. In the same stack: a workflow with `settings.queue` runs
every task on the one worker listening on that queue, and the collection the steps write has a
`concurrency` limit, so the import made its Airflow pool and no more steps touching it ran at once.
Needs the machine's Redis and Postgres 15: enabled by AUTOMATION_EXTERNAL_SERVICES=1 (`.ci/run` sets it);
`make test` elsewhere skips it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, text

from automation.config import DEFAULT_COLLECTIONS_FILE
from automation.local.celery import celery_env, redis_keys, start_worker
from automation.local.embedded_db import free_port
from automation.local.stack import AirflowProcesses, airflow_env, prepare, run_command
from automation.records.registry import pool_name
from automation.runtime.operators import GATE_TASK_ID
from automation.store.migrate import MIGRATIONS_DIR
from tests.e2e.conftest import AirflowApi, wait_for, wait_for_schedule

ENABLED = os.environ.get("AUTOMATION_EXTERNAL_SERVICES") == "1"
pytestmark = [
    pytest.mark.airflow_e2e,
    pytest.mark.external_services,
    pytest.mark.skipif(
        not ENABLED,
        reason="needs Redis on 127.0.0.1:6379 and Postgres 15 on 127.0.0.1:5432: set AUTOMATION_EXTERNAL_SERVICES=1",
    ),
]

REDIS_URL = os.environ.get("AUTOMATION_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
EVENTS = 20  # 60 task instances: enough for both workers to take a share (200 took 7 min of the suite)
WORKERS = ("scaleout-w1", "scaleout-w2")
WORKFLOW = {
    "key": "lead-scaleout", "name": "Lead scale-out", "status": "ACTIVE",
    "trigger": {"type": "record_event", "entity": "leads", "events": ["created"]},
    "settings": {"max_active_runs": EVENTS, "retries": 0},
    "steps": [
        {"id": "note", "type": "create_record", "config": {"collection": "activities", "values": {
            "body": "lead {{ trigger.id }}", "entity": "leads", "entity_id": "{{ trigger.id }}"}}},
        {"id": "done", "type": "update_record", "config": {"collection": "activities",
            "id": "{{ steps.note.output.id }}", "values": {"body": "lead {{ trigger.id }} done"}}},
    ],
}  # fmt: skip
QUEUE, ROUTED_EVENTS = "scaleout_routed", 4  # only the second worker listens on QUEUE (and on the default one)
ROUTED = {
    "key": "lead-routed", "name": "Lead routed", "status": "ACTIVE",
    "trigger": {"type": "record_event", "entity": "leads", "events": ["updated"]},
    "settings": {"queue": QUEUE, "max_active_runs": ROUTED_EVENTS, "retries": 0},
    "steps": [{"id": "note", "type": "create_record", "config": {"collection": "activities", "values": {
        "body": "routed {{ trigger.id }}", "entity": "leads", "entity_id": "{{ trigger.id }}"}}}],
}  # fmt: skip
#: every step above writes `activities`: at most this many of them run at once (its pool, made by the import)
ACTIVITIES_CONCURRENCY = 3
# Airflow records the hostname of the worker that ran each task instance; on one machine every
# worker has the same FQDN, so each worker's processes report the name given in their environment.
HOSTNAME_MODULE = """
import os, socket

def hostname() -> str:
    return os.environ.get("SCALEOUT_WORKER_NAME") or socket.getfqdn()
"""


@dataclass(frozen=True)
class ServerPostgres:
    """The machine's Postgres (trust auth, user postgres): the same `url()` as EmbeddedPostgres."""

    host: str = "127.0.0.1"
    port: int = 5432

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def admin(self, statement: str) -> None:
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(statement))
        finally:
            engine.dispose()


@contextlib.contextmanager
def fresh_databases(server: ServerPostgres, *names: str) -> Iterator[dict[str, Engine]]:
    for name in names:
        server.admin(f'CREATE DATABASE "{name}"')
    engines = {name: create_engine(server.url(name)) for name in names}
    try:
        yield engines
    finally:
        for engine in engines.values():
            engine.dispose()
        for name in names:
            server.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rows(engine: Engine, statement: str) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(statement)).mappings()]


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The most of these (start, end) intervals that overlap at any moment (an end before a start)."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    most = now = 0
    for _, change in edges:
        now += change
        most = max(most, now)
    return most


def test_two_celery_workers_run_20_events_each_once_on_postgres_15(tmp_path: Path) -> None:
    server, suffix = ServerPostgres(), uuid.uuid4().hex[:10]
    airflow_db, store_db, prefix = f"scaleout_airflow_{suffix}", f"scaleout_store_{suffix}", f"scaleout-{suffix}:"
    (tmp_path / "hostnames").mkdir()
    (tmp_path / "hostnames" / "scaleout_hostname.py").write_text(HOSTNAME_MODULE)
    registry = yaml.safe_load(DEFAULT_COLLECTIONS_FILE.read_text())
    registry["collections"]["activities"]["concurrency"] = ACTIVITIES_CONCURRENCY
    (tmp_path / "collections.yaml").write_text(yaml.safe_dump(registry))
    env = airflow_env(tmp_path / "airflow", server, api_port=free_port(), airflow_db=airflow_db,  # type: ignore[arg-type]
                      automation_db=store_db, parse_interval=5)  # fmt: skip
    env.update({
        **celery_env(REDIS_URL, prefix, concurrency=3),  # 6 task processes at once saturate 2 cores
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "scaleout_hostname.hostname",
        "AIRFLOW__AUTOMATION__COLLECTIONS_FILE": str(tmp_path / "collections.yaml"),
        "AIRFLOW__API__WORKERS": "1",  # one batch request: a second api-server worker would only cost startup
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),  # beside the shared stack's triggerer
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "hostnames"), env["PYTHONPATH"]]),
    })  # fmt: skip
    dag_id, routed_id, stacks = (
        f"automation__{WORKFLOW['key']}",
        f"automation__{ROUTED['key']}",
        list[AirflowProcesses](),
    )
    activities_pool = pool_name("activities")
    with fresh_databases(server, airflow_db, store_db) as db, redis_keys(REDIS_URL, prefix):
        airflow, store = db[airflow_db], db[store_db]
        try:
            prepare(env, import_demo=False)  # airflow db migrate, automation migrate, demo CRM: all on Postgres 15
            head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
            assert rows(store, "SELECT current_setting('server_version_num')::int / 10000 AS major, "
                               "(SELECT version_num FROM automation.alembic_version) AS revision") == [
                {"major": 15, "revision": head}]  # fmt: skip
            (tmp_path / "wf.json").write_text(json.dumps([WORKFLOW, ROUTED]))
            run_command([sys.executable, "-m", "automation", "import", str(tmp_path / "wf.json")], env, timeout=120)
            # the import made the collection's pool, sized to its limit, before any Airflow process ran
            assert rows(airflow, f"SELECT pool, slots FROM slot_pool WHERE pool = '{activities_pool}'") == [
                {"pool": activities_pool, "slots": ACTIVITIES_CONCURRENCY}]  # fmt: skip

            stacks.append(AirflowProcesses(env, tmp_path / "logs").start())
            for name in WORKERS:
                queues = ("default", QUEUE) if name == WORKERS[1] else ()
                stacks.append(start_worker({**env, "SCALEOUT_WORKER_NAME": name}, tmp_path / "logs", name, queues))
            api = _wait_for_api(env["AIRFLOW__API__BASE_URL"], stacks)
            wait_for_schedule(api, dag_id, routed_id, timeout=120)  # the DAGs, with their assets registered

            events = [{"entity": "leads", "event": "created", "id": i, "new": {"id": i},
                       "idempotency_key": f"scaleout-{i}"} for i in range(EVENTS)]  # fmt: skip
            events += [{"entity": "leads", "event": "updated", "id": i, "old": {"id": i}, "new": {"id": i},
                        "idempotency_key": f"routed-{i}"} for i in range(ROUTED_EVENTS)]  # fmt: skip
            posted = api.client.post("/automation/api/v1/events/batch", json={"events": events})
            assert posted.status_code == 201, posted.text
            assert sum(r["created"] for r in posted.json()) == EVENTS + ROUTED_EVENTS

            def finished() -> int | None:
                assert not any(s.dead() for s in stacks), _dead_logs(stacks)
                (done,) = rows(airflow, f"SELECT count(*) AS n FROM dag_run WHERE dag_id IN ('{dag_id}', '{routed_id}') "
                                        "AND state IN ('success', 'failed')")  # fmt: skip
                return done["n"] if done["n"] >= EVENTS + ROUTED_EVENTS else None

            # a guard against a hang, not a speed limit: 600 task processes on 2 shared cores can take long
            wait_for(finished, 1800, f"{EVENTS + ROUTED_EVENTS} finished runs", interval=3)
            time.sleep(5)  # nothing more should start
        finally:
            with ThreadPoolExecutor(len(stacks) or 1) as pool:  # Celery's warm shutdown waits: stop all at once
                list(pool.map(AirflowProcesses.stop, stacks))

        assert rows(airflow, "SELECT dag_id, state, count(*) AS n FROM dag_run "
                             f"WHERE dag_id IN ('{dag_id}', '{routed_id}') GROUP BY dag_id, state ORDER BY dag_id") == [
            {"dag_id": routed_id, "state": "success", "n": ROUTED_EVENTS},
            {"dag_id": dag_id, "state": "success", "n": EVENTS}]  # fmt: skip
        assert rows(store, "SELECT workflow_key, outcome, count(*) AS n, count(DISTINCT event_id) AS events "
                           "FROM automation.event_runs GROUP BY workflow_key, outcome ORDER BY workflow_key") == [
            {"workflow_key": ROUTED["key"], "outcome": "ran", "n": ROUTED_EVENTS, "events": ROUTED_EVENTS},
            {"workflow_key": WORKFLOW["key"], "outcome": "ran", "n": EVENTS, "events": EVENTS}]  # fmt: skip
        # every step of every event ran once: one note per lead, updated by the next step (often on the other worker)
        assert rows(store, "SELECT count(*) AS n, count(DISTINCT entity_id) AS leads, "
                           "count(*) FILTER (WHERE body = 'lead ' || entity_id || ' done') AS done "
                           "FROM crm.activities WHERE body LIKE 'lead %'") == [
            {"n": EVENTS, "leads": EVENTS, "done": EVENTS}]  # fmt: skip
        assert rows(store, "SELECT count(DISTINCT entity_id) AS n FROM crm.activities WHERE body LIKE 'routed %'") == [
            {"n": ROUTED_EVENTS}]  # fmt: skip
        per_worker = rows(airflow, f"SELECT hostname, count(*) AS n FROM task_instance WHERE dag_id = '{dag_id}' "
                                   "GROUP BY hostname ORDER BY hostname")  # fmt: skip
        assert [r["hostname"] for r in per_worker] == list(WORKERS), per_worker
        assert sum(r["n"] for r in per_worker) == EVENTS * (1 + len(WORKFLOW["steps"]))  # the gate + the steps
        # the routed workflow's tasks (its gate too) went to its queue, and only the worker listening there took them
        assert rows(airflow, f"SELECT hostname, queue, count(*) AS n FROM task_instance WHERE dag_id = '{routed_id}' "
                             "GROUP BY hostname, queue") == [
            {"hostname": WORKERS[1], "queue": QUEUE, "n": ROUTED_EVENTS * (1 + len(ROUTED["steps"]))}]  # fmt: skip
        # each step writing `activities` ran in its pool (the gates in the default one), never more at once than its slots
        pools = rows(airflow, f"SELECT task_id = '{GATE_TASK_ID}' AS gate, pool, count(*) AS n FROM task_instance "
                              f"WHERE dag_id IN ('{dag_id}', '{routed_id}') GROUP BY 1, 2 ORDER BY 1")  # fmt: skip
        steps = EVENTS * len(WORKFLOW["steps"]) + ROUTED_EVENTS * len(ROUTED["steps"])
        assert pools == [{"gate": False, "pool": activities_pool, "n": steps},
                         {"gate": True, "pool": "default_pool", "n": EVENTS + ROUTED_EVENTS}]  # fmt: skip
        running = rows(airflow, "SELECT extract(epoch FROM start_date) AS s, extract(epoch FROM end_date) AS e "
                                f"FROM task_instance WHERE pool = '{activities_pool}'")  # fmt: skip
        assert most_at_once([(float(r["s"]), float(r["e"])) for r in running]) <= ACTIVITIES_CONCURRENCY


def _wait_for_api(base: str, stacks: list[AirflowProcesses]) -> AirflowApi:
    def healthy() -> bool:
        assert not any(s.dead() for s in stacks), _dead_logs(stacks)
        try:
            return httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(healthy, 180, "the Airflow api-server")
    return AirflowApi(base)


def _dead_logs(stacks: list[AirflowProcesses]) -> str:
    return "\n".join(f"{name} died:\n{s.log_tail(name)}" for s in stacks for name in s.dead())
