"""Every save that changes a workflow's DAG asks Airflow (its metadata database, the installed version's
parsing-request table) to re-parse the one DAG file holding the workflow; a request that cannot be made is
logged and never fails the save."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.airflow_adapter.db import metadata_session
from automation.definitions import Status
from automation.factory.shards import shard_file_name, shard_of
from automation.install import write_dag_files
from automation.local.embedded_db import free_port
from automation.services import bundles, workflows
from automation.store.db import dispose_engines
from tests.helpers import workflow

KEYS = [f"svc-reparse-{i}" for i in range(12)]


def _requested() -> set[str]:
    from airflow.models.dagbag import DagPriorityParsingRequest
    from sqlalchemy import delete, select

    with metadata_session() as session:
        files = set(session.scalars(select(DagPriorityParsingRequest.relative_fileloc)))
        session.execute(delete(DagPriorityParsingRequest))  # claimed, as the dag-processor does
    return files


def _stale(dag_id: str) -> bool | None:
    from airflow.models.dag import DagModel
    from sqlalchemy import select

    with metadata_session() as session:
        return session.scalar(select(DagModel.is_stale).where(DagModel.dag_id == dag_id))


@pytest.fixture
def parsed_shards(db: None, airflow_db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """KEYS stored, and their DAGs in Airflow from 4 shard files (as the dag-processor would write them)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.models.dag import DagModel

    monkeypatch.setenv("AIRFLOW__AUTOMATION__DAG_SHARDS", "4")
    for key in KEYS:
        workflows.create(workflow(key), created_by="test")
    folder = tmp_path / "dags"
    folder.mkdir()
    write_dag_files(folder, shards=4)
    DagBundlesManager().sync_bundles_to_db()
    for index in range(4):
        bag = BundleDagBag(
            dag_folder=str(folder / shard_file_name(index)), bundle_path=folder, bundle_name="dags-folder"
        )
        assert not bag.import_errors, bag.import_errors
        sync_bag_to_db(bag, "dags-folder", None)
    _requested()
    try:
        yield
    finally:
        from airflow.api.common.delete_dag import delete_dag
        from sqlalchemy import select

        _requested()
        with metadata_session() as session:  # gone from the Airflow of any later test of this session
            ids = session.scalars(select(DagModel.dag_id).where(DagModel.dag_id.startswith("automation__svc-reparse-")))
            for dag_id in list(ids):
                delete_dag(dag_id, session=session)


def test_each_save_requests_the_file_of_its_shard_only(parsed_shards: None) -> None:
    key = KEYS[5]
    workflows.update(key, {**workflow(key), "name": "Renamed"}, created_by="test")
    assert _requested() == {shard_file_name(shard_of(key, 4))}

    workflows.set_status(key, Status.INACTIVE)
    assert _requested() == {shard_file_name(shard_of(key, 4))}

    workflows.rollback(key, 1, created_by="test")
    assert _requested() == {shard_file_name(shard_of(key, 4))}

    new = workflows.create(workflow("svc-reparse-new"), created_by="test")  # a file without it yet: same folder
    assert _requested() == {shard_file_name(shard_of(new.key, 4))}

    two = [KEYS[0], next(k for k in KEYS if shard_of(k, 4) != shard_of(KEYS[0], 4))]
    bundles.import_bundle({"workflows": [{**workflow(k), "name": "Imported"} for k in two]}, created_by="test")
    assert _requested() == {shard_file_name(shard_of(k, 4)) for k in two}


def test_a_deleted_or_drafted_workflow_leaves_airflow_at_once(parsed_shards: None) -> None:
    assert _stale(f"automation__{KEYS[1]}") is False
    workflows.delete(KEYS[1])
    assert _requested() == {shard_file_name(shard_of(KEYS[1], 4))}
    assert _stale(f"automation__{KEYS[1]}") is True

    workflows.set_status(KEYS[2], Status.DRAFT)
    assert _stale(f"automation__{KEYS[2]}") is True
    assert _stale(f"automation__{KEYS[3]}") is False


def test_no_request_when_turned_off(parsed_shards: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__AUTOMATION__REPARSE_ON_CHANGE", "false")
    workflows.update(KEYS[4], {**workflow(KEYS[4]), "name": "Renamed"}, created_by="test")
    assert _requested() == set()


@pytest.mark.usefixtures("db")
def test_airflow_unreachable_the_save_succeeds_and_says_why_in_the_log(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_METADATA_DB", f"postgresql://postgres@127.0.0.1:{free_port()}/airflow")
    dispose_engines()
    try:
        with caplog.at_level(logging.WARNING, logger="automation.services.workflows"):
            stored = workflows.create(workflow("svc-reparse-offline"), created_by="test")
            saved = workflows.update(stored.key, {**workflow(stored.key), "name": "Renamed"}, created_by="test")
        assert saved.workflow.version == 2 and saved.workflow.name == "Renamed"
        messages = [r.getMessage() for r in caplog.records if "re-parse" in r.getMessage()]
        assert len(messages) == 2 and "svc-reparse-offline" in messages[0], messages
    finally:
        dispose_engines()
