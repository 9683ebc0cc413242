"""Airflow DAG file: one DAG per stored workflow of this file's shard (see automation.factory).

Every workflow DAG file has this body; its name gives its shard (`automation_workflows.py` is shard 0,
`automation_workflows_<i>.py` shard i; `automation init` writes `[automation] dag_shards` of them)."""

from automation.factory import build_dags

globals().update(build_dags(__file__))
