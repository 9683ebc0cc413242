"""Runs of generated DAGs in real Airflow (`dag.test()`: real scheduler logic, tasks in-process)."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from sqlalchemy import text

from automation.actions import Action, ActionConfig, ActionContext, Delivered, register
from automation.factory.build import build_dag
from automation.store.db import engine
from automation.store.repository import Repository
from automation.validation import validate_definition
from tests.helpers import workflow

pytestmark = pytest.mark.usefixtures("db", "airflow_db")


def rows(sql: str) -> list[dict[str, Any]]:
    with engine().connect() as conn:
        return [dict(r) for r in conn.execute(text(sql)).mappings()]


def stored_dag(key: str):
    stored = Repository().get(key)
    return build_dag(validate_definition(stored.with_status()), stored.version)


def task_states(dag_run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def test_manual_run_creates_and_updates_crm_rows() -> None:
    Repository().create(validate_definition(workflow("deal-form")))
    run = stored_dag("deal-form").test(run_conf={"name": "ACME renewal"})
    assert run.state == "success", task_states(run)
    assert rows("SELECT name, amount, stage FROM crm.deals") == [
        {"name": "ACME renewal", "amount": 1200, "stage": "PROPOSITION"}
    ]


def test_false_conditions_skip_every_step_and_change_nothing() -> None:
    data = workflow("guarded", conditions={"field": "params.name", "op": "matches", "value": "^VIP"})
    Repository().create(validate_definition(data))
    run = stored_dag("guarded").test(run_conf={"name": "small fish"})
    assert task_states(run) == {
        "conditions": "success",
        "create_deal": "skipped",
        "to_proposition": "skipped",
    }
    assert rows("SELECT * FROM crm.deals") == []
    run = stored_dag("guarded").test(run_conf={"name": "VIP account"})
    assert task_states(run)["to_proposition"] == "success"


def test_step_when_false_skips_that_step_only() -> None:
    data = workflow("when")
    data["steps"][1]["when"] = {"field": "params.name", "op": "==", "value": "promote"}
    data["steps"].append(
        {"id": "note", "type": "create_record",
         "config": {"collection": "activities", "values": {"body": "done", "entity": "deals", "entity_id": 1}}}
    )  # fmt: skip
    Repository().create(validate_definition(data))
    run = stored_dag("when").test(run_conf={"name": "keep"})
    assert task_states(run) == {"create_deal": "success", "to_proposition": "skipped", "note": "success"}
    assert rows("SELECT stage FROM crm.deals") == [{"stage": "QUALIFICATION"}]


class EditWorkflowConfig(ActionConfig):
    key: str
    new_name: str


@register
class EditWorkflowMidRun(Action):
    """Test-only action: a user edits the workflow while this run is going."""

    name: ClassVar[str] = "test_edit_workflow"
    config_model = EditWorkflowConfig

    def execute(self, config: EditWorkflowConfig, ctx: ActionContext) -> Delivered:
        repo = Repository()
        current = repo.get(config.key).with_status()
        current["steps"][1]["config"]["values"]["name"] = config.new_name
        return Delivered({"version": repo.update(validate_definition(current)).version})


def test_an_edit_mid_run_does_not_change_the_running_run() -> None:
    data = workflow("edited")
    data["steps"] = [
        {"id": "edit", "type": "test_edit_workflow", "config": {"key": "edited", "new_name": "from v2"}},
        {"id": "create", "type": "create_record",
         "config": {"collection": "deals", "values": {"name": "from v1"}}},
    ]  # fmt: skip
    Repository().create(validate_definition(data))
    run = stored_dag("edited").test(run_conf={"name": "x"})
    assert run.state == "success", task_states(run)
    assert Repository().get("edited").version == 2
    assert rows("SELECT name FROM crm.deals") == [{"name": "from v1"}]
    pinned = rows(f"SELECT version FROM automation.run_versions WHERE run_id = '{run.run_id}'")
    assert pinned == [{"version": 1}]
