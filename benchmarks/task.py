"""What a workflow's task process costs before its step runs, against a PythonOperator task of a plain
DAG doing the same work (5 steps inserting a row each), in one run.

Usage: python benchmarks/task.py [--rounds 7] [--workflows 200]

Each sample is a fresh interpreter doing what Airflow 3.3's task runner does before `execute`
(benchmarks/_task_once.py): import the task runner (the same for both), parse the DAG file with the
parsing context naming the task's DAG (the factory builds only that DAG, from the plan the
dag-processor's parse kept; that parse runs once first), find the task. The variants
are interleaved (A B, B A, ...) and min/median printed; then one `python -X importtime` run of each
shows which modules the workflow's parse imports that the plain DAG's does not. The step's own work
against a PythonOperator's is `benchmarks/steps.py`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _env import ROOT, bench_env
from parse import schedule_workflow

PLAIN_DAG = """
import os

import pendulum
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, CronTriggerTimetable


def insert(body, entity_id):
    from sqlalchemy import create_engine, text

    engine = create_engine(os.environ["AIRFLOW_CONN_AUTOMATION_DB"].replace("postgres://", "postgresql://", 1))
    with engine.begin() as conn:
        row = conn.execute(
            text("INSERT INTO crm.activities (body, entity, entity_id) VALUES (:b, 'deals', :i) RETURNING *"),
            {"b": body, "i": entity_id},
        ).mappings().one()
    return {k: str(v) for k, v in row.items()}


with DAG("plain_five_steps", schedule=CronTriggerTimetable("5 3 * * 2", timezone="UTC"),
         start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False, max_active_runs=16):
    previous = None
    for i in range(5):
        task = PythonOperator(task_id=f"step_{i}", python_callable=insert, op_kwargs={"body": f"step {i}",
                              "entity_id": 3})
        if previous is not None:
            previous >> task
        previous = task
"""


def run_once(args: list[str], env: dict[str, str], importtime: bool = False) -> tuple[dict[str, Any], float, str]:
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), *args]
    started = time.perf_counter()
    out = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"{args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1]), wall, out.stderr


def import_times(stderr: str) -> dict[str, tuple[int, int]]:
    """module -> (self us, cumulative us) from `-X importtime` output."""
    times = {}
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "self [us]" not in line:
            own, cumulative, name = line[len("import time:") :].split("|")
            times[name.strip()] = (int(own), int(cumulative))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--workflows", type=int, default=200, help="stored workflows (the worker builds one)")
    args = parser.parse_args()
    once = str(ROOT / "benchmarks" / "_task_once.py")
    with bench_env() as env:
        from automation.store.repository import Repository
        from automation.validation import validate_definition

        tmp = Path(env["BENCH_TMP"])
        dags = tmp / "dags"
        dags.mkdir()
        (dags / "workflows.py").write_text((ROOT / "dags" / "automation_workflows.py").read_text())
        (dags / "plain.py").write_text(PLAIN_DAG)
        repo = Repository()
        for index in range(args.workflows):
            repo.create(validate_definition(schedule_workflow(f"wf-{index:05d}", index)))
        # the dag-processor's parse, which keeps each workflow's plan for the task processes
        full_parse, _, _ = run_once([str(ROOT / "benchmarks" / "_parse_once.py"), str(dags / "workflows.py")], env)
        assert full_parse["dags"] == args.workflows, full_parse
        target = f"automation__wf-{args.workflows // 2:05d}"
        context = {"_AIRFLOW_PARSING_CONTEXT_TASK_ID": "step_2"}
        variants = {
            "workflow": ([once, str(dags / "workflows.py"), str(dags), target, "step_2"],
                         {**env, **context, "_AIRFLOW_PARSING_CONTEXT_DAG_ID": target}),
            "plain DAG": ([once, str(dags / "plain.py"), str(dags), "plain_five_steps", "step_2"],
                          {**env, **context, "_AIRFLOW_PARSING_CONTEXT_DAG_ID": "plain_five_steps"}),
        }  # fmt: skip
        for command, variant_env in variants.values():  # warm-up: OS cache, .pyc files
            run_once(command, variant_env)
        samples: dict[str, list[tuple[dict[str, Any], float]]] = {name: [] for name in variants}
        names = list(variants)
        for index in range(args.rounds):
            for name in names if index % 2 == 0 else reversed(names):
                result, wall, _ = run_once(*variants[name])
                assert result["dags"] == 1, result
                samples[name].append((result, wall))
        imports = {name: import_times(run_once(*variants[name], importtime=True)[2]) for name in names}
    report(samples, imports, args.rounds)


def report(samples: dict[str, list[tuple[dict[str, Any], float]]], imports: dict[str, dict], rounds: int) -> None:
    def column(name: str, pick: Any) -> list[float]:
        return [pick(result, wall) * 1000 for result, wall in samples[name]]

    measures = {
        "DAG file parse with its imports, CPU (ms)": lambda r, w: r["parse_cpu"],
        "DAG file parse with its imports, wall (ms)": lambda r, w: r["parse"],
        "task runner import, CPU (ms; the same code)": lambda r, w: r["runner_import_cpu"],
        "whole process to the task found, wall (ms)": lambda r, w: w,
    }
    print(f"\nTask process before `execute`, min / median of {rounds} interleaved rounds\n")
    print("| measure | workflow | plain DAG (PythonOperator) | difference (min, median) |\n|---|---:|---:|---:|")
    for label, pick in measures.items():
        ours, plain = column("workflow", pick), column("plain DAG", pick)
        print(f"| {label} | {min(ours):.0f} / {statistics.median(ours):.0f} | "
              f"{min(plain):.0f} / {statistics.median(plain):.0f} | {min(ours) - min(plain):+.0f}, "
              f"{statistics.median(ours) - statistics.median(plain):+.0f} |")  # fmt: skip
    ours, plain = imports["workflow"], imports["plain DAG"]
    extra = {name: t for name, t in ours.items() if name not in plain}
    total = sum(own for own, _ in extra.values()) / 1000
    print(f"\n`-X importtime`: {len(extra)} modules imported by the workflow's task and not by the plain DAG's, "
          f"{total:.0f} ms of import time (self, summed); the largest, by cumulative time:\n")  # fmt: skip
    print("| module | cumulative (ms) | self (ms) |\n|---|---:|---:|")
    for name, (own, cumulative) in sorted(extra.items(), key=lambda kv: -kv[1][1])[:15]:
        print(f"| {name} | {cumulative / 1000:.1f} | {own / 1000:.1f} |")


if __name__ == "__main__":
    main()
