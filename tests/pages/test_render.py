"""Page rendering: readable definitions, the template form and its errors, escaping, links, CSRF
tokens, and the workflow detail read from the real store."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from starlette.requests import Request

from automation.catalogue.templates import get_template, render_template
from automation.definitions import Workflow
from automation.errors import DefinitionError
from automation.insights.stats import DayCount, StatsReport, WorkflowStats
from automation.pages import auth
from automation.pages.forms import TemplateForm
from automation.pages.readable import readable
from automation.pages.render import Links, render
from automation.pages.routes import _workflow_detail
from automation.pages.workflow_actions import Permissions
from automation.store.repository import Repository
from tests.helpers import workflow


def request(path: str = "/automation/ui/stats", headers: dict[str, str] | None = None) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": "http",
            "server": ("airflow.test", 8080),
            "path": path,
            "root_path": "/automation",
            "query_string": b"",
            "headers": [(b"host", b"airflow.test:8080"), *raw],
        }
    )


def html(response) -> str:
    return response.body.decode()


def test_links_point_into_this_app_and_into_the_airflow_ui() -> None:
    links = Links(request())
    assert links.page("workflows", "a b/c", created="x&y") == "/automation/ui/workflows/a%20b%2Fc?created=x%26y"
    assert links.dag("deal-signed") == "/dags/automation__deal-signed"
    assert links.runs("deal-signed") == "/dags/automation__deal-signed/runs"
    assert links.static("pages.css").startswith("/automation/ui/static/pages.css?v=")


def test_a_definition_reads_as_labelled_fields_a_condition_tree_and_steps() -> None:
    definition = {
        "trigger": {"type": "record_event", "entity": "deals", "events": ["updated"], "fields": ["stage"]},
        "conditions": {
            "all": [
                {"field": "deal.stage", "op": "==", "value": "SIGNED"},
                {"not": {"field": "deal.owner", "op": "is_empty"}},
                {"field": "deal.tags", "op": "in", "value": ["a", "b"]},
            ]
        },
        "steps": [
            {
                "id": "notify",
                "type": "send_notification",
                "config": {"recipient": "ops", "title": "Signed"},
                "retries": 3,
                "when": {"field": "deal.amount", "op": ">", "value": 1000},
            }
        ],
        "settings": {"tags": ["crm"], "expand": [], "alerts": {"after_failures": 2}},
    }
    shown = readable(definition)
    assert shown.trigger_type == "Record event"
    assert [(f.label, f.value) for f in shown.trigger] == [
        ("Entity", "deals"),
        ("Events", "updated"),
        ("Fields", "stage"),
    ]
    tree = shown.conditions
    assert tree.text == "all of"
    assert [c.text for c in tree.children] == ['deal.stage == "SIGNED"', "not", 'deal.tags is one of ["a", "b"]']
    assert tree.children[1].children[0].text == "deal.owner is empty"
    step = shown.steps[0]
    assert step.when.text == "deal.amount > 1000"
    assert step.config_yaml == "recipient: ops\ntitle: Signed"
    assert [(f.label, f.value) for f in step.policy] == [("Retries", "3")]
    settings = {f.label: f for f in shown.settings}
    assert "Expand" not in settings  # empty values are left out
    assert (
        settings["Tags"].value == "crm" and settings["Alerts"].block and settings["Alerts"].value == "after_failures: 2"
    )


def _form_errors_from(template_id: str, fields: dict[str, str]) -> TemplateForm:
    template = get_template(template_id)
    form = TemplateForm.from_post(template, fields)
    try:
        render_template(template_id, form.parameter_values(), key="stand-in")
    except DefinitionError as exc:
        form.add_issues(exc.issues)
    return form


def test_the_template_form_keeps_input_and_shows_catalogue_errors_next_to_fields() -> None:
    form = _form_errors_from(
        "large-deal-alert",
        {
            "key": "Bad Key",
            "parameters.threshold": "-5",
            "parameters.manager_email": "not-an-email",
            "parameters.level": "error",
        },
    )
    assert set(form.errors) == {"key", "parameters.threshold", "parameters.manager_email"}
    assert "at least 0" in form.errors["parameters.threshold"] and "'Bad Key' is not a key" in form.errors["key"]
    page = html(
        render(
            request(),
            "template_detail.html",
            template=form.template,
            definition=readable(form.template.definition),
            definition_yaml="",
            form=form,
            statuses=["ACTIVE", "INACTIVE", "DRAFT"],
            csrf_token="t",
            can_create=True,
            nav="templates",
        )
    )
    threshold = re.search(r'<input id="(f-param-\d+)" name="parameters.threshold"[^>]*>', page)
    assert threshold and 'value="-5"' in threshold.group(0) and 'aria-invalid="true"' in threshold.group(0)
    assert f'id="{threshold.group(1)}-error"' in page and f"{threshold.group(1)}-error" in threshold.group(0)
    assert 'value="not-an-email"' in page and 'value="Bad Key"' in page
    assert '<option value="error" selected>' in page  # a parameter with choices is a select


def test_an_empty_field_lets_the_default_apply_and_booleans_are_checkboxes() -> None:
    template = get_template("large-deal-alert")
    form = TemplateForm.from_post(template, {"key": "k", "parameters.threshold": " ", "parameters.level": "info"})
    assert form.parameter_values() == {"level": "info"}
    assert render_template("large-deal-alert", form.parameter_values(), key="k").conditions is not None
    assert form.errors == {}
    assert TemplateForm.from_post(template, {"key": ""}).errors["key"].startswith("required")


def _stats(name: str) -> StatsReport:
    today = date(2026, 3, 30)
    days = [DayCount(day=today - timedelta(days=29 - i), success=i % 3, failed=int(i % 5 == 0)) for i in range(30)]
    row = WorkflowStats(
        key="wf", dag_id="automation__wf", name=name, status="ACTIVE", total=40, success=30, failed=7, skipped=3,
        running=0, success_rate=30 / 37, p50_duration_s=4.2, p95_duration_s=75, per_day=days,
    )  # fmt: skip
    overall = row.model_copy(update={"key": None, "dag_id": None, "name": None, "status": None})
    now = datetime(2026, 3, 30, 12, tzinfo=UTC)
    return StatsReport(since=now - timedelta(days=30), until=now, overall=overall, workflows=[row], durations_s=[4, 75])


def test_the_stats_page_shows_counters_rows_and_charts_with_user_text_escaped() -> None:
    page = html(render(request(), "stats.html", report=_stats("<script>alert(1)</script>"), nav="stats"))
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    row = page[page.index('<tr data-key="wf">') :]
    assert '<td class="num" data-col="total" data-label="Runs">40</td>' in row
    assert 'data-label="Success rate">81%</td>' in row and 'data-label="p95 duration">1 min 15 s</td>' in row
    assert 'href="/dags/automation__wf"' in row and 'href="/dags/automation__wf/runs"' in row
    assert page.count('<svg class="sparkline"') == 1 and page.count('<svg class="chart"') == 2
    assert 'aria-current="page"' in page.split("</nav>")[0].split(">Stats<")[0][-200:]


def test_csrf_tokens_are_bound_to_the_user_and_expire() -> None:
    admin, viewer = SimpleNamespace(get_id=lambda: "admin"), SimpleNamespace(get_id=lambda: "viewer")
    token = auth.csrf_token(admin, now=1_000_000)
    assert auth.csrf_valid(token, admin, now=1_000_060)
    assert not auth.csrf_valid(token, viewer, now=1_000_060)
    assert not auth.csrf_valid(token, admin, now=1_000_000 + auth.CSRF_MAX_AGE_S + 1)
    assert not auth.csrf_valid(token.replace(".", ".0"), admin, now=1_000_060)
    assert not auth.csrf_valid("", admin) and not auth.csrf_valid("abc", admin)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Origin": "http://airflow.test:8080"}, True),
        ({"Referer": "http://airflow.test:8080/plugin/automation-templates"}, True),
        ({"Origin": "http://evil.test"}, False),
        ({"Origin": "null"}, False),
        ({"Origin": "https://airflow.test:8080"}, False),
        ({}, False),
    ],
)
def test_form_posts_must_come_from_this_origin(headers: dict[str, str], expected: bool) -> None:
    assert auth.same_origin(request(headers=headers)) is expected


@pytest.mark.usefixtures("db", "airflow_db")
def test_workflow_detail_has_versions_their_diff_and_the_factory_error() -> None:
    repository = Repository()
    repository.create(Workflow.model_validate(workflow("detail-wf")), created_by="test")
    repository.update(Workflow.model_validate(workflow("detail-wf", name="Renamed")), created_by="test")
    repository.replace_definition_errors({"detail-wf": (2, [{"path": "steps[0].config", "message": "boom"}])})

    from airflow.api_fastapi.app import init_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    init_auth_manager()
    admin = SimpleAuthManagerUser(username="admin", role="admin")
    context = _workflow_detail("detail-wf", None, None, admin)
    assert (context["old"], context["new"]) == (1, 2)
    assert [v.version for v in context["versions"]] == [2, 1]
    assert "-name: Manual deal" in context["diff_lines"] and "+name: Renamed" in context["diff_lines"]
    assert context["executions"] == [] and context["executions_total"] == 0
    assert context["definition_error"] == {"version": 2, "issues": [{"path": "steps[0].config", "message": "boom"}]}
    assert _workflow_detail("detail-wf", 2, 2, admin)["diff_lines"] == []
    old_new = _workflow_detail("detail-wf", 9, 1, admin)
    assert (old_new["old"], old_new["new"]) == (1, 1)
    assert context["stats"].key == "detail-wf" and context["stats"].total == 0  # this workflow's own numbers

    actions = {"perms": Permissions(edit=True, create=True, delete=True, run=True), "csrf_token": "t", "done": None}
    page = html(
        render(
            request(),
            "workflow_detail.html",
            created="large-deal-alert",
            saved=None,
            trigger_type="manual",
            nav="workflows",
            **context,
            **actions,
        )
    )
    assert 'id="statistics"' in page and "Executions per day by outcome" in page
    assert 'href="/automation/ui/workflows/detail-wf/edit"' in page and 'aria-label="Delete detail-wf"' in page
    assert 'action="/automation/ui/workflows/detail-wf/deactivate"' in page  # ACTIVE: the button deactivates
    read_only = {**actions, "perms": Permissions(edit=False, create=False, delete=False, run=False)}
    viewer_page = html(
        render(request(), "workflow_detail.html", created=None, saved=None, trigger_type="manual", nav="workflows",
               **context, **read_only)
    )  # fmt: skip
    assert "/edit" not in viewer_page and "csrf_token" not in viewer_page and "Run now" not in viewer_page
    assert "The DAG factory skipped version 2" in page and "<code>steps[0].config</code>: boom" in page
    assert '<span class="add">+name: Renamed</span>' in page
    assert 'href="/dags/automation__detail-wf"' in page and "Open the DAG in Airflow" in page
