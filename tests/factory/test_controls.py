"""Execution controls of a workflow's DAG: pools (the workflow's, a collection's concurrency limit), the
queue of every task, the run timeout, the retry policy per error class and continue_on_failure."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from automation.config import DEFAULT_COLLECTIONS_FILE
from automation.errors import DefinitionError
from automation.factory.build import build_dag
from automation.factory.plan import plan_for
from automation.validation import validate_definition
from tests.helpers import workflow

HOOK = {"id": "hook", "type": "http_request", "config": {"url": "http://127.0.0.1:9/hook"}}


@pytest.fixture
def deals_limited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo registry with `concurrency: 2` on deals."""
    data = yaml.safe_load(DEFAULT_COLLECTIONS_FILE.read_text())
    data["collections"]["deals"]["concurrency"] = 2
    path = tmp_path / "collections.yaml"
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("AIRFLOW__AUTOMATION__COLLECTIONS_FILE", str(path))


def dag_of(**settings: object) -> Any:
    data = workflow("controls", settings=settings, conditions={"field": "params.name", "op": "is_not_empty"})
    data["steps"].append(HOOK)
    return build_dag(validate_definition(data), 1)


def test_pool_queue_and_run_timeout_reach_every_task(deals_limited: None) -> None:
    dag = dag_of(pool="crm_writes", pool_slots=2, queue="crm", run_timeout="15m")
    assert dag.dagrun_timeout == timedelta(minutes=15)
    tasks = {t.task_id: t for t in dag.tasks}
    assert {t.queue for t in tasks.values()} == {"crm"}  # the gate too
    # the deals steps run in the collection's pool; the HTTP step in the workflow's
    assert tasks["create_deal"].pool == tasks["to_proposition"].pool == "automation_collection__deals"
    assert tasks["hook"].pool == "crm_writes"
    assert tasks["hook"].pool_slots == 2


def test_without_controls_tasks_use_airflows_defaults() -> None:
    dag = dag_of()
    assert dag.dagrun_timeout is None
    tasks = {t.task_id: t for t in dag.tasks}
    assert {t.pool for t in tasks.values()} == {"default_pool"}
    assert {t.queue for t in tasks.values()} == {"default"}


def test_retries_are_the_most_any_error_class_may_use() -> None:
    dag = dag_of(retries=1, retry_policy={"server_error": {"retries": 5, "delay": 2}, "network": {"retries": 0}})
    hook = dag.get_task("hook")
    assert hook.retries == 5
    assert hook.retry_policy.rules == {
        "default": 1,
        "classes": {
            "network": {"retries": 0, "delay": 30, "backoff": 2.0, "max_delay": 3600},
            "server_error": {"retries": 5, "delay": 2, "backoff": 2.0, "max_delay": 3600},
        },
    }


def test_continue_on_failure_in_settings_lets_every_next_step_run() -> None:
    data = workflow("goes-on", settings={"continue_on_failure": True})
    plan = plan_for(validate_definition(data), 1)
    assert plan["steps"][1]["args"]["trigger_rule"] == "all_done"
    plan = plan_for(validate_definition(workflow("stops")), 1)
    assert plan["steps"][1]["args"]["trigger_rule"] == "none_failed"


@pytest.mark.parametrize(
    ("settings", "path"),
    [
        ({"pool": "a pool; drop"}, "settings.pool"),
        ({"queue": "x" * 101}, "settings.queue"),
        ({"pool_slots": 0}, "settings.pool_slots"),
        ({"retry_policy": {"client_error": {"retries": 3}}}, "settings.retry_policy.client_error"),
        ({"retry_policy": {"network": {"retries": 21}}}, "settings.retry_policy.network.retries"),
        ({"retry_policy": {"timeout": {"backoff": 0.5}}}, "settings.retry_policy.timeout.backoff"),
        ({"run_timeout": "soon"}, "settings.run_timeout"),
    ],
)
def test_bad_controls_are_refused_with_their_path(settings: dict[str, object], path: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        validate_definition(workflow("bad", settings=settings))
    assert any(issue.path.startswith(path) for issue in caught.value.issues), caught.value.issues
