"""`automation run KEY --entity-id N`: a manual run for one record, started in Airflow's metadata database
(the workflow's DAG parsed into it as the dag-processor would), or one line saying why not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from automation.airflow_adapter import runs
from automation.airflow_adapter.db import metadata_session
from automation.cli.main import main
from automation.install import write_dag_files
from automation.services import workflows
from automation.store.db import engine
from tests.helpers import workflow

KEY = "cli-run-record"
DAG_ID = f"automation__{KEY}"
NOTE = {"id": "note", "type": "create_record",
        "config": {"collection": "activities", "values": {"body": "hi", "entity": "deals", "entity_id": 1}}}  # fmt: skip


@pytest.fixture
def parsed(db: None, airflow_db: None, tmp_path: Path) -> Iterator[None]:
    """A record-event workflow stored, and its DAG in Airflow (as the dag-processor would write it)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.models.dag import DagModel
    from sqlalchemy import update

    trigger = {"type": "record_event", "entity": "deals", "events": ["created", "updated"]}
    workflows.create(workflow(KEY, trigger=trigger, steps=[NOTE]), created_by="test")
    folder = tmp_path / "dags"
    folder.mkdir()
    write_dag_files(folder, shards=1)
    DagBundlesManager().sync_bundles_to_db()
    bag = BundleDagBag(dag_folder=str(folder), bundle_path=folder, bundle_name="dags-folder")
    assert not bag.import_errors, bag.import_errors
    sync_bag_to_db(bag, "dags-folder", None)
    try:
        yield
    finally:
        with metadata_session() as session:  # gone from any other test's Airflow
            session.execute(update(DagModel).where(DagModel.dag_id == DAG_ID).values(is_stale=True))


def test_a_run_for_a_record_from_the_cli(parsed: None, capsys: pytest.CaptureFixture[str]) -> None:
    with engine().begin() as conn:
        deal = conn.execute(text("INSERT INTO crm.deals (name) VALUES ('cli') RETURNING id")).scalar_one()

    assert main(["run", KEY, "--entity-id", str(deal), "--event", "created"]) == 0
    line = capsys.readouterr().out.splitlines(keepends=True)[-1]  # (after Airflow's own log line)
    assert line.startswith(f"started {DAG_ID} run manual__") and line.endswith(f" for deals {deal} (created)\n")
    run_id = line.split()[3]
    with metadata_session() as session:
        run = runs.dag_run(session, DAG_ID, run_id)
        assert run is not None and run.conf == {"entity_id": deal, "event": "created"}  # the id read as an integer
        assert str(run.run_type) == "manual" and str(run.triggered_by.value) == "cli"

    assert main(["run", KEY, "--entity-id", "987654"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == "error: deals record 987654 does not exist"
    assert main(["run", KEY, "--entity-id", str(deal), "--new", "{not json"]) == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith("error: new: not JSON: ")
