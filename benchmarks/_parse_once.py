"""Child process of parse.py: one parse of a DAG file, as a dag-processor's parsing process does it.

The dag-processor imports the `airflow.*` modules a file names before it forks the parsing process
(`[dag_processor] parsing_pre_import_modules`); everything else the file imports is paid in the parse,
and is timed here too.
"""

from __future__ import annotations

import json
import runpy
import sys
import time

from airflow.utils.file import iter_airflow_imports

path = sys.argv[1]
import importlib  # noqa: E402

for module in iter_airflow_imports(path):
    importlib.import_module(module)
import airflow.sdk  # noqa: E402

started = time.perf_counter()
namespace = runpy.run_path(path)
elapsed = time.perf_counter() - started
unique = {v.dag_id: v for v in namespace.values() if isinstance(v, airflow.sdk.DAG)}
tasks = sum(len(v.tasks) for v in unique.values())
print(json.dumps({"seconds": elapsed, "dags": len(unique), "tasks": tasks}))
