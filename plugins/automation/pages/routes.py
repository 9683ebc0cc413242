"""HTML pages: automation stats, templates catalogue, workflow list and detail.

Reads need DAG read access, creating a workflow from a template DAG create access (Airflow auth,
the UI session's cookie works, so the pages load inside the Airflow UI's iframe).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response

from automation.airflow_adapter.access import readable_keys, runs_readable_by
from automation.definitions import Status
from automation.definitions.diff import definition_diff
from automation.errors import AutomationError
from automation.insights.executions import list_executions
from automation.insights.stats import stats_report
from automation.pages import auth, editor_routes, execution_page, failed_page, workflow_actions
from automation.pages.forms import TemplateForm
from automation.pages.readable import as_yaml, readable
from automation.pages.render import Links, pages_dir, render
from automation.services import templates, workflows
from automation.services.errors import form_issues
from automation.services.templates import WorkflowTemplate

router = APIRouter(prefix="/ui", tags=["pages"], include_in_schema=False, route_class=auth.PageRoute)
STATIC_FILES = {"pages.css": "text/css", "pages.js": "text/javascript", "editor.js": "text/javascript"}
RECENT_EXECUTIONS = 20


@router.get("", dependencies=[auth.access("GET")])
async def home(request: Request) -> Response:
    return RedirectResponse(Links(request).page("stats"), status_code=303)


@router.get("/static/{name}", dependencies=[auth.user()])
async def static(name: str) -> Response:
    if name not in STATIC_FILES:
        raise HTTPException(404, f"no static file {name!r}")
    return FileResponse(pages_dir() / "static" / name, media_type=STATIC_FILES[name])


@router.get("/stats", dependencies=[auth.access("GET")])
async def stats_page(request: Request, user: Annotated[Any, auth.user()]) -> Response:
    keys = await run_in_threadpool(runs_readable_by, user, None)
    report = await run_in_threadpool(lambda: stats_report(keys=keys))
    return render(request, "stats.html", report=report, nav="stats")


@router.get("/templates", dependencies=[auth.access("GET")])
async def templates_page(request: Request) -> Response:
    categories: dict[str, list[WorkflowTemplate]] = {}
    for template in await run_in_threadpool(templates.list_templates):
        categories.setdefault(template.category, []).append(template)
    return render(request, "templates.html", categories=categories, nav="templates")


def _template_page(request: Request, template: WorkflowTemplate, form: TemplateForm, user: Any) -> Response:
    return render(
        request,
        "template_detail.html",
        template=template,
        definition=readable(template.definition),
        definition_yaml=as_yaml(template.definition),
        form=form,
        statuses=[s.value for s in Status],
        csrf_token=auth.csrf_token(user),
        can_create=auth.allowed(user, "POST"),
        nav="templates",
    )


@router.get("/templates/{template_id}", dependencies=[auth.access("GET")])
async def template_page(request: Request, template_id: str, user: Annotated[Any, auth.user()]) -> Response:
    template = await run_in_threadpool(templates.get_template, template_id)
    return _template_page(request, template, TemplateForm.initial(template), user)


@router.post("/templates/{template_id}", dependencies=[auth.access("POST")])
async def create_from_template_page(request: Request, template_id: str, user: Annotated[Any, auth.user()]) -> Response:
    template = await run_in_threadpool(templates.get_template, template_id)
    body = (await request.body()).decode(errors="replace")
    fields = {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}
    auth.check_form_post(request, user, fields.get(auth.CSRF_FIELD, ""))
    form = TemplateForm.from_post(template, fields)
    try:
        if form.errors:  # the parameters are still checked, so every problem shows at once
            await run_in_threadpool(templates.check_parameters, template.id, form.parameter_values())
        else:
            stored = await run_in_threadpool(
                lambda: templates.create_workflow(
                    template.id,
                    form.parameter_values(),
                    key=form.key,
                    name=form.name or None,
                    status=form.status,
                    created_by=f"ui:{user.get_name()}",
                )
            )
            return RedirectResponse(Links(request).page("workflows", stored.key, created=template.id), status_code=303)
    except AutomationError as exc:
        issues = form_issues(exc)
        if issues is None:  # not the form's problem (the database down...): the page's handlers answer
            raise
        form.add_issues(issues)
    # 200, not 422: the form shown again is the answer, and browsers log a 4xx document as a console error
    return _template_page(request, template, form, user)


def _actions_context(user: Any, done: str | None, keys: list[str] | None = None) -> dict[str, Any]:
    """What the workflow buttons need: the user's permissions (without a DAG id for New workflow, and
    per workflow of `keys` on its own DAG), a CSRF token, the last action's note."""
    return {
        "perms": workflow_actions.Permissions.of(user),
        "row_perms": {key: workflow_actions.Permissions.of(user, key) for key in keys or []},
        "csrf_token": auth.csrf_token(user),
        "done": workflow_actions.DONE.get(done or ""),
    }


@router.get("/workflows", dependencies=[auth.access("GET")])
async def workflows_page(request: Request, user: Annotated[Any, auth.user()], done: str | None = None) -> Response:
    rows = await run_in_threadpool(workflows.list_workflows)
    readable = await run_in_threadpool(readable_keys, user, [w.key for w in rows])
    rows = [w for w in rows if w.key in readable]
    errors = {k: v for k, v in (await run_in_threadpool(workflows.definition_errors)).items() if k in readable}
    actions = await run_in_threadpool(_actions_context, user, done, [w.key for w in rows])
    return render(request, "workflows.html", workflows=rows, errors=errors, nav="workflows", **actions)


def _workflow_detail(key: str, old: int | None, new: int | None, user: Any) -> dict[str, Any]:
    stored = workflows.get(key)
    _, versions = workflows.versions(key)
    numbers = [v.version for v in versions]
    new = new if new in numbers else stored.version
    old = old if old in numbers else max((n for n in numbers if n < new), default=new)
    diff = None
    if old != new:
        diff = definition_diff(
            workflows.version_definition(key, old),
            workflows.version_definition(key, new),
            old_label=f"v{old}",
            new_label=f"v{new}",
        )
    total, executions = list_executions(key, limit=RECENT_EXECUTIONS)
    report = stats_report(keys=[key]) if runs_readable_by(user, [key]) else None
    error = workflows.definition_errors().get(key)
    return {
        "workflow": stored,
        "definition": readable(stored.definition),
        "definition_yaml": as_yaml(stored.with_status()),
        "versions": list(reversed(versions)),
        "old": old,
        "new": new,
        "diff_lines": diff.splitlines() if diff else [],
        "executions": executions,
        "executions_total": total,
        "definition_error": {"version": error[0], "issues": error[1]} if error else None,
        # the stats service's numbers for this workflow alone (None: the user may not read its runs)
        "stats": report.workflows[0] if report and report.workflows else None,
        "stats_period": report,
    }


@router.get("/workflows/{key}", dependencies=[auth.access("GET")])
async def workflow_page(
    request: Request,
    key: str,
    user: Annotated[Any, auth.user()],
    old: Annotated[int | None, Query(alias="from", ge=1)] = None,
    new: Annotated[int | None, Query(alias="to", ge=1)] = None,
    created: str | None = None,
    saved: Annotated[int | None, Query(ge=1)] = None,
    done: str | None = None,
) -> Response:
    context = await run_in_threadpool(_workflow_detail, key, old, new, user)
    actions = await run_in_threadpool(_actions_context, user, done, [key])
    actions["perms"] = actions.pop("row_perms")[key]  # this workflow's own DAG decides its buttons
    trigger_type = context["workflow"].definition.get("trigger", {}).get("type")
    return render(
        request,
        "workflow_detail.html",
        created=created,
        saved=saved,
        trigger_type=trigger_type,
        nav="workflows",
        **context,
        **actions,
    )


# the editor's pages and calls (their paths never collide with `/workflows/{key}` above)
router.include_router(editor_routes.router)
router.include_router(workflow_actions.router)
router.include_router(execution_page.router)
router.include_router(failed_page.router)
