"""Per-step overhead of the workflow step operator vs a plain PythonOperator doing the same work,
in the same Airflow (real metadata DB, Airflow's task runner via `dag.test()`), and condition
evaluation speed vs a JsonLogic library (panzi-json-logic), in one run.

Usage: python benchmarks/steps.py [--steps 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from _env import ROOT, bench_env

RULE_SIMPLE = {"all": [
    {"field": "deal.amount", "op": ">", "value": 50000},
    {"field": "deal.stage", "op": "in", "value": ["SIGNED", "WON"]},
    {"field": "deal.owner_id", "op": "is_not_empty"},
    {"field": "deal.name", "op": "contains", "value": "ACME"},
    {"field": "deal.currency", "op": "==", "value": "EUR"},
]}  # fmt: skip
RULE_JSONLOGIC = {"and": [
    {">": [{"var": "deal.amount"}, 50000]},
    {"in": [{"var": "deal.stage"}, ["SIGNED", "WON"]]},
    {"!!": [{"var": "deal.owner_id"}]},
    {"in": ["ACME", {"var": "deal.name"}]},
    {"==": [{"var": "deal.currency"}, "EUR"]},
]}  # fmt: skip
DATA = {"deal": {"amount": 60000, "stage": "SIGNED", "owner_id": 3, "name": "ACME renewal", "currency": "EUR"}}


def per_second(fn, seconds: float = 1.0) -> float:
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(200):
            fn()
        count += 200
    return count / elapsed


def conditions() -> dict[str, float]:
    import json_logic
    from pydantic import TypeAdapter

    from automation.conditions import ConditionData, evaluate
    from automation.conditions.jsonlogic import JsonLogic
    from automation.definitions import Condition

    simple = TypeAdapter(Condition).validate_python(RULE_SIMPLE)
    ours_jl = TypeAdapter(Condition).validate_python({"jsonlogic": RULE_JSONLOGIC})
    data = ConditionData(values=DATA)
    assert evaluate(simple, data) and evaluate(ours_jl, data) and json_logic.jsonLogic(RULE_JSONLOGIC, DATA)
    engine = JsonLogic()
    return {
        "simple form (ours)": per_second(lambda: evaluate(simple, data)),
        "JsonLogic (ours, bare)": per_second(lambda: engine.apply(RULE_JSONLOGIC, DATA)),
        "JsonLogic (ours, with custom ops)": per_second(lambda: evaluate(ours_jl, data)),
        "JsonLogic (panzi-json-logic)": per_second(lambda: json_logic.jsonLogic(RULE_JSONLOGIC, DATA)),
    }


PLAIN_DAG_FILE = """
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG
from sqlalchemy import text

from automation.records.store import records_engine


def insert(i, **context):
    with records_engine().begin() as conn:
        row = conn.execute(
            text("INSERT INTO crm.activities (body, entity, entity_id) VALUES (:b, 'deals', :i) RETURNING *"),
            {{"b": f"step {{context['params']['n']}}", "i": i}},
        ).mappings().one()
    return {{k: str(v) for k, v in row.items()}}


with DAG("bench_plain", schedule=None, params={{"n": 1}}) as dag:
    previous = None
    for i in range({steps}):
        task = PythonOperator(task_id=f"s{{i}}", python_callable=insert, op_kwargs={{"i": i}})
        if previous is not None:
            previous >> task
        previous = task
"""


def step_overhead(steps: int, repeat: int, dags_folder: Path) -> dict[str, float]:
    from airflow.dag_processing.dagbag import DagBag

    from automation.store.repository import Repository
    from automation.validation import validate_definition

    definition = {
        "key": "bench-steps", "name": "bench", "status": "ACTIVE", "trigger": {"type": "manual"},
        "settings": {"retries": 0},
        "steps": [{"id": f"s{i}", "type": "create_record", "config": {"collection": "activities", "values": {
            "body": "step {{ params.n }}", "entity": "deals", "entity_id": i}}} for i in range(steps)],
    }  # fmt: skip
    Repository().create(validate_definition(definition))
    (dags_folder / "workflows.py").write_text((ROOT / "dags" / "automation_workflows.py").read_text())
    (dags_folder / "plain.py").write_text(PLAIN_DAG_FILE.format(steps=steps))
    bag = DagBag(str(dags_folder), bundle_path=dags_folder)
    assert not bag.import_errors, bag.import_errors
    variants = {"step operator": bag.dags["automation__bench-steps"], "PythonOperator": bag.dags["bench_plain"]}
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat + 1):  # the first round warms caches
        for name, dag in variants.items():
            start = time.perf_counter()
            run = dag.test(run_conf={"n": 1})
            timings[name].append((time.perf_counter() - start) / steps)
            assert run.state == "success", (name, run.state)
    return {name: statistics.median(values[1:]) for name, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with bench_env(airflow=True) as env:
        overhead = step_overhead(args.steps, args.repeat, Path(env["BENCH_TMP"]))
        rates = conditions()
    ours, plain = overhead["step operator"], overhead["PythonOperator"]
    print(f"\n| per step ({args.steps} steps, median of {args.repeat}) | ms |\n|---|---:|")
    print(f"| workflow step operator (create_record) | {ours * 1000:.1f} |")
    print(f"| PythonOperator, same insert | {plain * 1000:.1f} |")
    print(f"| ratio | {ours / plain:.2f}x |")
    print("\n| 5-clause rule | evaluations/s |\n|---|---:|")
    for name, rate in rates.items():
        print(f"| {name} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
