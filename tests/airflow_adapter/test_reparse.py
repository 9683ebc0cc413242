"""`airflow_adapter.reparse` against the installed Airflow: the parsing-request table the dag-processor claims,
and the stale mark of a DAG its file no longer builds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from automation.airflow_adapter.db import metadata_session
from automation.airflow_adapter.reparse import mark_dags_stale, request_id, request_reparse
from tests.airflow_adapter.conftest import PROBE_DAG_ID

BUNDLE = "dags-folder"
#: a name no real file has: the requests are claimed (and so removed) by the test
REQUESTED = "adapter_probe_reparse.py"


def _pending() -> dict[str, tuple[str, str]]:
    from airflow.models.dagbag import DagPriorityParsingRequest
    from sqlalchemy import select

    with metadata_session() as session:
        rows = session.scalars(select(DagPriorityParsingRequest)).all()
        return {row.id: (row.bundle_name, row.relative_fileloc) for row in rows}


def test_a_request_is_claimed_by_the_dag_processor_once_however_often_it_is_made(probe_dag: Any) -> None:
    from airflow.dag_processing.manager import DagFileProcessorManager

    beside = {"adapter_probe.py"}
    requested = request_reparse([REQUESTED], dag_id_prefix=PROBE_DAG_ID, beside=beside)
    assert requested == [(BUNDLE, REQUESTED)]  # in the folder of the probe's file: the bundle's root
    assert request_reparse([REQUESTED], dag_id_prefix=PROBE_DAG_ID, beside=beside) == requested  # no clash
    ident = request_id(BUNDLE, REQUESTED)
    assert _pending()[ident] == (BUNDLE, REQUESTED)

    manager = DagFileProcessorManager(max_runs=1)
    manager.load_dag_bundles()
    claimed = manager.claim_priority_files()  # what the dag-processor does at every loop
    assert [(f.bundle_name, f.rel_path) for f in claimed] == [(BUNDLE, Path(REQUESTED))]
    assert ident not in _pending()


def test_the_request_id_is_the_one_airflow_makes_so_a_file_has_one_pending_request(probe_dag: Any) -> None:
    from airflow.models.dagbag import DagPriorityParsingRequest
    from sqlalchemy import delete

    with metadata_session() as session:  # as the REST route does: Airflow's column default makes the id
        session.add(DagPriorityParsingRequest(bundle_name=BUNDLE, relative_fileloc=REQUESTED))
    try:
        assert list(_pending()) == [request_id(BUNDLE, REQUESTED)]
        request_reparse([REQUESTED], dag_id_prefix=PROBE_DAG_ID, beside={"adapter_probe.py"})
        assert list(_pending()) == [request_id(BUNDLE, REQUESTED)]
    finally:
        with metadata_session() as session:
            session.execute(delete(DagPriorityParsingRequest))


def test_nothing_is_requested_where_airflow_has_no_dag_of_ours(probe_dag: Any) -> None:
    assert request_reparse([REQUESTED], dag_id_prefix="automation__", beside={"adapter_probe.py"}) == []
    assert request_reparse([REQUESTED], dag_id_prefix=PROBE_DAG_ID, beside={"another_file.py"}) == []
    assert _pending() == {}


def test_a_dag_marked_stale_leaves_the_active_dags(probe_dag: Any) -> None:
    from airflow.models.dag import DagModel
    from sqlalchemy import select, update

    def stale() -> bool | None:
        with metadata_session() as session:
            return session.scalar(select(DagModel.is_stale).where(DagModel.dag_id == PROBE_DAG_ID))

    try:
        assert stale() is False
        assert mark_dags_stale([PROBE_DAG_ID, "adapter_no_such_dag"]) == 1
        assert stale() is True
    finally:  # the other tests of the probe run it
        with metadata_session() as session:
            session.execute(update(DagModel).where(DagModel.dag_id == PROBE_DAG_ID).values(is_stale=False))
