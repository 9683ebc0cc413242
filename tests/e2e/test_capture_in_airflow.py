"""End to end with capture: `automation capture enable deals`, then a psql UPDATE of the demo CRM (no event
sent by anyone) makes exactly one DAG run in the real Airflow, through the stack's emitter process; a
rolled-back UPDATE makes none."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.capture.conftest import CRM_DB, drop_capture, psql
from tests.e2e.conftest import AirflowApi, wait_for
from tests.e2e.test_events_in_airflow import import_workflows, sql
from tests.e2e.test_workflows_in_airflow import cli

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.usefixtures("db")]

STAGED = {
    "key": "deal-staged", "name": "Deal stage logged", "status": "ACTIVE",
    "trigger": {"type": "record_event", "entity": "deals", "events": ["updated"], "fields": ["stage"]},
    "settings": {"retries": 2, "retry_delay": 5},  # a task that cannot start on a loaded machine starts again
    "steps": [{"id": "log", "type": "create_record", "config": {"collection": "activities", "values": {
        "body": "deal {{ trigger.id }} now {{ trigger.new.stage }}", "entity": "deals",
        "entity_id": "{{ trigger.id }}"}}}],
}  # fmt: skip


@pytest.fixture
def captured_deals() -> Iterator[None]:
    assert "capture enabled on deals" in cli("capture", "enable", "deals")
    try:
        yield
    finally:
        drop_capture("automation_db")


@pytest.mark.usefixtures("captured_deals")
def test_a_psql_update_makes_exactly_one_dag_run(airflow: AirflowApi, tmp_path) -> None:
    import_workflows(tmp_path, airflow, STAGED)
    psql(CRM_DB, "INSERT INTO crm.deals (id, name, stage) VALUES (7, 'Captured', 'NEW')")
    psql(CRM_DB, "BEGIN; UPDATE crm.deals SET stage = 'LOST' WHERE id = 7; ROLLBACK;")
    psql(CRM_DB, "UPDATE crm.deals SET stage = 'SIGNED' WHERE id = 7")
    wait_for(lambda: airflow.runs("automation__deal-staged", "success") == 1, 400, "the run of the psql UPDATE")
    time.sleep(5)  # anything else would have been emitted by now
    assert airflow.runs("automation__deal-staged") == 1
    assert sql("SELECT body FROM crm.activities WHERE entity = 'deals'") == [{"body": "deal 7 now SIGNED"}]
    assert sql("SELECT source, event, count(*) AS n FROM automation.events WHERE entity = 'deals' "
               "GROUP BY source, event ORDER BY event") == [
        {"source": "capture", "event": "created", "n": 1}, {"source": "capture", "event": "updated", "n": 1}]  # fmt: skip
