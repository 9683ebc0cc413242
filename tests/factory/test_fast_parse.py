"""The parse's fast path (factory/validated.py): a definition skips full validation and modelling (its kept
plan is used) only when its exact text passed before under the same code and registry; the DAGs are the
same either way. A task process builds from its key's kept plan, without the database."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from automation.cli.main import main
from automation.factory import validated
from automation.factory.build import build_dag, dags_from_plan
from automation.factory.plan import plan_for
from automation.records.registry import DEFAULT_REGISTRY
from automation.store.db import dispose_engines, engine
from automation.store.repository import Repository, StoredWorkflow
from automation.validation import validate_definition
from tests.helpers import five_step_workflow, workflow
from tests.servers import free_port

pytestmark = pytest.mark.usefixtures("db")
DEMO = Path(__file__).resolve().parents[2] / "plugins" / "automation" / "demo" / "workflows"


def store(*definitions: dict) -> None:
    repo = Repository()
    for definition in definitions:
        repo.create(validate_definition(definition))


def passed() -> dict[str, str]:
    """Digest of each definition with a kept plan, by key."""
    folder = validated.state_dir() / validated.PLANS_DIR
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    return {f.stem: json.loads(f.read_text())["digest"] for f in files}


def serialized(dags: dict) -> str:
    from airflow.serialization.serialized_objects import DagSerialization

    return json.dumps({k: DagSerialization.to_dict(d) for k, d in sorted(dags.items())}, sort_keys=True, default=str)


def break_in_place(key: str) -> None:
    """Edit a stored version behind the API's back: a column that does not exist (same version number)."""
    with engine().begin() as conn:
        conn.execute(
            text(
                "UPDATE automation.workflow_versions SET definition = jsonb_set(definition, "
                "'{steps,2,config,values}', '{\"colour\": \"red\"}') WHERE workflow_id = "
                "(SELECT id FROM automation.workflows WHERE key = :key)"
            ),
            {"key": key},
        )


def test_the_fast_path_builds_the_same_dags_as_full_validation(parse_dags: Callable[[], dict]) -> None:
    store(
        five_step_workflow("event"),
        workflow("nightly", trigger={"type": "schedule", "cron": "0 2 * * *", "timezone": "Europe/Paris"}),
        workflow("manual"),
    )
    first = parse_dags()  # no verdicts yet: every definition validated in full
    assert sorted(passed()) == ["event", "manual", "nightly"]
    second = parse_dags()  # each text passed before: the workflow models only
    assert sorted(second) == ["automation__event", "automation__manual", "automation__nightly"]
    assert serialized(second) == serialized(first)


def test_a_kept_plan_builds_the_dags_full_validation_gives() -> None:
    definitions = [yaml.safe_load(p.read_text()) for p in sorted(DEMO.glob("*.yaml"))]
    definitions += [five_step_workflow("event"), workflow("manual")]
    assert len(definitions) >= 6
    for index, definition in enumerate(definitions):
        item = StoredWorkflow(key=definition["key"], name=definition["name"], status="ACTIVE", version=index + 1,
                              definition=definition)  # fmt: skip
        full = validate_definition(item.with_status(), source=item.key)
        plan = plan_for(full, item.version)
        kept = json.loads(json.dumps(plan))  # what the plan file gives back
        assert kept == plan
        from_file = dags_from_plan(kept)
        assert serialized({f"automation__{item.key}": build_dag(full, item.version)}) == serialized(
            {f"automation__{item.key}": from_file[f"automation__{item.key}"]}
        )


def test_a_definition_changed_in_place_is_validated_again_and_reported(
    parse_dags: Callable[[], dict], capsys: pytest.CaptureFixture[str]
) -> None:
    store(*(five_step_workflow(f"wf-{i}") for i in range(4)))
    assert len(parse_dags()) == 4
    before = passed()
    break_in_place("wf-2")  # same key and version number, different text
    dags = parse_dags()
    assert sorted(dags) == ["automation__wf-0", "automation__wf-1", "automation__wf-3"]
    assert "wf-2" not in passed() and passed()["wf-1"] == before["wf-1"]
    assert main(["list", "--errors"]) == 0
    assert "wf-2 v1: steps[2].config.values: column(s) ['colour']" in capsys.readouterr().out
    assert "automation__wf-2" not in parse_dags()  # still reported by the next parse, not trusted


def test_a_new_version_rebuilds_its_dag(parse_dags: Callable[[], dict]) -> None:
    store(five_step_workflow("wf-0"), five_step_workflow("wf-1"))
    assert len(parse_dags()["automation__wf-1"].tasks) == 6
    changed = five_step_workflow("wf-1")
    changed["steps"] = changed["steps"][:2]
    Repository().save(validate_definition(changed))
    dags = parse_dags()
    assert sorted(dags["automation__wf-1"].task_dict) == ["conditions", "step_0", "step_1"]
    assert "Definition version 2" in dags["automation__wf-1"].doc_md
    assert len(dags["automation__wf-0"].tasks) == 6


def test_a_registry_change_validates_every_definition_again(
    parse_dags: Callable[[], dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(five_step_workflow("notes"), workflow("manual"))
    assert len(parse_dags()) == 2
    registry = yaml.safe_load(DEFAULT_REGISTRY.read_text())
    del registry["collections"]["activities"]  # the five steps write activities
    changed = tmp_path / "collections.yaml"
    changed.write_text(yaml.safe_dump(registry))
    monkeypatch.setenv("AIRFLOW__AUTOMATION__COLLECTIONS_FILE", str(changed))
    assert sorted(parse_dags()) == ["automation__manual"]
    assert sorted(passed()) == ["manual"]


def test_an_unreadable_plan_file_only_means_full_validation(parse_dags: Callable[[], dict]) -> None:
    store(five_step_workflow("a"), five_step_workflow("b"))
    parse_dags()
    (validated.state_dir() / validated.PLANS_DIR / "a.json").write_text("{not json")
    assert sorted(parse_dags()) == ["automation__a", "automation__b"]
    assert sorted(passed()) == ["a", "b"]


def test_a_task_process_builds_its_dag_from_the_kept_plan_without_the_database(
    parse_dags: Callable[[], dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    store(*(five_step_workflow(f"wf-{i}") for i in range(3)))
    full = parse_dags()  # the dag-processor's parse keeps the plans
    monkeypatch.setenv("AIRFLOW_CONN_AUTOMATION_DB", f"postgresql://postgres@127.0.0.1:{free_port()}/x")
    dispose_engines()
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "automation__wf-1")
    try:
        task_process = parse_dags()
        assert sorted(task_process) == ["automation__wf-1"]
        assert serialized(task_process) == serialized({"automation__wf-1": full["automation__wf-1"]})
        shutil.rmtree(validated.state_dir())  # no kept plan (nor snapshot): the database it would be
        assert parse_dags() == {}
    finally:
        dispose_engines()


def test_with_the_database_down_the_snapshot_builds_from_the_kept_plans(
    parse_dags: Callable[[], dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snapshot keeps each definition's text as read, so its digest still matches the kept plan: a parse
    while the database is down validates nothing again."""
    store(*(five_step_workflow(f"wf-{i}") for i in range(3)))
    full = parse_dags()
    monkeypatch.setenv("AIRFLOW_CONN_AUTOMATION_DB", f"postgresql://postgres@127.0.0.1:{free_port()}/x")
    dispose_engines()
    validated_again: list[str] = []
    monkeypatch.setattr("automation.validation.validate_definition", lambda *a, **k: validated_again.append("x"))
    try:
        from_snapshot = parse_dags()
    finally:
        dispose_engines()
    assert validated_again == []
    assert serialized(from_snapshot) == serialized(full)


def test_a_task_process_without_a_kept_plan_reads_the_database_and_keeps_nothing(
    parse_dags: Callable[[], dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    store(five_step_workflow("wf-0"), five_step_workflow("wf-1"))
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "automation__wf-1")
    assert sorted(parse_dags()) == ["automation__wf-1"]
    assert passed() == {}  # it may run on a machine whose state no full parse refreshes


def test_only_definitions_of_this_packages_actions_are_trusted() -> None:
    assert validated.builtin_actions_only(five_step_workflow("event"))
    other = five_step_workflow("other")
    other["steps"][3]["type"] = "crm_plugin_action"  # another package's (or no) action: full validation
    assert not validated.builtin_actions_only(other)
    each = workflow("each")
    each["steps"] = [{"id": "s", "type": "for_each", "config": {"items": [1], "action": {"type": "crm_plugin_action"}}}]
    assert not validated.builtin_actions_only(each)
    each["steps"][0]["config"]["action"]["type"] = "add_note"
    assert validated.builtin_actions_only(each)
