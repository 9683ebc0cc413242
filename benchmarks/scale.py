"""Scale: workflow executions per minute of a 3-step workflow with LocalExecutor and CeleryExecutor
(1 and 2 workers), side by side with a plain Airflow DAG of the same shape (3 PythonOperator tasks
doing the same insert), in one run; and where the time goes, from Airflow's task_instance timestamps.

Each sample: a burst of --runs runs triggered through Airflow's REST API, timed from the first run
queued to the last run finished. The two DAGs' bursts alternate (workflow, plain, then plain, workflow,
...) for --rounds rounds on each executor, so both see the same machine load; each ratio compares the
medians. Real processes (api-server, scheduler, dag-processor; Celery workers on Redis), an embedded
Postgres. Celery is measured when --executors names it and the Redis at --redis answers.

Usage: python benchmarks/scale.py [--runs 40] [--rounds 3] [--executors local,celery] [--concurrency 8]
                                  [--redis redis://127.0.0.1:6379/12]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import statistics
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _env import ROOT, bench_env
from events import Api, wait
from sqlalchemy import Engine, create_engine, text

from automation.local.celery import celery_env, redis_keys, start_worker
from automation.local.stack import AirflowProcesses, run_command

OURS, PLAIN = "automation__bench-scale", "plain_three_steps"
WORKFLOW = {
    "key": "bench-scale", "name": "bench scale", "status": "ACTIVE", "trigger": {"type": "manual"},
    "settings": {"max_active_runs": 1000, "retries": 0},
    "steps": [{"id": f"s{i}", "type": "create_record", "config": {"collection": "activities", "values": {
        "body": f"step {i}", "entity": "deals", "entity_id": i}}} for i in range(3)],
}  # fmt: skip
PLAIN_DAG = f"""
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG
from sqlalchemy import text

from automation.records.store import records_engine


def insert(i):
    with records_engine().begin() as conn:
        row = conn.execute(
            text("INSERT INTO crm.activities (body, entity, entity_id) VALUES (:b, 'deals', :i) RETURNING *"),
            {{"b": f"step {{i}}", "i": i}},
        ).mappings().one()
    return {{k: str(v) for k, v in row.items()}}


with DAG("{PLAIN}", schedule=None, max_active_runs=1000, is_paused_upon_creation=False):
    previous = None
    for i in range(3):
        task = PythonOperator(task_id=f"s{{i}}", python_callable=insert, op_kwargs={{"i": i}})
        if previous is not None:
            previous >> task
        previous = task
"""
# task_instance and dag_run timestamps of the runs of one burst
TIMINGS = text("""
SELECT r.run_id, extract(epoch FROM r.queued_at) AS run_queued, extract(epoch FROM r.end_date) AS run_end,
       r.state, ti.task_id, extract(epoch FROM ti.scheduled_dttm) AS scheduled,
       extract(epoch FROM ti.queued_dttm) AS queued, extract(epoch FROM ti.start_date) AS started,
       extract(epoch FROM ti.end_date) AS ended
FROM dag_run r JOIN task_instance ti ON ti.dag_id = r.dag_id AND ti.run_id = r.run_id
WHERE r.dag_id = :dag AND r.run_id = ANY(:runs)
""")


@dataclass
class Result:
    variant: str
    dag: str
    runs: int
    failed: int
    per_minute: float
    run_p50: float
    first_task: float
    slot_wait: float
    start: float
    work: float
    between: float
    parse: float
    bursts: list[float] = field(default_factory=list)


@dataclass
class Target:
    """Where a burst runs: Airflow's REST API, its metadata database, its task logs."""

    api: Api
    metadata: Engine
    logs: Path


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def parse_seconds(logs: Path, dag_id: str, run_ids: list[str]) -> list[float]:
    """The DAG file parse each task process does before running its task (from the task logs)."""
    values = []
    for run_id in run_ids:
        for path in (logs / f"dag_id={dag_id}" / f"run_id={run_id}").glob("task_id=*/attempt=*.log"):
            for line in path.read_text(errors="replace").splitlines():
                if '"Worker startup parse complete"' in line:
                    values.append(json.loads(line)["dag_file_parse_ms"] / 1000)
    return values


def show_failure(logs: Path, dag_id: str, rows: list[dict]) -> None:
    """The end of the log of a failed run's first failed task (a burst's figures would hide it)."""
    failed = [r for r in rows if r["started"] and r["ended"]] or rows
    run_dir = logs / f"dag_id={dag_id}" / f"run_id={rows[0]['run_id']}"
    for path in sorted(run_dir.glob("task_id=*/attempt=*.log"))[:3]:
        print(
            f"  a run of {dag_id} failed; {path}:", *path.read_text(errors="replace").splitlines()[-15:], sep="\n    "
        )
    if not run_dir.exists():
        print(f"  a run of {dag_id} failed ({failed[0]['task_id']}); no log under {run_dir}", flush=True)


def burst(target: Target, dag_id: str, runs: int, variant: str) -> Result:
    api, metadata = target.api, target.metadata
    ids = [
        api.http.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None})
        .raise_for_status()
        .json()["dag_run_id"]
        for _ in range(runs)
    ]

    def finished() -> bool:
        with metadata.connect() as conn:
            done = conn.execute(
                text("SELECT count(*) FROM dag_run WHERE dag_id = :d AND run_id = ANY(:r) AND end_date IS NOT NULL"),
                {"d": dag_id, "r": ids},
            ).scalar_one()
        return done == runs

    wait(finished, 1800, f"{runs} runs of {dag_id}")
    with metadata.connect() as conn:
        rows = [dict(r) for r in conn.execute(TIMINGS, {"dag": dag_id, "runs": ids}).mappings()]
    by_run: dict[str, list[dict]] = {}
    for row in rows:
        by_run.setdefault(row["run_id"], []).append(row)
    failed_runs = [ts for ts in by_run.values() if ts[0]["state"] != "success"]
    if failed_runs:
        show_failure(target.logs, dag_id, failed_runs[0])
    tis = sorted(rows, key=lambda r: (r["run_id"], r["task_id"]))
    firsts = [
        min(float(t["started"]) for t in ts if t["started"]) - float(ts[0]["run_queued"])
        for ts in by_run.values()
        if any(t["started"] for t in ts)
    ]
    # the gap from a step's end to the next step's start: the scheduler noticing, queueing, a worker starting it
    between = [
        float(b["started"]) - float(a["ended"])
        for a, b in itertools.pairwise(tis)
        if a["run_id"] == b["run_id"] and a["ended"] and b["started"]
    ]
    started = min(float(ts[0]["run_queued"]) for ts in by_run.values())
    ended = max(float(ts[0]["run_end"]) for ts in by_run.values())
    return Result(
        variant=variant,
        dag="workflow (step operator)" if dag_id == OURS else "plain DAG (PythonOperator)",
        runs=runs,
        failed=sum(ts[0]["state"] != "success" for ts in by_run.values()),
        per_minute=runs * 60 / (ended - started),
        run_p50=median([float(ts[0]["run_end"]) - float(ts[0]["run_queued"]) for ts in by_run.values()]),
        first_task=median(firsts),
        slot_wait=median([float(t["queued"]) - float(t["scheduled"]) for t in rows if t["queued"] and t["scheduled"]]),
        start=median([float(t["started"]) - float(t["queued"]) for t in rows if t["started"] and t["queued"]]),
        work=median([float(t["ended"]) - float(t["started"]) for t in rows if t["ended"] and t["started"]]),
        between=median(between),
        parse=median(parse_seconds(target.logs, dag_id, ids)),
    )


@contextlib.contextmanager
def stack(env: dict[str, str], logs: Path) -> Iterator[tuple[Api, list[AirflowProcesses]]]:
    procs = [AirflowProcesses(env, logs).start(("api-server", "scheduler", "dag-processor"))]
    try:
        base = env["AIRFLOW__API__BASE_URL"]
        wait(lambda: _healthy(base, procs), 180, "the api-server")
        api = Api(base)
        wait(lambda: all(api.http.get(f"/api/v2/dags/{d}").status_code == 200 for d in (OURS, PLAIN)), 180, "DAGs")
        yield api, procs
    finally:
        for p in procs:
            p.stop()


def _healthy(base: str, procs: list[AirflowProcesses]) -> bool:
    if dead := [name for p in procs for name in p.dead()]:
        raise SystemExit(f"died: {dead}")
    try:
        return httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def measure(target: Target, runs: int, variant: str, rounds: int, warmup: int = 3) -> list[Result]:
    """`rounds` bursts of each DAG, alternating which goes first; one Result per DAG (medians)."""
    for dag_id in (OURS, PLAIN):  # the first runs of a fresh worker import Airflow and the plugin
        burst(target, dag_id, warmup, variant)
    samples: dict[str, list[Result]] = {OURS: [], PLAIN: []}
    for index in range(rounds):
        for dag_id in (OURS, PLAIN) if index % 2 == 0 else (PLAIN, OURS):
            r = burst(target, dag_id, runs, variant)
            samples[dag_id].append(r)
            print(f"  {variant} / {r.dag}: {r.per_minute:.1f} runs/min (load {os.getloadavg()[0]:.1f})", flush=True)
    return [combine(samples[OURS]), combine(samples[PLAIN])]


def combine(results: list[Result]) -> Result:
    """The median of each figure over the bursts (runs and failures summed); per-burst rates kept."""
    first = results[0]
    numbers = {
        name: median([getattr(r, name) for r in results])
        for name in ("per_minute", "run_p50", "first_task", "slot_wait", "start", "work", "between", "parse")
    }
    combined = Result(variant=first.variant, dag=first.dag, runs=sum(r.runs for r in results),
                      failed=sum(r.failed for r in results), **numbers)  # fmt: skip
    combined.bursts = [r.per_minute for r in results]
    return combined


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40, help="runs per burst")
    parser.add_argument("--rounds", type=int, default=3, help="bursts of each DAG per executor, alternating")
    parser.add_argument("--executors", default="local,celery", help="local and/or celery")
    parser.add_argument("--concurrency", type=int, default=8, help="slots per Celery worker")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    args = parser.parse_args()
    executors = args.executors.split(",")
    if "celery" in executors and not redis_answers(args.redis):
        print(f"Redis at {args.redis} does not answer: Celery not measured", flush=True)
        executors.remove("celery")
    load_before = os.getloadavg()
    results: list[Result] = []
    with bench_env(airflow=True) as env:
        tmp = Path(env["BENCH_TMP"])
        dags = tmp / "dags"  # not the temporary directory itself: Airflow's logs there have a `latest` symlink
        dags.mkdir()
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
        (dags / "workflows.py").write_text((ROOT / "dags" / "automation_workflows.py").read_text())
        (dags / "plain.py").write_text(PLAIN_DAG)
        (tmp / "wf.json").write_text(json.dumps([WORKFLOW]))
        run_command([sys.executable, "-m", "automation", "import", str(tmp / "wf.json")], env)
        metadata = create_engine(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        logs = Path(env["AIRFLOW_HOME"]) / "logs"
        slots = env["AIRFLOW__CORE__PARALLELISM"]
        if "local" in executors:
            with stack(env, tmp / "logs-local") as (api, _):
                target = Target(api, metadata, logs)
                results += measure(target, args.runs, f"LocalExecutor ({slots} slots)", args.rounds)
        if "celery" in executors:
            prefix = f"bench-scale-{uuid.uuid4().hex[:8]}:"
            celery = {**env, **celery_env(args.redis, prefix, args.concurrency)}
            with redis_keys(args.redis, prefix), stack(celery, tmp / "logs-celery") as (api, procs):
                procs.append(start_worker(celery, tmp / "logs-celery", "bench-w1"))
                target = Target(api, metadata, logs)
                results += measure(target, args.runs, f"Celery, 1 worker ({args.concurrency} slots)", args.rounds)
                procs.append(start_worker(celery, tmp / "logs-celery", "bench-w2"))
                variant = f"Celery, 2 workers ({2 * args.concurrency} slots)"
                results += measure(target, args.runs, variant, args.rounds)
        metadata.dispose()
    shutil.rmtree(tmp, ignore_errors=True)
    report(results, args.runs, args.rounds, load_before, os.getloadavg())


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def report(results: list[Result], runs: int, rounds: int, before: tuple[float, ...], after: tuple[float, ...]) -> None:
    print(f"\nMedians of {rounds} alternating bursts of {runs} runs per DAG and executor")
    print("\n| 3-step runs | DAG | runs/min | failed | run p50 (s) | queued -> 1st task (s) | "
          "task scheduled -> queued (s) | task queued -> start (s) | task start -> end (s) | "
          "of which DAG parse (s) | step end -> next start (s) |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r.variant} | {r.dag} | {r.per_minute:.1f} | {r.failed} | {r.run_p50:.1f} | {r.first_task:.1f} | "
              f"{r.slot_wait:.2f} | {r.start:.2f} | {r.work:.2f} | {r.parse:.2f} | {r.between:.2f} |")  # fmt: skip
    print("\n| executor | workflow runs/min (bursts) | plain DAG runs/min (bursts) | ratio of medians |\n"
          "|---|---:|---:|---:|")  # fmt: skip
    for ours, plain in zip(results[::2], results[1::2], strict=True):
        print(f"| {ours.variant} | {ours.per_minute:.1f} ({', '.join(f'{b:.0f}' for b in ours.bursts)}) | "
              f"{plain.per_minute:.1f} ({', '.join(f'{b:.0f}' for b in plain.bursts)}) | "
              f"{ours.per_minute / plain.per_minute:.2f}x |")  # fmt: skip
    print(
        f"\nload average (1/5/15 min): before {before[0]:.1f}/{before[1]:.1f}/{before[2]:.1f}, "
        f"after {after[0]:.1f}/{after[1]:.1f}/{after[2]:.1f}; {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
