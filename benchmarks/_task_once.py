"""Child process of task.py: what a task process does before it runs its task (Airflow 3.3's
`task_runner.parse`): import the task runner, parse the DAG file with a BundleDagBag while the parsing
context names the DAG, find the task."""

from __future__ import annotations

import gc
import json
import sys
import time

started, cpu_started = time.perf_counter(), time.process_time()
import airflow.sdk.execution_time.task_runner  # noqa: E402, F401
from airflow.dag_processing.dagbag import BundleDagBag  # noqa: E402

gc.freeze()  # as in a worker forked by LocalExecutor or Celery, which freeze their heap before forking
imported, cpu_imported = time.perf_counter(), time.process_time()
path, bundle, dag_id, task_id = sys.argv[1:5]
bag = BundleDagBag(dag_folder=path, safe_mode=False, load_op_links=False, bundle_path=bundle, bundle_name="dags")
task = bag.dags[dag_id].task_dict[task_id]
parsed, cpu_parsed = time.perf_counter(), time.process_time()
result = {"runner_import": imported - started, "parse": parsed - imported, "dags": len(bag.dags)}
result.update(runner_import_cpu=cpu_imported - cpu_started, parse_cpu=cpu_parsed - cpu_imported)
print(json.dumps(result))
