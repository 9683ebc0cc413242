"""The editor's routes: its pages (new, edit) and the JSON calls its script makes (check, parse,
cron, dry run, diff, create, save).

Invariant: every call is a POST with a JSON body, the UI's session cookie, a same-origin Origin and
the page's CSRF token in `X-CSRF-Token` (`auth.check_form_post`), checked against the workflow's DAG
like the API (read for check/dry run/diff, create for create, edit for save). A draft's problems are
an answer (200 with `errors[]`, each with its path), not an HTTP error, so the browser logs nothing;
a refusal (403), a missing workflow (404) or the database down (503) are the pages' error answers.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from automation.definitions.files import NestingError, load_json
from automation.errors import AutomationError, Issue
from automation.pages import auth, cron, editor
from automation.pages.render import Links, render
from automation.services import dry_run, workflows
from automation.services.errors import form_issues

router = APIRouter(route_class=auth.PageRoute)
CSRF_HEADER = "x-csrf-token"


def _answer(**body: Any) -> JSONResponse:
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _errors(issues: list[Issue]) -> JSONResponse:
    return _answer(ok=False, errors=[i.as_dict() for i in issues])


async def _body(request: Request, user: Any) -> dict[str, Any]:
    """The call's JSON object, once the session, origin and CSRF token are checked."""
    auth.check_form_post(request, user, request.headers.get(CSRF_HEADER, ""))
    try:
        data = load_json(await request.body())
    except (NestingError, ValueError) as exc:
        raise HTTPException(400, f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return data


def _definition(data: dict[str, Any]) -> Any:
    return data.get("definition")


def _comment(data: dict[str, Any]) -> str | None:
    comment = data.get("comment")
    if comment is None or comment == "":
        return None
    if not isinstance(comment, str) or len(comment) > workflows.VERSION_COMMENT_MAX:
        raise HTTPException(400, f"comment: at most {workflows.VERSION_COMMENT_MAX} characters of text")
    return comment.strip() or None


def _editor_page(
    request: Request, user: Any, definition: dict[str, Any], key: str | None, version: int | None
) -> Response:
    links = Links(request)
    webhook_base = f"{request.url.scheme}://{request.url.netloc}{links.root}/webhooks/"
    data = editor.bootstrap(definition, key=key, version=version, webhook_base=webhook_base)
    return render(
        request,
        "editor.html",
        data=data,
        key=key,
        version=version,
        name=definition.get("name") or key or "",
        csrf_token=auth.csrf_token(user),
        nav="workflows",
    )


@router.get("/editor/new", dependencies=[auth.access("POST")])
async def new_workflow_page(request: Request, user: Annotated[Any, auth.user()]) -> Response:
    return _editor_page(request, user, editor.NEW_DEFINITION, None, None)


@router.get("/workflows/{key}/edit", dependencies=[auth.access("PUT")])
async def edit_workflow_page(request: Request, key: str, user: Annotated[Any, auth.user()]) -> Response:
    stored = await run_in_threadpool(workflows.get, key)
    return _editor_page(request, user, stored.with_status(), stored.key, stored.version)


@router.post("/editor/check", dependencies=[auth.access("GET")])
async def check_draft(request: Request, user: Annotated[Any, auth.user()]) -> Response:
    """The draft's problems (each at its path) and its YAML text."""
    definition = _definition(await _body(request, user))
    issues = await run_in_threadpool(editor.check, definition)
    return _answer(ok=not issues, errors=[i.as_dict() for i in issues], text=editor.as_text(definition))


@router.post("/editor/parse", dependencies=[auth.access("GET")])
async def parse_text(request: Request, user: Annotated[Any, auth.user()]) -> Response:
    """The text view's YAML or JSON as a definition (for the form), or where it does not parse."""
    text = (await _body(request, user)).get("text")
    if not isinstance(text, str):
        return _errors([Issue(editor.TEXT_PATH, "expected the definition as YAML or JSON text")])
    definition, issues = editor.from_text(text)
    if issues:
        return _errors(issues)
    return _answer(ok=True, definition=definition)


@router.post("/editor/cron", dependencies=[auth.access("GET")])
async def cron_preview(request: Request, user: Annotated[Any, auth.user()]) -> Response:
    data = await _body(request, user)
    expression, zone = data.get("cron"), data.get("timezone") or "UTC"
    if not isinstance(expression, str) or not isinstance(zone, str):
        return _answer(description="", next=[], error="expected a cron expression and a time zone name")
    found = cron.preview(expression, zone)
    return _answer(description=found.description, next=found.next, error=found.error)


@router.post("/editor/dry-run", dependencies=[auth.access("GET")])
async def dry_run_draft(request: Request, user: Annotated[Any, auth.user()]) -> Response:
    """The draft's dry run for a sample event (`event`) or manual inputs (`params`)."""
    data = await _body(request, user)
    event, params = data.get("event") or {}, data.get("params")
    if params is not None and not isinstance(params, dict):
        return _errors([Issue("params", "expected an object of input name -> value")])
    if params is not None and isinstance(event, dict):
        event = {**event, "params": params}
    asked = data.get("version")
    version = asked if isinstance(asked, int) and asked >= 1 else 1
    try:  # the services' draft dry run: a draft's problems, or a template that fails for this event
        report = await run_in_threadpool(lambda: dry_run.dry_run_definition(_definition(data), event, version=version))
    except AutomationError as exc:
        found = form_issues(exc)
        return _errors(found if found is not None else [Issue("", str(exc))])
    return _answer(ok=True, report=report)


@router.post("/workflows/{key}/editor/diff", dependencies=[auth.access("GET")])
async def diff_draft(request: Request, key: str, user: Annotated[Any, auth.user()]) -> Response:
    """The unified diff from the current version to the draft, as it would be stored."""
    definition = _definition(await _body(request, user))
    issues = await run_in_threadpool(editor.check, {**definition, "key": key} if isinstance(definition, dict) else None)
    if issues:
        return _errors(issues)
    version, diff = await run_in_threadpool(editor.draft_diff, key, definition)
    return _answer(ok=True, version=version, diff=diff)


@router.post("/editor/create", dependencies=[auth.access("POST")])
async def create_workflow(request: Request, user: Annotated[Any, auth.user()]) -> Response:
    """Version 1 of a new workflow; its detail page's address."""
    data = await _body(request, user)
    definition = _definition(data)
    if not isinstance(definition, dict):
        return _errors([Issue("", "expected a workflow definition (an object)")])
    _comment(data)  # checked; version 1's comment is the fixed "created" of the store
    try:
        stored = await run_in_threadpool(lambda: workflows.create(definition, created_by=f"ui:{user.get_name()}"))
    except AutomationError as exc:
        return _errors(editor.issues_of(exc))
    url = Links(request).page("workflows", stored.key, saved=stored.version)
    return _answer(ok=True, key=stored.key, version=stored.version, url=url)


@router.post("/workflows/{key}/editor/save", dependencies=[auth.access("PUT")])
async def save_workflow(request: Request, key: str, user: Annotated[Any, auth.user()]) -> Response:
    """A new version of the workflow (none when nothing changed), with the comment; the DAG's pause
    state follows its status (a failed sync is reported, the version is saved)."""
    data = await _body(request, user)
    definition, comment = _definition(data), _comment(data)
    if not isinstance(definition, dict):
        return _errors([Issue("", "expected a workflow definition (an object)")])
    try:
        saved = await run_in_threadpool(
            lambda: workflows.update(key, definition, created_by=f"ui:{user.get_name()}", comment=comment)
        )
    except AutomationError as exc:
        return _errors(editor.issues_of(exc))
    stored = saved.workflow
    url = Links(request).page("workflows", stored.key, saved=stored.version)
    return _answer(ok=True, key=stored.key, version=stored.version, url=url, note=saved.sync.note().strip(" ()"))
