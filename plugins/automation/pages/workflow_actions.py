"""The workflow buttons of the list and detail pages: activate, deactivate, duplicate, delete, and Run
now with a manual trigger's inputs (each a form post), and what the pages need to show them.

Invariant: a button shows only where its route would allow it, for that workflow's own DAG
(`Permissions.of(user, key)`); every change is a form post with the UI's session cookie, a same-origin source and the
page's CSRF token (`auth.check_form_post`), checked against the workflow's own DAG like the API
(edit access to activate or deactivate, create access to duplicate, delete access to delete, the right
to create the DAG's runs to run it); it goes
through the services (the DAG's pause state follows), and answers with a redirect to a page that
says what happened. A delete is asked for on its own page first (a confirmation a keyboard reaches).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from automation.definitions import Status
from automation.definitions.files import NestingError, load_json
from automation.errors import AutomationError, Issue
from automation.pages import auth
from automation.pages.render import Links, render
from automation.services import runs, workflows
from automation.services.errors import form_issues

router = APIRouter(route_class=auth.PageRoute)
#: what a finished action says on the page it leads to (`?done=<name>`)
DONE = {
    "activated": "Activated: its DAG is unpaused and runs on its trigger.",
    "deactivated": "Deactivated: its DAG is paused; its history stays.",
    "duplicated": "Created as a copy (a draft: it gets a DAG when you activate it).",
    "deleted": "Deleted. Its history (and its key) are kept.",
}


@dataclass(frozen=True)
class Permissions:
    """Which buttons a user sees on one workflow (or, without a key, on the list: New workflow), as the
    routes would decide them on that workflow's own DAG, so a per-DAG auth manager hides what it refuses."""

    edit: bool
    create: bool
    delete: bool
    run: bool

    @classmethod
    def of(cls, user: Any, key: str | None = None) -> Permissions:
        return cls(
            edit=auth.allowed(user, "PUT", key),
            create=auth.allowed(user, "POST", key),
            delete=auth.allowed(user, "DELETE", key),
            run=auth.allowed(user, "POST", key, runs=True),  # the run route's check: create the DAG's runs
        )

    @property
    def any(self) -> bool:
        return self.edit or self.create or self.delete or self.run


async def read_form(request: Request, user: Any) -> dict[str, str]:
    """The posted form's fields, once the session, origin and CSRF token are checked."""
    body = (await request.body()).decode(errors="replace")
    fields = {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}
    auth.check_form_post(request, user, fields.get(auth.CSRF_FIELD, ""))
    return fields


def _to(request: Request, *parts: str, done: str) -> RedirectResponse:
    return RedirectResponse(Links(request).page(*parts, done=done), status_code=303)


@router.post("/workflows/{key}/activate", dependencies=[auth.access("PUT")])
async def activate(request: Request, key: str, user: Annotated[Any, auth.user()]) -> Response:
    await read_form(request, user)
    saved = await run_in_threadpool(workflows.set_status, key, Status.ACTIVE)
    saved.sync.raise_failure()
    return _to(request, "workflows", key, done="activated")


@router.post("/workflows/{key}/deactivate", dependencies=[auth.access("PUT")])
async def deactivate(request: Request, key: str, user: Annotated[Any, auth.user()]) -> Response:
    await read_form(request, user)
    saved = await run_in_threadpool(workflows.set_status, key, Status.INACTIVE)
    saved.sync.raise_failure()
    return _to(request, "workflows", key, done="deactivated")


def _delete_page(request: Request, user: Any, key: str) -> Response:
    stored = workflows.get(key)
    return render(request, "delete.html", workflow=stored, csrf_token=auth.csrf_token(user), nav="workflows")


@router.get("/workflows/{key}/delete", dependencies=[auth.access("DELETE")])
async def confirm_delete(request: Request, key: str, user: Annotated[Any, auth.user()]) -> Response:
    return await run_in_threadpool(_delete_page, request, user, key)


@router.post("/workflows/{key}/delete", dependencies=[auth.access("DELETE")])
async def delete(request: Request, key: str, user: Annotated[Any, auth.user()]) -> Response:
    await read_form(request, user)
    await run_in_threadpool(workflows.delete, key)
    return _to(request, "workflows", done="deleted")


def _duplicate_page(request: Request, user: Any, key: str, new_key: str, name: str, error: str | None) -> Response:
    stored = workflows.get(key)
    return render(
        request,
        "duplicate.html",
        workflow=stored,
        new_key=new_key,
        name=name,
        error=error,
        csrf_token=auth.csrf_token(user),
        nav="workflows",
    )


@router.get("/workflows/{key}/duplicate", dependencies=[auth.access("POST")])
async def duplicate_form(request: Request, key: str, user: Annotated[Any, auth.user()]) -> Response:
    return await run_in_threadpool(_duplicate_page, request, user, key, f"{key}-copy"[:63], "", None)


@router.post("/workflows/{key}/duplicate", dependencies=[auth.access("POST")])
async def duplicate(request: Request, key: str, user: Annotated[Any, auth.user()]) -> Response:
    fields = await read_form(request, user)
    new_key, name = fields.get("key", "").strip(), fields.get("name", "").strip()
    try:
        await run_in_threadpool(
            lambda: workflows.duplicate(key, new_key, name=name or None, created_by=f"ui:{user.get_name()}")
        )
    except AutomationError as exc:
        issues = form_issues(exc)
        if issues is None:
            raise
        message = "; ".join(i.message if i.path == "key" else str(i) for i in issues)
        # 200: the form shown again is the answer (a 4xx document is a console error in browsers)
        return await run_in_threadpool(_duplicate_page, request, user, key, new_key, name, message)
    return _to(request, "workflows", new_key, done="duplicated")


# --- Run now, with a manual trigger's inputs ------------------------------------------------------------

MAX_INPUT_CHARS = 10_000  # one input as typed (Airflow's Params check the value itself)


def typed_inputs(declared: dict[str, Any], fields: dict[str, str]) -> tuple[dict[str, Any], list[Issue]]:
    """The form's fields (`input.<name>`) as the values of the trigger's inputs, by each one's type: text
    as is, integer and number parsed, a checkbox for a boolean, JSON for an array or object; an empty
    field is left out (the input's default applies). Each value that does not parse is an issue at
    `inputs.<name>`."""
    values: dict[str, Any] = {}
    issues: list[Issue] = []
    for name, spec in declared.items():
        kind = spec.get("type", "string")
        raw = fields.get(f"input.{name}", "")
        if kind == "boolean":
            values[name] = raw == "on"
            continue
        if raw.strip() == "":
            continue
        if len(raw) > MAX_INPUT_CHARS:
            issues.append(Issue(f"inputs.{name}", f"at most {MAX_INPUT_CHARS} characters"))
            continue
        try:
            if kind == "integer":
                values[name] = int(raw.strip())
            elif kind == "number":
                values[name] = float(raw.strip())
            elif kind in ("array", "object"):
                value = load_json(raw)
                if not isinstance(value, list if kind == "array" else dict):
                    raise ValueError(f"expected a JSON {kind}")
                values[name] = value
            else:
                values[name] = raw
        except (ValueError, NestingError) as exc:
            words = {"integer": "a whole number", "number": "a number"}.get(kind, f"JSON ({exc})")
            issues.append(Issue(f"inputs.{name}", f"expected {words}"))
    return values, issues


def _run_page(request: Request, user: Any, key: str, fields: dict[str, str], errors: dict[str, str]) -> Response:
    stored = workflows.get(key)
    trigger = stored.definition.get("trigger") or {}
    if trigger.get("type") != "manual":
        raise HTTPException(404, "Run now with inputs is for a workflow with a manual trigger")
    blank = {"type": "string", "default": None, "description": None, "enum": None, "required": False, "title": None}
    inputs = {name: {**blank, **spec} for name, spec in (trigger.get("inputs") or {}).items()}
    return render(
        request,
        "run.html",
        workflow=stored,
        inputs=inputs,
        fields=fields,
        errors=errors,
        general={path: message for path, message in errors.items() if path not in inputs},  # not an input's
        csrf_token=auth.csrf_token(user),
        nav="workflows",
    )


def _may_run(user: Any, key: str) -> None:
    if not auth.allowed(user, "POST", key, runs=True):  # the API's run route's check
        raise HTTPException(403, "Not allowed: starting this workflow's runs needs the right to create its DAG's runs")


@router.get("/workflows/{key}/run", dependencies=[auth.access("GET")])
async def run_form(request: Request, key: str, user: Annotated[Any, auth.user()]) -> Response:
    _may_run(user, key)
    return await run_in_threadpool(_run_page, request, user, key, {}, {})


@router.post("/workflows/{key}/run", dependencies=[auth.access("GET")])
async def run_now(request: Request, key: str, user: Annotated[Any, auth.user()]) -> Response:
    _may_run(user, key)
    fields = await read_form(request, user)
    stored = await run_in_threadpool(workflows.get, key)
    declared = (stored.definition.get("trigger") or {}).get("inputs") or {}
    values, issues = typed_inputs(declared, fields)
    if not issues:
        try:
            run_id = await run_in_threadpool(lambda: runs.run_manual(key, values, user=user.get_name()))
        except AutomationError as exc:
            found = form_issues(exc)
            if found is None:
                raise
            issues = found
        else:
            return RedirectResponse(
                Links(request).page("workflows", key, "executions", run_id, done="started"), status_code=303
            )
    errors = {i.path.removeprefix("inputs."): i.message for i in issues}
    # 200: the form shown again is the answer (a 4xx document is a console error in browsers)
    return await run_in_threadpool(_run_page, request, user, key, fields, errors)
