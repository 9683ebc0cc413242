"""Celery on one machine, for the scale-out test and the scale benchmark: broker settings whose keys
all start with a prefix of their own (deleted afterwards), and workers with distinct hostnames."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from automation.local.embedded_db import free_port
from automation.local.stack import AirflowProcesses


def celery_env(broker_url: str, prefix: str, concurrency: int) -> dict[str, str]:
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(concurrency),
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": prefix,
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "3600",
        # a task process's calls to the execution API wait longer than 5 s when the machine is busy
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
    }


@contextlib.contextmanager
def redis_keys(url: str, prefix: str) -> Iterator[None]:
    """The broker's keys all start with `prefix` (kombu's global_keyprefix): deleted at the end."""
    import redis

    client = redis.Redis.from_url(url)
    client.ping()
    try:
        yield
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


def start_worker(env: dict[str, str], logs: Path, name: str, queues: tuple[str, ...] = ()) -> AirflowProcesses:
    """`airflow celery worker` named `name`, with a log server port of its own, listening on `queues` (by
    default Airflow's `[operators] default_queue` alone)."""
    worker_env = {**env, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
    listens = f" --queues {','.join(queues)}" if queues else ""
    return AirflowProcesses(worker_env, logs / name).start((f"celery worker --celery-hostname {name}{listens}",))
