"""Child process of parse.py: time one execution of a DAG file, as a dag-processor would."""

from __future__ import annotations

import json
import runpy
import sys
import time

import airflow.sdk

from automation.runtime import operators  # noqa: F401

path = sys.argv[1]
started = time.perf_counter()
namespace = runpy.run_path(path)
elapsed = time.perf_counter() - started
unique = {v.dag_id: v for v in namespace.values() if isinstance(v, airflow.sdk.DAG)}
dags = len(unique)
tasks = sum(len(v.tasks) for v in unique.values())
print(json.dumps({"seconds": elapsed, "dags": dags, "tasks": tasks}))
