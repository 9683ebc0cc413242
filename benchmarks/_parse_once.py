"""Child process of parse.py: one parse of a DAG file, as a dag-processor's parsing process does it.

The dag-processor imports the `airflow.*` modules a file names before it forks the parsing process
(`[dag_processor] parsing_pre_import_modules`), after freezing its heap (`gc.freeze()`, so a parse's
garbage collections do not walk Airflow's objects); everything else the file imports is paid in the
parse, and is timed here too.
"""

from __future__ import annotations

import gc
import importlib
import json
import runpy
import sys
import time

import airflow.sdk
from airflow.utils.file import iter_airflow_imports

gc.freeze()  # the dag-processor's manager freezes its heap before it forks the parsing processes
path = sys.argv[1]
for module in iter_airflow_imports(path):
    importlib.import_module(module)

started, cpu_started = time.perf_counter(), time.process_time()
namespace = runpy.run_path(path)
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
unique = {v.dag_id: v for v in namespace.values() if isinstance(v, airflow.sdk.DAG)}
tasks = sum(len(v.tasks) for v in unique.values())
print(json.dumps({"seconds": elapsed, "cpu": cpu, "dags": len(unique), "tasks": tasks}))
