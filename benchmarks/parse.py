"""Parse time of the workflow factory vs hand-written Airflow code vs dag-factory (same DAGs).

Usage: python benchmarks/parse.py [--sizes 100,1000,5000] [--repeat 3]
Each variant runs in a fresh interpreter (as the dag-processor does); the median of --repeat runs
is printed. "worker" is the factory with the parsing context set to one DAG (what a task's
process parses).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from _env import ROOT, bench_env

from automation.demo.shapes import five_step_workflow

HANDWRITTEN = """
from datetime import timedelta
import pendulum
from airflow.sdk import DAG, Asset, PartitionedAssetTimetable, TriggerRule
from automation.runtime.operators import GateOperator, StepOperator

KEYS = {keys!r}
for key in KEYS:
    dag = DAG(
        dag_id=f"automation__{{key}}",
        schedule=PartitionedAssetTimetable(assets=Asset(name="automation://deals/updated",
                                                        uri="automation://deals/updated", group="automation")),
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=16,
        tags={{"automation", "record_event"}},
        doc_md=f"### Workflow {{key}}",
        is_paused_upon_creation=False,
    )
    previous = GateOperator(task_id="conditions", workflow_key=key, workflow_version=1, retries=0, dag=dag)
    for i in range(5):
        task = StepOperator(
            task_id=f"step_{{i}}", step_id=f"step_{{i}}", workflow_key=key, workflow_version=1, retries=2,
            retry_delay=timedelta(seconds=30), retry_exponential_backoff=2.0, max_retry_delay=timedelta(hours=1),
            priority_weight=1, owner="automation", trigger_rule=TriggerRule.NONE_FAILED, dag=dag,
        )
        previous >> task
        previous = task
    globals()[dag.dag_id] = dag
"""

DAG_FACTORY_LOADER = """
from dagfactory import load_yaml_dags
load_yaml_dags(globals_dict=globals(), config_filepath={path!r})
"""


def dag_factory_yaml(keys: list[str]) -> str:
    import yaml

    asset = {"__type__": "airflow.sdk.Asset", "name": "automation://deals/updated", "uri": "automation://deals/updated"}
    config = {}
    for key in keys:
        step_args = {"workflow_key": key, "workflow_version": 1, "retries": 2}
        tasks = {"conditions": {"operator": "automation.runtime.operators.GateOperator", "workflow_key": key,
                                "workflow_version": 1, "retries": 0}}  # fmt: skip
        for i in range(5):
            tasks[f"step_{i}"] = {
                "operator": "automation.runtime.operators.StepOperator",
                "step_id": f"step_{i}",
                "dependencies": ["conditions" if i == 0 else f"step_{i - 1}"],
                **step_args,
            }
        config[f"automation__{key}"] = {
            "schedule": {"__type__": "airflow.sdk.PartitionedAssetTimetable", "assets": asset},
            "start_date": "2024-01-01",
            "catchup": False,
            "max_active_runs": 16,
            "tags": ["automation", "record_event"],
            "default_args": {"owner": "automation", "retry_delay_sec": 30},
            "tasks": tasks,
        }
    return yaml.safe_dump(config)


def store(n: int) -> list[str]:
    from sqlalchemy import text

    from automation.store.db import engine
    from automation.store.repository import Repository
    from automation.validation import validate_definition

    with engine().begin() as conn:
        conn.execute(text("TRUNCATE automation.workflow_versions, automation.workflows RESTART IDENTITY CASCADE"))
    keys = [f"wf-{i:05d}" for i in range(n)]
    repo = Repository()
    for key in keys:
        repo.create(validate_definition(five_step_workflow(key)))
    return keys


def measure(path: Path, repeat: int, env: dict[str, str]) -> dict[str, float]:
    runs = []
    for _ in range(repeat + 1):  # the first run warms the OS cache and writes the snapshot
        out = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "_parse_once.py"), str(path)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    runs = runs[1:]
    return {"seconds": statistics.median(r["seconds"] for r in runs), "dags": runs[0]["dags"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    factory_file = ROOT / "dags" / "automation_workflows.py"
    rows = []
    with bench_env() as env:
        tmp = Path(env["BENCH_TMP"])
        for n in sizes:
            keys = store(n)
            handwritten = tmp / f"handwritten_{n}.py"
            handwritten.write_text(HANDWRITTEN.format(keys=keys))
            yaml_path = tmp / f"dagfactory_{n}.yaml"
            yaml_path.write_text(dag_factory_yaml(keys))
            loader = tmp / f"dagfactory_{n}.py"
            loader.write_text(DAG_FACTORY_LOADER.format(path=str(yaml_path)))
            worker_env = {**env, "_AIRFLOW_PARSING_CONTEXT_DAG_ID": f"automation__{keys[len(keys) // 2]}"}
            result = {
                "n": n,
                "factory": measure(factory_file, args.repeat, env),
                "handwritten": measure(handwritten, args.repeat, env),
                "dag_factory": measure(loader, args.repeat, env),
                "worker": measure(factory_file, args.repeat, worker_env),
            }
            for name in ("factory", "handwritten", "dag_factory"):
                assert result[name]["dags"] == n, (name, result[name])
            assert result["worker"]["dags"] == 1
            rows.append(result)
            print(f"measured N={n}", flush=True)

    print("\n| workflows | factory (s) | hand-written (s) | dag-factory (s) | factory / hand-written | "
          "dag-factory / factory | worker, one DAG (ms) |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        f, h, d, w = (r[k]["seconds"] for k in ("factory", "handwritten", "dag_factory", "worker"))
        print(f"| {r['n']} | {f:.2f} | {h:.2f} | {d:.2f} | {f / h:.2f}x | {d / f:.1f}x | {w * 1000:.0f} |")


if __name__ == "__main__":
    main()
