"""The static check of template names (templating/names.py) and what `validate` makes of it: each
`{{ ... }}` and condition `field` must read a name its place really sees."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pendulum
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import TemplateSyntaxError

from automation.cli.main import main
from automation.definitions import Workflow
from automation.definitions.triggers import EVENT_FIELDS, RUN_FIELDS, WORKFLOW_FIELDS, template_names
from automation.errors import DefinitionError
from automation.runtime.context import condition_data, run_info, template_context
from automation.store.ledger import event_payload
from automation.templating import names as names_module
from automation.templating.names import check, referenced
from automation.templating.sandbox import environment
from automation.validation import validate_definition
from tests.helpers import workflow

RECORD = {"type": "record_event", "entity": "deals", "events": ["created", "updated"]}
SCHEDULE = {"type": "schedule", "cron": "0 8 * * 1"}
INACTIVITY = {"type": "inactivity", "entity": "deals", "days": 7}
WEBHOOK = {"type": "webhook"}
MANUAL = {"type": "manual", "inputs": {"name": {"type": "string"}}}
DEMO = Path(__file__).resolve().parents[2] / "plugins" / "automation" / "demo" / "workflows"


def task(step_id: str, title: str, **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "create_task", "config": {"title": title}, **extra}


def definition(trigger: dict[str, Any], *steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return workflow("names", trigger=trigger, steps=list(steps), **extra)


def issues(data: dict[str, Any]) -> dict[str, str]:
    """path -> message (several problems at one path joined by ' | ')."""
    with pytest.raises(DefinitionError) as caught:
        validate_definition(data)
    found: dict[str, str] = {}
    for issue in caught.value.issues:
        found[issue.path] = f"{found[issue.path]} | {issue.message}" if issue.path in found else issue.message
    return found


def title_issue(trigger: dict[str, Any], title: str) -> str | None:
    """The issue at the title of a one-step workflow, or None when it validates."""
    data = definition(trigger, task("only", title))
    try:
        validate_definition(data)
    except DefinitionError as exc:
        return "; ".join(i.message for i in exc.issues if i.path == "steps[0].config.title")
    return None


# -- what each trigger type gives ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "good", "bad"),
    [
        (RECORD, ["entity.name", "new.owner.email", "old.stage", "trigger.new.name", "trigger.event", "params.x",
                  "deal.name"],
         ["record.name", "trigger.nwe.name", "body.x"]),
        (SCHEDULE, ["run.data_interval_start", "run.logical_date", "now.year", "workflow.name", "trigger.params"],
         ["new.name", "entity.name", "old.stage", "run.interval"]),
        (INACTIVITY, ["entity.name", "new.owner_id", "trigger.id", "trigger.received_at"],
         ["old.stage", "trigger.body"]),
        (WEBHOOK, ["trigger.body.issue.title", "new.action", "entity.action", "trigger.received_at"],
         ["old.action", "body.issue", "trigger.bdy"]),
        (MANUAL, ["params.name", "trigger.params.name", "run.id", "workflow.key"],
         ["params.nme", "new.name", "entity.id", "item"]),
        ({"type": "manual"}, ["params.anything", "trigger.params.x"], ["new.name"]),
    ],
    ids=["record_event", "schedule", "inactivity", "webhook", "manual", "manual-without-inputs"],
)  # fmt: skip
def test_each_trigger_type_gives_its_own_names(trigger: dict[str, Any], good: list[str], bad: list[str]) -> None:
    for name in good:
        assert title_issue(trigger, f"{{{{ {name} }}}}") is None, name
    for name in bad:
        message = title_issue(trigger, f"{{{{ {name} }}}}")
        assert message and message.startswith("unknown name"), name


def test_the_message_lists_what_is_available_at_that_place() -> None:
    data = definition(RECORD, task("create_deal", "x"), task("call", "{{ organisation.nom }}"))
    assert issues(data) == {
        "steps[1].config.title": "unknown name 'organisation'; available here: trigger, entity, new, old, params, "
        "run, workflow, now, deals, deal, steps.create_deal"
    }
    assert title_issue(SCHEDULE, "{{ nosuch.x }}") == (
        "unknown name 'nosuch'; available here: trigger, params, run, workflow, now"
    )
    assert title_issue(SCHEDULE, "{{ run.start }}") == (
        "unknown name 'run.start'; available here: run.id, run.dag_id, run.logical_date, run.data_interval_start, "
        "run.data_interval_end"
    )
    assert title_issue(MANUAL, "{{ params.nme }}") == (
        "unknown name 'params.nme' (not an input of the manual trigger; declare it under trigger.inputs); "
        "available here: params.name"
    )


def test_the_names_are_what_the_run_puts_in_the_template_context() -> None:
    """definitions/triggers.py lists names; runtime/context.py builds them: the two agree."""
    dag_run = SimpleNamespace(run_id="r1", dag_id="automation__names", conf={})
    moment = pendulum.datetime(2026, 1, 5, tz="UTC")
    run = run_info({"dag_run": dag_run, "logical_date": moment, "data_interval_start": moment,
                    "data_interval_end": moment})  # fmt: skip
    assert tuple(run) == RUN_FIELDS
    row = {"id": 1, "entity": "deals", "entity_id": "7", "event": "updated", "new_data": {}, "old_data": {},
           "actor": "a", "origin_workflow": None, "depth": 0, "received_at": moment}  # fmt: skip
    assert ("type", *event_payload(row)) == EVENT_FIELDS
    for trigger in (RECORD, SCHEDULE, INACTIVITY, WEBHOOK, MANUAL):
        parsed = validate_definition(definition(trigger, task("only", "x")))
        context = template_context(parsed, 3, {"type": trigger["type"]}, run=run)
        names = {**template_names(parsed.trigger), "steps": {}}
        assert set(names) <= set(context), trigger
        assert tuple(context["workflow"]) == WORKFLOW_FIELDS
        assert set(condition_data(parsed, context).values) >= set(names)


# -- steps.<id>: upstream steps only -----------------------------------------------------------------


def test_a_step_reads_the_output_of_earlier_steps_only() -> None:
    data = definition(
        MANUAL,
        task("first", "{{ steps.second.output.id }}"),
        task("second", "{{ steps.first.output.id }} {{ steps['first'].output }} {{ steps.first.output['id'] }}"),
        task("third", "{{ steps.third.output.id }} {{ steps.first.outptu }}"),
    )
    found = issues(data)
    assert set(found) == {"steps[0].config.title", "steps[2].config.title"}
    assert (
        found["steps[0].config.title"] == "unknown name 'steps.second' (runs after this step); 'steps' has nothing here"
    )
    third = found["steps[2].config.title"]
    assert "unknown name 'steps.third' (this step's own output does not exist yet); " in third
    assert "available here: steps.first, steps.second" in third
    assert "unknown name 'steps.first.outptu'; available here: steps.first.output" in third


def test_with_depends_on_upstream_means_the_ancestors_in_the_graph() -> None:
    data = definition(
        RECORD,
        task("fetch", "x", depends_on=[]),
        task("left", "{{ steps.fetch.output.id }}", depends_on=["fetch"]),
        task("right", "{{ steps.left.output.id }}", depends_on=["fetch"]),
        task("join", "{{ steps.fetch.output.id }} {{ steps.left.output }} {{ steps.right.output }}",
             depends_on=["left", "right"]),
    )  # fmt: skip
    assert issues(data) == {
        "steps[2].config.title": "unknown name 'steps.left' (not upstream of this step in depends_on); "
        "available here: steps.fetch"
    }


def test_a_computed_step_id_is_not_checked() -> None:
    assert title_issue(MANUAL, "{% for s in ['a', 'b'] %}{{ steps[s] }}{% endfor %}") is None


# -- for_each: item and index in the per-item config ------------------------------------------------


def test_item_and_index_are_seen_only_by_the_per_item_config_of_for_each() -> None:
    each = {"id": "each", "type": "for_each", "config": {
        "items": "{{ new.lines }}",
        "action": {"type": "create_task", "config": {"title": "{{ item.sku }} #{{ index }} of {{ new.name }}"}}}}  # fmt: skip
    validate_definition(definition(RECORD, each, task("after", "{{ steps.each.output | length }}")))

    each["config"]["items"] = "{{ item.lines }}"
    found = issues(definition(RECORD, each, task("after", "{{ index }}")))
    assert set(found) == {"steps[0].config.items", "steps[1].config.title"}
    assert found["steps[0].config.items"].startswith("unknown name 'item'; available here: trigger,")
    assert "index" not in found["steps[0].config.items"].split("available here:")[1]
    assert found["steps[1].config.title"].startswith("unknown name 'index'")


def test_the_per_item_config_is_checked_at_its_path() -> None:
    each = {"id": "each", "type": "for_each", "config": {
        "items": [1, 2],
        "action": {"type": "create_task", "config": {"title": "{{ item }}", "description": "{{ itme }}"}}}}  # fmt: skip
    found = issues(definition(MANUAL, each))
    assert list(found) == ["steps[0].config.action.config.description"]
    assert found["steps[0].config.action.config.description"].endswith(", item, index")


# -- names the template binds itself ----------------------------------------------------------------

NAMES = {"new": None, "now": None, "steps": {"a": {"output": None}}, "params": {"name": None}, "run": {"id": None}}


@pytest.mark.parametrize(
    "text",
    [
        "{% set total = 3 %}{{ total }}",
        "{% for line in new.lines %}{{ line.sku }} {{ loop.index }}{% else %}none{% endfor %}",
        "{% for k, v in params.items() %}{{ k }}={{ v }}{% endfor %}",
        "{% macro row(cell, sep=', ') %}{{ cell }}{{ sep }}{{ caller() if caller }}{% endmacro %}{{ row(new.x) }}",
        "{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}",
        "{% with x = new.a %}{{ x.b }}{% endwith %}",
        "{% set body %}{{ new.name }}{% endset %}{{ body | upper }}",
        "{{ params.missing | default('none') }} {{ undefined_thing is defined }} {{ run.get('id') }}",
        "{{ now | add_days(3) | isoformat }} {{ timedelta(days=1) }} {{ dict(a=1) }}",
        "{{ steps.a.output[0].id }} {{ new['owner']['email'] }}",
        "plain text, {{ '{{ not a name }}' }}",
    ],
)
def test_names_bound_inside_the_template_and_globals_are_not_reported(text: str) -> None:
    assert check(text, NAMES) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{% for line in new.lines %}{% endfor %}{{ line }}", "unknown name 'line'"),
        ("{% macro m(a) %}{{ a }}{{ b }}{% endmacro %}{{ m(1) }}", "unknown name 'b'"),
        ("{% with x = 1 %}{% endwith %}{{ x }}", "unknown name 'x'"),
        ("{{ y }}{% set y = 1 %}", "unknown name 'y'"),
        ("{{ nosuch.x | default(1) }}", "unknown name 'nosuch'"),
        ("{{ run['idd'] }}", "unknown name 'run.idd'; available here: run.id"),
        ("{{ new.lines | map(attribute='sku') | jion(', ') }}", "unknown filter 'jion'; available: abs, add_days,"),
        ("{% if new.x is nummber %}{% endif %}", "unknown test 'nummber'; available: "),
        ("{{ steps[new.ref] }} {{ steps[reff] }}", "unknown name 'reff'"),
        ("Hello {{ new.name }", "template syntax error (line 1): unexpected '}'"),
    ],
)
def test_what_the_render_would_not_find_is_reported(text: str, expected: str) -> None:
    (problem,) = check(text, NAMES)
    assert problem.startswith(expected)


def test_references_keep_their_literal_members_in_order() -> None:
    text = "{{ steps.a.output[0].id }} {{ steps[x].output }} {% for i in new.items %}{{ i.a }}{% endfor %}"
    assert [r.dotted for r in referenced(text)] == ["steps.a.output", "steps", "x", "new.items"]


# -- the other templated places: when, conditions, notices -------------------------------------------


def test_conditions_and_when_fields_start_with_a_name_they_see() -> None:
    data = definition(
        RECORD,
        task("first", "x", when={"field": "steps.second.output.id", "op": "is_empty"}),
        task("second", "y", when={"all": [{"field": "steps.first.output.id", "op": "is_empty"},
                                          {"not": {"field": "organisation.nom", "op": "is_empty"}}]}),
        conditions={"any": [{"field": "deal.amount", "op": ">", "value": 1}, {"field": "deals.stage", "op": "changed"},
                            {"field": "old.stage", "op": "==", "value": "X"}, {"field": "steps.first.output", "op": "is_empty"}]},
    )  # fmt: skip
    found = issues(data)
    assert set(found) == {"conditions.any[3].field", "steps[0].when.field", "steps[1].when.all[1].not.field"}
    assert found["conditions.any[3].field"] == "unknown name 'steps.first'; 'steps' has nothing here"
    assert found["steps[1].when.all[1].not.field"].endswith("now, deals, deal, steps.first")


def test_notices_see_the_step_attempt_error_and_on_success_its_output() -> None:
    notify = {"on_success": {"title": "{{ output.id }} by {{ step.name }}", "email": ["{{ new.owner.email }}"]},
              "on_retry": {"title": "{{ attempt }}/{{ max_attempts }}: {{ error }} {{ output.id }}"},
              "on_failure": {"body": "{{ step.label }}", "recipient": "{{ steps.first.output.user }}"}}  # fmt: skip
    found = issues(definition(RECORD, task("first", "x"), task("second", "y", notify=notify)))
    assert set(found) == {"steps[1].notify.on_retry.title", "steps[1].notify.on_failure.body"}
    assert found["steps[1].notify.on_retry.title"].startswith("unknown name 'output'; available here: trigger,")
    assert "steps.first, step, attempt, max_attempts, error" in found["steps[1].notify.on_retry.title"]
    assert found["steps[1].notify.on_failure.body"] == (
        "unknown name 'step.label'; available here: step.id, step.name, step.type"
    )


def test_the_default_notice_policy_is_checked_for_each_step_once() -> None:
    settings = {"notify_steps": {"on_failure": {"title": "{{ steps.first.output.id }} {{ nosuch }}"}}}
    found = issues(definition(RECORD, task("first", "x"), task("second", "y"), settings=settings))
    assert list(found) == ["settings.notify_steps.on_failure.title"]
    assert found["settings.notify_steps.on_failure.title"].count("unknown name 'nosuch'") == 1
    assert "unknown name 'steps.first' (this step's own output" in found["settings.notify_steps.on_failure.title"]


# -- the shipped workflows and the validate command --------------------------------------------------


@pytest.mark.parametrize("path", sorted(DEMO.glob("*.yaml")), ids=lambda p: p.stem)
def test_the_demo_workflows_pass(path: Path) -> None:
    assert isinstance(validate_definition(yaml.safe_load(path.read_text())), Workflow)


def test_the_validate_command_reports_names_at_their_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = definition(RECORD, task("call", "Call {{ organisation.nom }}"))
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(data))
    assert main(["validate", str(tmp_path / "bad.yaml")]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'bad.yaml'}: steps[0].config.title: unknown name 'organisation'; available here: " in err


def test_an_email_template_file_is_checked_with_the_names_of_the_step_that_sends_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "templates" / "email"
    folder.mkdir(parents=True)
    (folder / "call.html").write_text("<p>{{ entity.name }} ({{ item }}), {{ organisation.nom }}</p>")
    monkeypatch.setenv("AIRFLOW__AUTOMATION__INCLUDE_DIR", str(tmp_path))
    mail = {"to": "a@b.test", "subject": "s", "template": "call.html"}
    each = {"id": "each", "type": "for_each",
            "config": {"items": [1], "action": {"type": "send_email", "config": mail}}}  # fmt: skip
    found = issues(definition(RECORD, {"id": "mail", "type": "send_email", "config": mail}, each))
    assert found["steps[0].config.template"] == (
        "in include/templates/email/call.html: unknown name 'item'; available here: trigger, entity, new, old, "
        "params, run, workflow, now, deals, deal | in include/templates/email/call.html: unknown name 'organisation'; "
        "available here: trigger, entity, new, old, params, run, workflow, now, deals, deal"
    )
    assert found["steps[1].config.action.config.template"].startswith(
        "in include/templates/email/call.html: unknown name 'organisation'; available here:"
    )
    assert "'item'" not in found["steps[1].config.action.config.template"]  # per item, `item` is there


def test_the_api_s_validate_answers_422_with_the_path_and_the_names_available() -> None:
    """The API's /validate, the pages' forms and the CLI all go through services.workflows.validate and
    the one error mapping (services.errors.outcome)."""
    from automation.services import workflows
    from automation.services.errors import outcome

    data = definition(SCHEDULE, task("report", "Week of {{ run.data_interval_start }} by {{ trigger.new.owner }}"),
                      task("note", "{{ nosuch.x }} after {{ steps.report.output.id }}"))  # fmt: skip
    with pytest.raises(DefinitionError) as caught:
        workflows.validate(data)
    answer = outcome(caught.value)
    assert answer.status == 422
    assert answer.body()["errors"] == [{
        "path": "steps[1].config.title",
        "message": "unknown name 'nosuch'; available here: trigger, params, run, workflow, now, steps.report",
    }]  # fmt: skip


IDENTIFIER = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True)
DOTTED = st.lists(IDENTIFIER, min_size=1, max_size=4).map(".".join)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet="ab \n{}.", max_size=6), DOTTED), min_size=1, max_size=4))
def test_plain_names_read_without_parsing_are_what_the_parser_finds(pieces: list[tuple[str, str]]) -> None:
    text = "".join(f"{data}{{{{ {name} }}}}" for data, name in pieces)
    quick = names_module._simple(text)
    try:
        tree = environment().parse(text)
    except TemplateSyntaxError:
        assert quick is None
        return
    walker = names_module._Walker()
    walker.body(tree.body, frozenset())
    parsed = [(r.parts, r.lineno) for r in walker.found.references]
    if quick is not None:
        assert [(r.parts, r.lineno) for r in quick.references] == parsed
    else:
        assert set("{}") & set("".join(d for d, _ in pieces)) or any(
            set(n.split(".")) & {"true", "false", "none", "and", "or", "not", "in", "is", "if", "else"}
            for _, n in pieces
        )
