"""What a record-event workflow's DAG asks for in Airflow's trigger form, and how a run's record id is
read (the registry's primary key type); no database."""

from __future__ import annotations

import pytest

from automation.definitions.base import PathError
from automation.errors import PermanentActionError
from automation.factory.plan import params_plan
from automation.runtime.record_run import parse_request, record_id
from automation.validation import validate_definition
from tests.helpers import workflow


def trigger(**spec: object) -> object:
    return validate_definition(workflow("t", trigger={"type": "record_event", **spec})).trigger


def test_the_trigger_form_asks_for_the_record_and_its_event() -> None:
    params = params_plan(trigger(entity="deals", events=["created", "updated"]))
    assert params["entity_id"]["default"] is None
    assert params["entity_id"]["schema"] == {
        "type": ["integer", "string", "null"],  # the form shows its first type: a number field
        "pattern": "^-?[0-9]{1,18}$",
        "title": "Record id",
        "maxLength": 200,
    }
    assert params["event"]["default"] == "updated"
    assert params["event"]["schema"]["enum"] == ["created", "updated"]
    assert "entity" not in params

    several = params_plan(trigger(entity=["orders", "projects"], events=["published"]))
    assert several["event"]["default"] == "published"
    assert several["entity"]["default"] == "orders" and several["entity"]["schema"]["enum"] == ["orders", "projects"]
    # `projects` is not a registered collection: its ids may be anything
    assert several["entity_id"]["schema"]["type"] == ["integer", "string", "null"]
    assert "pattern" not in several["entity_id"]["schema"]
    assert params_plan(trigger(entity="users", events=["created"]))["entity_id"]["schema"]["pattern"]  # integer ids


def test_a_record_id_is_read_as_its_primary_key_takes_it() -> None:
    assert record_id("deals", "42") == 42 and record_id("deals", 42) == 42
    with pytest.raises(PathError, match="deals ids \\(id\\) are integers, not '4.2'"):
        record_id("deals", "4.2")
    assert record_id("projects", "p-1") == "p-1"  # not in the registry: as given


def test_a_conf_without_a_record_names_none_and_a_wrong_one_is_refused() -> None:
    assert parse_request({"entity_id": None, "event": "updated"}) is None
    assert parse_request({"entity_id": 7, "event": "updated"}).entity_id == 7  # type: ignore[union-attr]
    with pytest.raises(PermanentActionError, match="event: String should match pattern"):
        parse_request({"entity_id": 7, "event": "Not An Event"})
