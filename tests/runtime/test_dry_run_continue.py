"""A dry run follows `settings.continue_on_failure` as the DAG does: the steps after a failing one are
planned instead of `not_reached`."""

from __future__ import annotations

import pytest

from automation.runtime.dry_run import dry_run_report
from automation.validation import validate_definition
from tests.helpers import workflow

pytestmark = pytest.mark.usefixtures("db")
EVENT = {"id": 7, "new": {"id": 7, "name": "ACME"}, "old": {"id": 7, "name": "ACME"}}


@pytest.mark.parametrize(("goes_on", "mail_status"), [(False, "not_reached"), (True, "planned")])
def test_the_workflow_default_decides_whether_the_next_step_is_planned(goes_on: bool, mail_status: str) -> None:
    steps = [{"id": "task", "type": "create_task", "config": {"title": "{{ trigger.new.nope.deeper }}"}},
             {"id": "mail", "type": "send_email", "config": {"to": "a@b.test", "subject": "s", "body": "b"}}]  # fmt: skip
    data = workflow("goes-on", trigger={"type": "record_event", "entity": "deals", "events": ["updated"]},
                    steps=steps, settings={"continue_on_failure": goes_on})  # fmt: skip
    report = dry_run_report(validate_definition(data), 1, EVENT)
    assert report["steps"][0]["status"] == "error"
    assert report["steps"][1]["status"] == mail_status
