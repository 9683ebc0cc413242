"""The one place this package touches Airflow beyond its public API.

Invariant: no module of `automation` outside this subpackage imports an Airflow module other than the
Task SDK (`airflow.sdk`), provider operators/hooks/triggers and `airflow.plugins_manager.AirflowPlugin`
(tests/airflow_adapter/test_boundary.py scans the package). Each module here says which Airflow
internal it relies on and why no public API does the job, and tests/airflow_adapter/ exercises each
one against the installed Airflow and a real metadata database, so an Airflow upgrade that changes
one of them fails there, by name.

Modules (one concern each; importing any of them imports no Airflow, every Airflow import is lazy):

- `access`: the api-server's auth manager and security dependencies (users, per-DAG checks).
- `assets`: asset models and `asset_manager`, to register partitioned asset events.
- `compat`: version-guarded fixes of Airflow bugs, with their upstream issues.
- `config`: Airflow's configuration (`airflow.configuration.conf`).
- `connections`: connection lookup (Task SDK first, then core's secrets + metadata database).
- `dags`: DAG pause state (`DagModel`).
- `db`: sessions on Airflow's metadata database.
- `pools`: the pools of collection concurrency limits and `settings.pool` (`Pool`).
- `preload`: a plugin listener (`on_starting`) importing the runtime in Airflow's job processes before they
  fork (imports `airflow.listeners` when imported: its hook is marked where it is defined).
- `runs`: DAG runs, task instances and XComs (reads, retention deletes, clear and mark failed).
- `smtp`: the SMTP provider's hook and its logged-in client.
- `stats`: Airflow's metrics backends (core and Task SDK).
"""
