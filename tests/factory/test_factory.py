from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from automation.cli.main import main
from automation.local.embedded_db import EmbeddedPostgres, free_port
from automation.store.db import dispose_engines, engine
from automation.store.migrate import upgrade
from automation.store.repository import Repository
from automation.validation import validate_definition
from tests.helpers import five_step_workflow, workflow

pytestmark = pytest.mark.usefixtures("db")


def store(*definitions: dict) -> None:
    repo = Repository()
    for definition in definitions:
        repo.create(validate_definition(definition))


def test_each_workflow_becomes_a_dag_with_its_shape_and_schedule(parse_dags: Callable[[], dict]) -> None:
    scheduled = workflow("nightly", trigger={"type": "schedule", "cron": "0 2 * * *", "timezone": "Europe/Paris"})
    event = five_step_workflow("signed")
    event["settings"] = {"tags": ["sales"], "owner": "ops", "priority": 5, "retries": 4}
    manual = workflow("manual")
    fan_out = workflow("fan")
    fan_out["steps"][1]["depends_on"] = ["create_deal"]
    fan_out["steps"].append({**fan_out["steps"][1], "id": "also"})
    store(scheduled, event, manual, fan_out, workflow("draft", status="DRAFT"))

    dags = parse_dags()
    assert sorted(dags) == [
        "automation__fan",
        "automation__manual",
        "automation__nightly",
        "automation__signed",
    ]

    nightly = dags["automation__nightly"]
    assert type(nightly.timetable).__name__ == "CronTriggerTimetable"
    assert nightly.timetable.expression == "0 2 * * *" and str(nightly.timetable.timezone) == "Europe/Paris"

    signed = dags["automation__signed"]
    assert type(signed.timetable).__name__ == "PartitionedAssetTimetable"
    assert signed.timetable.asset_condition.uri == "automation://deals/updated"
    assert signed.tags == {"automation", "record_event", "sales"}
    assert signed.task_dict["conditions"].downstream_task_ids == {"step_0"}
    assert signed.task_dict["step_3"].upstream_task_ids == {"step_2"}
    step = signed.task_dict["step_0"]
    assert (step.retries, step.owner, step.priority_weight) == (4, "ops", 5)
    assert "Workflow signed" in signed.doc_md

    manual_dag = dags["automation__manual"]
    assert type(manual_dag.timetable).__name__ == "NullTimetable"
    assert "name" in manual_dag.params and "conditions" not in manual_dag.task_dict
    assert dags["automation__fan"].task_dict["create_deal"].downstream_task_ids == {"to_proposition", "also"}


def test_one_invalid_definition_among_twenty_is_skipped_and_recorded(
    parse_dags: Callable[[], dict], capsys: pytest.CaptureFixture[str]
) -> None:
    store(*(five_step_workflow(f"wf-{i:02d}") for i in range(20)))
    with engine().begin() as conn:  # as if edited behind the API's back: a column that does not exist
        conn.execute(
            text(
                "UPDATE automation.workflow_versions SET definition = jsonb_set(definition, "
                "'{steps,2,config,values}', '{\"colour\": \"red\"}') WHERE workflow_id = "
                "(SELECT id FROM automation.workflows WHERE key = 'wf-07')"
            )
        )
    dags = parse_dags()
    assert len(dags) == 19 and "automation__wf-07" not in dags
    assert main(["list", "--errors"]) == 0
    assert "wf-07 v1: steps[2].config.values: column(s) ['colour']" in capsys.readouterr().out


def test_parse_falls_back_to_the_snapshot_when_the_database_is_stopped(
    parse_dags: Callable[[], dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = EmbeddedPostgres(tmp_path / "pg", free_port()).start()
    try:
        own.create_database("automation")
        monkeypatch.setenv("AIRFLOW_CONN_AUTOMATION_DB", own.url("automation"))
        dispose_engines()
        upgrade()
        store(*(five_step_workflow(f"wf-{i}") for i in range(3)))
        before = sorted(parse_dags())
        assert len(before) == 3
    finally:
        own.stop()
    dispose_engines()
    after = parse_dags()
    assert sorted(after) == before
    assert len(after["automation__wf-0"].tasks) == 6
    dispose_engines()


def test_database_stopped_and_no_snapshot_gives_no_dags_but_no_error(
    parse_dags: Callable[[], dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AUTOMATION_DB", f"postgresql://postgres@127.0.0.1:{free_port()}/x")
    dispose_engines()
    assert parse_dags() == {}
    dispose_engines()


def test_worker_builds_only_the_dag_it_runs(parse_dags: Callable[[], dict], monkeypatch: pytest.MonkeyPatch) -> None:
    store(*(five_step_workflow(f"wf-{i}") for i in range(5)))
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "automation__wf-3")
    assert list(parse_dags()) == ["automation__wf-3"]
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "some_other_dag")
    assert parse_dags() == {}


def test_output_is_stable_between_parses(parse_dags: Callable[[], dict]) -> None:
    from airflow.serialization.serialized_objects import DagSerialization

    store(five_step_workflow("a"), workflow("b", trigger={"type": "schedule", "cron": "*/5 * * * *"}))

    def serialized() -> str:
        return json.dumps(
            {k: DagSerialization.to_dict(d) for k, d in sorted(parse_dags().items())},
            sort_keys=True,
            default=str,
        )

    assert serialized() == serialized()
