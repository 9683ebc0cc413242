"""Many workflows: idle cost, edit -> visible, and the time for every DAG to appear, with sharded DAG files and
reparse requests (issue 18) side by side with the single workflow DAG file re-parsed every 10 s.

For each size, N ACTIVE workflows (manual, schedule and record triggers in turn; one validation per shape) are
stored once, then each variant runs a fresh Airflow stack (api-server, scheduler, dag-processor, triggerer, on
its own Airflow database, the same definitions):

- single: one workflow DAG file, `[dag_processor] min_file_process_interval` 10 s, no reparse requests
  (the factory before issue 18);
- sharded: `--shards` workflow DAG files (`automation init --shards`), the parse interval 600 s (a safety
  net), a reparse request after each save (`[automation] reparse_on_change`).

Figures: seconds from the dag-processor's start until Airflow has every DAG; CPU of the whole stack while
idle (every process and the parsing processes they fork; % of one core over `--idle` s); edit -> visible
(an API edit of a workflow's name until Airflow's REST API shows the DAG's new description; p50 and max of
`--edits`); resident memory of the dag-processor and the scheduler (with their children) after the idle
period. Not measured here: the event -> first step latency (benchmarks/events.py measures it).

Usage: python benchmarks/scale_workflows.py [--sizes 1000] [--shards 4] [--edits 10] [--idle 60]
                                            [--variants single,sharded]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from _env import bench_env
from events import Api, wait
from parse import schedule_workflow
from sqlalchemy import create_engine, text

from automation.demo.shapes import five_step_workflow
from automation.local.stack import AirflowProcesses, bin_path, run_command

SHAPES = ("manual", "schedule", "record")
MEASURED_MEMORY = ("dag-processor", "scheduler")


def manual_workflow(key: str) -> dict[str, Any]:
    return {
        "key": key, "name": key, "status": "ACTIVE", "trigger": {"type": "manual"},
        "steps": [{"id": f"s{i}", "type": "create_record", "config": {"collection": "activities", "values": {
            "body": f"step {i}", "entity": "deals", "entity_id": i}}} for i in range(3)],
    }  # fmt: skip


def definition(index: int, key: str) -> dict[str, Any]:
    shape = SHAPES[index % len(SHAPES)]
    if shape == "manual":
        return manual_workflow(key)
    return schedule_workflow(key, index) if shape == "schedule" else {**five_step_workflow(key), "status": "ACTIVE"}


def store(n: int) -> list[str]:
    """N ACTIVE workflows; each shape validated once, then saved under every key of its shape."""
    from automation.store.repository import Repository
    from automation.validation import validate_definition

    repo = Repository()
    keys = [f"scale-{i:05d}" for i in range(n)]
    models = {shape: validate_definition(definition(i, f"shape-{shape}")) for i, shape in enumerate(SHAPES)}
    for index, key in enumerate(keys):
        shape = SHAPES[index % len(SHAPES)]
        model = models[shape] if shape != "schedule" else validate_definition(definition(index, key))
        repo.create(model.model_copy(update={"key": key, "name": key}), created_by="bench")
    return keys


def fresh_airflow_db(env: dict[str, str], name: str) -> str:
    """A new, migrated Airflow database on the benchmark's Postgres; its SQLAlchemy URL."""
    url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    new = url.rsplit("/", 1)[0] + f"/{name}"
    run_command([bin_path("airflow"), "db", "migrate"], {**env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": new})
    return new


def tree_cpu(procs: list[psutil.Process]) -> float:
    """CPU seconds of the processes, their reaped children and their live descendants."""
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
            for child in proc.children(recursive=True):
                with_times = child.cpu_times()
                total += with_times.user + with_times.system
        except psutil.Error:
            continue
    return total


def tree_rss_mb(proc: psutil.Process) -> float:
    try:
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20
    except psutil.Error:
        return float("nan")


def run_variant(env: dict[str, str], variant: str, keys: list[str], args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(env["BENCH_TMP"])
    dags = tmp / f"dags-{variant}"
    dags.mkdir()
    sharded = variant == "sharded"
    interval = 600 if sharded else 10
    venv = {
        **env,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": fresh_airflow_db(env, f"airflow_{variant}"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": str(interval),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": str(interval),
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": str(interval),
        "AIRFLOW__AUTOMATION__DAG_SHARDS": str(args.shards if sharded else 1),
        "AIRFLOW__AUTOMATION__REPARSE_ON_CHANGE": "true" if sharded else "false",
        "AIRFLOW__API__WORKERS": "1",
    }
    venv["AIRFLOW_CONN_AIRFLOW_METADATA_DB"] = venv["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("+psycopg2", "")
    subprocess.run([sys.executable, "-m", "automation", "init", "--dags-folder", str(dags)], env=venv, check=True,
                   capture_output=True)  # fmt: skip
    metadata = create_engine(venv["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    stack = AirflowProcesses(venv, tmp / f"logs-{variant}")
    try:
        started = time.monotonic()
        stack.start(("api-server", "scheduler", "dag-processor", "triggerer"))

        def present() -> bool:
            with metadata.connect() as conn:
                count = conn.execute(
                    text("SELECT count(*) FROM dag WHERE dag_id LIKE 'automation\\_\\_%' AND NOT is_stale")
                ).scalar_one()
            if stack.dead():
                raise SystemExit(f"{stack.dead()} died:\n{stack.log_tail(stack.dead()[0])}")
            return count == len(keys)

        wait(present, 1800, "every DAG")
        appear = time.monotonic() - started
        api = Api(venv["AIRFLOW__API__BASE_URL"])
        time.sleep(15)  # the first runs of schedule workflows, the api-server's warm-up
        procs = [psutil.Process(p.pid) for p in stack.processes.values()]
        cpu_before, idle_started = tree_cpu(procs), time.monotonic()
        time.sleep(args.idle)
        idle = 100 * (tree_cpu(procs) - cpu_before) / (time.monotonic() - idle_started)
        memory = {name: tree_rss_mb(psutil.Process(stack.processes[name].pid)) for name in MEASURED_MEMORY}

        visible = []
        for index in range(args.edits):
            key = keys[(index * 7919) % len(keys)]
            body = {**definition(keys.index(key), key), "name": f"edited {index}"}
            begun = time.monotonic()
            response = api.http.put(f"/automation/api/v1/workflows/{key}", json=body)
            response.raise_for_status()
            deadline = begun + 600
            while time.monotonic() < deadline:
                dag = api.http.get(f"/api/v2/dags/automation__{key}")
                if dag.status_code == 200 and dag.json().get("description") == f"edited {index}":
                    break
                time.sleep(0.2)
            visible.append(time.monotonic() - begun)
        return {
            "variant": variant, "n": len(keys), "appear": appear, "idle_cpu": idle,
            "edit_p50": statistics.median(visible), "edit_max": max(visible), "memory": memory,
        }  # fmt: skip
    finally:
        stack.stop()
        metadata.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--edits", type=int, default=10)
    parser.add_argument("--idle", type=float, default=60)
    parser.add_argument("--variants", default="single,sharded")
    args = parser.parse_args()
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        with bench_env(airflow=False) as env:
            started = time.monotonic()
            keys = store(size)
            print(f"{size} workflows stored in {time.monotonic() - started:.0f}s", flush=True)
            for variant in args.variants.split(","):
                row = run_variant(env, variant, keys, args)
                rows.append(row)
                print(row, flush=True)
    print()
    print("| workflows | variant | all DAGs appear | idle CPU (whole stack) | edit -> visible p50 / max | "
          "memory dag-processor / scheduler |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for r in rows:
        name = r["variant"] if r["variant"] == "single" else f"{args.shards} shards"
        memory = " / ".join(f"{r['memory'][name]:.0f}" for name in MEASURED_MEMORY)
        print(f"| {r['n']:,} | {name} | {r['appear']:.0f} s | {r['idle_cpu']:.0f}% | {r['edit_p50']:.1f} / "
              f"{r['edit_max']:.1f} s | {memory} MB |")  # fmt: skip


if __name__ == "__main__":
    main()
