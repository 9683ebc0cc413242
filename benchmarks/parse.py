"""Parse time of the workflow factory vs hand-written Airflow code building the same DAGs.

Usage: python benchmarks/parse.py [--sizes 1000,5000] [--triggers record,schedule] [--rounds 5]
                                  [--dag-factory] [--quick]

For each trigger shape (record: an event asset, the params of a run for one record, a conditions gate and
5 steps; schedule: a cron and 5 steps) and each size, N workflows are stored, then these DAG files are
parsed, each parse in a fresh interpreter as the dag-processor does (benchmarks/_parse_once.py:
Airflow's pre-import of the file's `airflow.*` modules, then the timed `runpy.run_path`):

- factory: dags/automation_workflows.py (one query, the definitions, one DAG each, the snapshot);
- hand-written: PythonOperator DAGs of the same shape, written as a team would (the reference);
- hand-written, our operators: the same code with the factory's operator classes instead of
  PythonOperator (separates the operators' construction cost from the factory's own);
- worker: the factory with the parsing context set to one DAG (what a task process parses);
- dag-factory (--dag-factory; needs `pip install dag-factory==1.1.0`): the same DAGs from YAML.

The machine is shared, so the variants are interleaved (A B C .. then .. C B A, for --rounds rounds,
after one warm-up parse each) and each ratio compares figures from the same rounds; min and median
are printed, of the parse's CPU time (what a parse costs, whatever else the machine runs) and of
its wall time. --quick: 1,000 workflows, 3 rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from _env import ROOT, bench_env

from automation.demo.shapes import five_step_workflow

HANDWRITTEN = """
from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.python import PythonOperator, ShortCircuitOperator
from airflow.sdk import DAG, Asset, CronTriggerTimetable, Param, PartitionedAssetTimetable, TriggerRule


def create_activity(body, entity_id):
    raise NotImplementedError  # never called at parse time


def stage_signed(**context):
    raise NotImplementedError


def alert(context):
    raise NotImplementedError


DEALS_UPDATED = Asset(name="automation://deals/updated", uri="automation://deals/updated", group="automation")
WORKFLOWS = {workflows!r}
for key, cron in WORKFLOWS:
    params = {{}}
    if cron is None:
        schedule = PartitionedAssetTimetable(assets=DEALS_UPDATED)
        # what Airflow's trigger form asks to run the workflow for one record
        params = {{
            "entity_id": Param(None, description="Run for one deals record: its id", title="Record id",
                               type=["integer", "string", "null"], pattern="^-?[0-9]{{1,18}}$", maxLength=200),
            "event": Param("updated", description="The event the run is for", type="string", enum=["updated"],
                           title="Event"),
        }}
    else:
        schedule = CronTriggerTimetable(cron, timezone="UTC")
    dag = DAG(
        dag_id=f"automation__{{key}}",
        dag_display_name=f"Workflow {{key}}",
        description=f"Workflow {{key}}",
        schedule=schedule,
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=16,
        tags={{"automation", "schedule" if cron else "record_event"}},
        params=params,
        doc_md=f"### Workflow {{key}}\\n\\n5 steps",
        is_paused_upon_creation=False,
        render_template_as_native_obj=False,
        on_failure_callback=alert,
        on_success_callback=alert,
    )
    previous = None
    if cron is None:
        previous = ShortCircuitOperator(task_id="conditions", task_display_name="conditions",
                                        python_callable=stage_signed, retries=2,
                                        retry_delay=timedelta(seconds=30), priority_weight=1, owner="automation",
                                        dag=dag)
    for i in range(5):
        task = {operator}
        if previous is not None:
            previous >> task
        previous = task
    globals()[dag.dag_id] = dag
"""
PYTHON_OPERATOR = """PythonOperator(
            task_id=f"step_{i}", task_display_name=f"step_{i}", python_callable=create_activity,
            op_kwargs={"body": f"step {i}", "entity_id": "{{ dag_run.partition_key }}"}, retries=2,
            retry_delay=timedelta(seconds=30), retry_exponential_backoff=2.0, max_retry_delay=timedelta(hours=1),
            priority_weight=1, owner="automation", trigger_rule=TriggerRule.NONE_FAILED,
            on_failure_callback=alert, on_retry_callback=alert, dag=dag,
        )"""
STEP_OPERATOR = """StepOperator(
            task_id=f"step_{i}", task_display_name=f"step_{i}", step_id=f"step_{i}", workflow_key=key,
            workflow_version=1, retries=2, retry_delay=timedelta(seconds=30), retry_exponential_backoff=2.0,
            max_retry_delay=timedelta(hours=1), priority_weight=1, owner="automation",
            trigger_rule=TriggerRule.NONE_FAILED, dag=dag,
        )"""

DAG_FACTORY_LOADER = """
from dagfactory import load_yaml_dags
load_yaml_dags(globals_dict=globals(), config_filepath={path!r})
"""


def schedule_workflow(key: str, index: int) -> dict[str, Any]:
    """A cron trigger and five record steps in a chain (no conditions: no gate task)."""
    return {
        "key": key,
        "name": f"Workflow {key}",
        "status": "ACTIVE",
        "trigger": {"type": "schedule", "cron": cron_of(index)},
        "steps": [
            {
                "id": f"step_{i}",
                "type": "create_record",
                "config": {
                    "collection": "activities",
                    "values": {"body": f"step {i}", "entity": "deals", "entity_id": index},
                },
            }
            for i in range(5)
        ],
    }


def cron_of(index: int) -> str:
    """Distinct expressions, as a real set of workflows has (no cache hit that one cron would give)."""
    return f"{index % 60} {index // 60 % 24} * * {index % 7}"


def dag_factory_yaml(keys: list[str], trigger: str) -> str:
    import yaml

    asset = {"__type__": "airflow.sdk.Asset", "name": "automation://deals/updated", "uri": "automation://deals/updated"}
    config = {}
    for index, key in enumerate(keys):
        step_args = {"workflow_key": key, "workflow_version": 1, "retries": 2}
        tasks: dict[str, Any] = {}
        if trigger == "record":
            tasks["conditions"] = {"operator": "automation.runtime.operators.GateOperator", "workflow_key": key,
                                   "workflow_version": 1, "retries": 2}  # fmt: skip
        for i in range(5):
            tasks[f"step_{i}"] = {"operator": "automation.runtime.operators.StepOperator", "step_id": f"step_{i}",
                                  **step_args}  # fmt: skip
            if i or trigger == "record":
                tasks[f"step_{i}"]["dependencies"] = ["conditions" if i == 0 else f"step_{i - 1}"]
        schedule = (
            {"__type__": "airflow.sdk.PartitionedAssetTimetable", "assets": asset}
            if trigger == "record"
            else {"__type__": "airflow.sdk.CronTriggerTimetable", "cron": cron_of(index), "timezone": "UTC"}
        )
        config[f"automation__{key}"] = {
            "schedule": schedule,
            "start_date": "2024-01-01",
            "catchup": False,
            "max_active_runs": 16,
            "tags": ["automation", trigger],
            "default_args": {"owner": "automation", "retry_delay_sec": 30},
            "tasks": tasks,
        }
    return yaml.safe_dump(config)


def store(n: int, trigger: str) -> list[str]:
    from sqlalchemy import text

    from automation.store.db import engine
    from automation.store.repository import Repository
    from automation.validation import validate_definition

    with engine().begin() as conn:
        conn.execute(text("TRUNCATE automation.workflow_versions, automation.workflows RESTART IDENTITY CASCADE"))
    keys = [f"wf-{i:05d}" for i in range(n)]
    repo = Repository()
    for index, key in enumerate(keys):
        definition = five_step_workflow(key) if trigger == "record" else schedule_workflow(key, index)
        repo.create(validate_definition(definition))
    return keys


def parse_once(path: Path, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "_parse_once.py"), str(path)],
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"parse of {path} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def interleaved(variants: dict[str, tuple[Path, dict[str, str]]], rounds: int) -> dict[str, list[dict[str, Any]]]:
    """Each variant parsed once to warm up (OS cache, snapshot), then `rounds` rounds, alternating order."""
    names = list(variants)
    for name in names:
        parse_once(*variants[name])
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for index in range(rounds):
        for name in names if index % 2 == 0 else reversed(names):
            runs[name].append(parse_once(*variants[name]))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,5000")
    parser.add_argument("--triggers", default="record,schedule")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dag-factory", action="store_true", help="also dag-factory 1.1.0 (slow)")
    parser.add_argument("--quick", action="store_true", help="1,000 workflows, 3 rounds")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.rounds = "1000", 3
    sizes = [int(s) for s in args.sizes.split(",")]
    triggers = args.triggers.split(",")

    factory_file = ROOT / "dags" / "automation_workflows.py"
    rows = []
    with bench_env() as env:
        tmp = Path(env["BENCH_TMP"])
        for trigger in triggers:
            for n in sizes:
                keys = store(n, trigger)
                crons = [None if trigger == "record" else cron_of(i) for i in range(n)]
                workflows = list(zip(keys, crons, strict=True))
                hand = tmp / f"handwritten_{trigger}_{n}.py"
                hand.write_text(HANDWRITTEN.format(workflows=workflows, operator=PYTHON_OPERATOR))
                hand_ops = tmp / f"handwritten_ops_{trigger}_{n}.py"
                hand_ops.write_text(
                    HANDWRITTEN.format(workflows=workflows, operator=STEP_OPERATOR).replace(
                        "from airflow.sdk import", "from automation.runtime.operators import StepOperator\n"
                        "from airflow.sdk import", 1)
                )  # fmt: skip
                worker_env = {**env, "_AIRFLOW_PARSING_CONTEXT_DAG_ID": f"automation__{keys[len(keys) // 2]}"}
                variants = {
                    "factory": (factory_file, env),
                    "hand-written": (hand, env),
                    "hand-written, our operators": (hand_ops, env),
                    "worker": (factory_file, worker_env),
                }
                if args.dag_factory:
                    yaml_path = tmp / f"dagfactory_{trigger}_{n}.yaml"
                    yaml_path.write_text(dag_factory_yaml(keys, trigger))
                    loader = tmp / f"dagfactory_{trigger}_{n}.py"
                    loader.write_text(DAG_FACTORY_LOADER.format(path=str(yaml_path)))
                    variants["dag-factory"] = (loader, env)
                runs = interleaved(variants, args.rounds)
                for name, results in runs.items():
                    expected = 1 if name == "worker" else n
                    assert all(r["dags"] == expected for r in results), (name, results[0])
                assert runs["factory"][0]["tasks"] == runs["hand-written"][0]["tasks"], "not the same shape"
                rows.append({"trigger": trigger, "n": n, "runs": runs})
                print(f"measured {trigger} N={n}", flush=True)
    report(rows, args.rounds)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


def report(rows: list[dict[str, Any]], rounds: int) -> None:
    def fig(values: list[float]) -> str:
        return f"{min(values):.2f} / {statistics.median(values):.2f}"

    names = [n for n in ("factory", "hand-written", "hand-written, our operators", "dag-factory")
             if n in rows[0]["runs"]]  # fmt: skip
    for measure, label in (("cpu", "CPU time of the parse"), ("seconds", "Wall time of the parse")):
        print(f"\n{label} in seconds, min / median of {rounds} interleaved rounds (fresh interpreter each)\n")
        print("| trigger | workflows | " + " | ".join(names) + " | factory / hand-written (min, median) | "
              "worker, one DAG (ms, median) |")  # fmt: skip
        print("|---|---:|" + "---:|" * len(names) + "---:|---:|")
        for row in rows:
            secs = {name: [r[measure] for r in results] for name, results in row["runs"].items()}
            by_min = min(secs["factory"]) / min(secs["hand-written"])
            by_median = statistics.median(secs["factory"]) / statistics.median(secs["hand-written"])
            cells = " | ".join(fig(secs[name]) for name in names)
            print(
                f"| {row['trigger']} | {row['n']} | {cells} | {by_min:.2f}x, {by_median:.2f}x | "
                f"{statistics.median(secs['worker']) * 1000:.0f} |"
            )


if __name__ == "__main__":
    main()
