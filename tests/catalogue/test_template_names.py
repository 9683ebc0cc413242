"""Catalogue templates are checked for template names after rendering their `<< >>` parameters: a
name problem is blamed on a parameter only when the parameter's value can have caused it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from automation.catalogue.templates import render_template
from automation.errors import DefinitionError

TEMPLATE = {
    "template": {
        "name": "Call the deal's contact",
        "category": "crm",
        "parameters": [
            {"name": "title", "type": "string", "default": "Call {{ trigger.new.name }}"},
            {"name": "who", "type": "string", "default": "entity"},
            {"name": "days", "type": "integer", "default": 2},
        ],
    },
    "workflow": {
        "name": "Call",
        "trigger": {"type": "record_event", "entity": "deals", "events": ["created"]},
        "steps": [
            {"id": "call", "type": "create_task",
             "config": {"title": "<< title >>", "description": "For {{ << who >>.name }}",
                        "due": "+<< days >> days"}},
            {"id": "note", "type": "add_note",
             "config": {"entity": "deals", "entity_id": "{{ trigger.new.id }}",
                        "body": "Task {{ steps.call.output.id }} due in << days >> days"}},
        ],
    },
}  # fmt: skip


@pytest.fixture
def catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "templates" / "workflows"
    folder.mkdir(parents=True)
    monkeypatch.setenv("AIRFLOW__AUTOMATION__INCLUDE_DIR", str(tmp_path))
    return folder


def write(folder: Path, template: dict) -> None:
    (folder / "call.yaml").write_text(yaml.safe_dump(template))


def issues(values: dict) -> dict[str, str]:
    with pytest.raises(DefinitionError) as caught:
        render_template("call", values, key="call")
    return {i.path: i.message for i in caught.value.issues}


def test_defaults_render_to_names_the_steps_see(catalogue: Path) -> None:
    write(catalogue, TEMPLATE)
    workflow = render_template("call", {}, key="call")
    assert workflow.steps[0].config["description"] == "For {{ entity.name }}"


def test_a_parameter_whose_value_brings_the_bad_name_is_blamed(catalogue: Path) -> None:
    write(catalogue, TEMPLATE)
    found = issues({"title": "Call {{ organisation.nom }}", "who": "contact"})
    assert set(found) == {"parameters.title", "parameters.who"}
    assert found["parameters.title"].startswith("unknown name 'organisation'; available here: trigger, entity,")
    assert found["parameters.title"].endswith("(at steps[0].config.title)")
    assert found["parameters.who"].startswith("unknown name 'contact'")
    assert found["parameters.who"].endswith("(at steps[0].config.description)")


def test_a_bad_name_in_the_template_file_itself_stays_at_its_path(catalogue: Path) -> None:
    template = yaml.safe_load(yaml.safe_dump(TEMPLATE))
    template["workflow"]["steps"][1]["config"]["body"] = "Task {{ steps.cal.output.id }} due in << days >> days"
    write(catalogue, template)
    found = issues({"days": 3})  # `days` fills the same text but is not the cause
    assert list(found) == ["steps[1].config.body"]
    assert found["steps[1].config.body"] == "unknown name 'steps.cal'; available here: steps.call"
