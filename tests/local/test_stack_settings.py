"""The Airflow settings `make run` and the tests give every process, as Airflow itself reads them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from automation.local.embedded_db import EmbeddedPostgres, free_port
from automation.local.stack import airflow_env

PROBE = """
import json, os
from airflow import settings
from airflow.configuration import conf
from sqlalchemy import create_engine
engine = create_engine(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], **settings.prepare_engine_args())
print(json.dumps({
    "pool": [engine.pool.size(), engine.pool._max_overflow, engine.pool.timeout()],
    "executemany_mode": str(engine.dialect.executemany_mode),
    "orphan_check": conf.getfloat("scheduler", "orphaned_tasks_check_interval"),
    "threshold": conf.getint("scheduler", "scheduler_health_check_threshold"),
    "heartbeat": conf.getint("scheduler", "scheduler_heartbeat_sec"),
    "task_heartbeat_timeout": conf.getint("scheduler", "task_instance_heartbeat_timeout"),
}))
"""


def test_airflow_reads_the_pool_and_recovery_settings(tmp_path) -> None:
    env = airflow_env(tmp_path / "airflow", EmbeddedPostgres(tmp_path / "pgdata", free_port()), api_port=free_port())
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env},
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    got = json.loads(probe.stdout.strip().splitlines()[-1])
    # an api-server worker's 40 request threads each get a connection; a longer wait is an overload
    assert got["pool"] == [10, 30, 10.0]
    assert "VALUES_PLUS_BATCH" in got["executemany_mode"]  # Airflow's psycopg2 defaults kept
    # a dead scheduler's tasks are reset within about 30 s, a live one is not declared dead by 3 late beats
    assert got["threshold"] + got["orphan_check"] <= 30 and got["threshold"] >= 3 * got["heartbeat"]
    assert got["task_heartbeat_timeout"] <= 60
