"""A plain Airflow DAG (Task SDK only, nothing of this package) run for real with `dag.test()`, so the
adapter's tests see the runs, task instances, XComs and DAG rows the installed Airflow writes.

`dag.test()` runs a DAG Airflow has serialized: the probe's file is parsed and written to the metadata
database as the dag-processor would (in the `dags-folder` bundle)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PROBE_DAG_ID = "adapter_probe"
PROBE_SOURCE = f"""
from airflow.sdk import DAG, task

with DAG({PROBE_DAG_ID!r}, schedule=None, catchup=False, default_args={{"retries": 0}}) as dag:

    @task
    def out():
        return {{"n": 1}}

    @task
    def boom():
        raise ValueError("probe failure")

    out()
    boom()
"""


@pytest.fixture(scope="session")
def probe_dag(airflow_db: None, migrated: None, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The probe DAG (`out` returns {"n": 1}; `boom` fails at once), serialized in Airflow's database."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    folder = tmp_path_factory.mktemp("adapter_probe")
    Path(folder / "adapter_probe.py").write_text(PROBE_SOURCE)
    DagBundlesManager().sync_bundles_to_db()
    bag = BundleDagBag(dag_folder=str(folder), bundle_path=folder, bundle_name="dags-folder")
    assert not bag.import_errors, bag.import_errors
    sync_bag_to_db(bag, "dags-folder", None)
    return bag.dags[PROBE_DAG_ID]


@pytest.fixture
def probe_run(probe_dag: Any) -> Callable[[], Any]:
    """Run the probe DAG once more; returns the finished DagRun (state failed: `boom` failed)."""
    return lambda: probe_dag.test()
