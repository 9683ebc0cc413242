"""Step notification policies at run time: the start (execute), success, retry and failure callbacks of a
step's Airflow task send the notices of the step's policy (its own `notify`, else `settings.notify_steps`),
each at most once per attempt (automation.step_notices), to its channels (in-app, email, Apprise, Slack),
with a named template's texts where the notice gives none. A notice never fails its step."""

from __future__ import annotations

import logging
from typing import Any, get_args

from automation.alerts.send import send_alert
from automation.definitions import Step, Workflow
from automation.definitions.notices import DEFAULT_LEVELS, NoticeKind, StepNotice
from automation.errors import TemplateError
from automation.templating import render_value
from automation.templating.notification_templates import KINDS, notification_template

log = logging.getLogger(__name__)


def _step_values(step: Step) -> dict[str, str]:
    return {"id": step.id, "name": step.name or step.id, "type": step.type}


def _default_texts(kind: NoticeKind, values: dict[str, Any]) -> tuple[str, str]:
    step, workflow = values["step"]["name"], values["workflow"]["name"]
    tries = f"attempt {values['attempt']} of {values['max_attempts']}"
    if kind == "start":
        return f"Step {step!r} of {workflow!r} started", f"Run {values['run']['id']}, {tries}."
    if kind == "success":
        return f"Step {step!r} of {workflow!r} succeeded", f"Run {values['run']['id']}, {tries}."
    if kind == "retry":
        return f"Step {step!r} of {workflow!r} failed ({tries}); retrying", f"Error: {values['error']}"
    return f"Step {step!r} of {workflow!r} failed", f"Gave up after {tries}.\nError: {values['error']}"


def render_notice(
    kind: NoticeKind, notice: StepNotice, values: dict[str, Any], *, unknown_output: bool = False
) -> dict[str, Any]:
    """Title, body, recipients, level and channels of a notice, and `texts`: title and body per channel
    kind where a named template gives its own. The notice's own title and body come first, then the
    template's, then the default. Each field renders on its own: one whose template fails falls back to
    the default (no email for failed recipients) and the error is appended to the body, so the notice
    still goes out. `unknown_output` (a dry run of a step it does not perform): a field that fails shows
    its template as written instead."""
    default_title, default_body = _default_texts(kind, values)
    problems: list[str] = []
    template = None
    if notice.template:
        try:
            template = notification_template(notice.template)
        except TemplateError as exc:
            problems.append(str(exc))

    def render(value: Any, name: str, fallback: Any) -> Any:
        if not value:
            return fallback
        try:
            return render_value(value, values, f"notify.on_{kind}.{name}")
        except TemplateError as exc:
            if unknown_output:
                return value
            problems.append(str(exc))
            return fallback

    def texts(template_title: str | None, template_body: str | None) -> tuple[str, str]:
        title = render(notice.title or template_title, "title", default_title)
        body = render(notice.body or template_body, "body", default_body)
        if problems:
            body = f"{body}\n(The notice's template failed: {'; '.join(problems)})"
        return str(title)[:500], str(body)

    email = [str(a) for a in render(notice.email, "email", []) if a]
    recipient = render(notice.recipient, "recipient", None)
    base = (template.title, template.body) if template is not None else (None, None)
    by_kind = {k: template.texts(k) for k in KINDS} if template is not None else {}
    own = {k: texts(*t) for k, t in by_kind.items() if t != base}
    title, body = texts(*base)
    level = notice.level or DEFAULT_LEVELS[kind]
    message = {"title": title, "body": body, "recipients": email, "recipient": recipient, "level": level}
    if notice.channels or own:
        message.update(channels=list(notice.channels), texts=own)
    return message


def planned_notices(
    workflow: Workflow, step: Step, values: dict[str, Any], output: Any, *, performed: bool
) -> dict[str, Any] | None:
    """The dry run's view of a step's notices: a retry as on the first attempt, a failure as on the last,
    a success with the step's output (`performed`: the dry run ran it, as it does record actions)."""
    policy = workflow.notify_policy(step)
    if policy is None:
        return None
    retries = step.retries if step.retries is not None else workflow.settings.retries
    sample = {**values, "step": _step_values(step), "max_attempts": retries + 1, "error": "(the step's error)",
              "output": output}  # fmt: skip
    attempts = {"start": 1, "success": 1, "retry": 1, "failure": retries + 1}
    return {
        f"on_{kind}": render_notice(kind, notice, {**sample, "attempt": attempts[kind]}, unknown_output=not performed)
        for kind in get_args(NoticeKind)
        if (notice := policy.notice(kind)) is not None
    }


def _notice_values(context: Any, kind: NoticeKind, workflow: Workflow, version: int, step: Step) -> dict[str, Any]:
    task, ti = context["task"], context["ti"]
    error = context.get("exception")
    values = task.base_context(context, workflow, version, task.referenced_outputs(context, workflow, step))
    values.update(
        step=_step_values(step),
        attempt=ti.try_number,
        max_attempts=(getattr(ti, "max_tries", None) or 0) + 1,
        error=(str(error) or type(error).__name__) if error is not None else None,
    )
    if kind == "success":
        map_index = getattr(ti, "map_index", -1)
        values["output"] = ti.xcom_pull(task_ids=ti.task_id, map_indexes=None if map_index in (None, -1) else map_index)
    return values


def send_step_notice(context: Any, kind: NoticeKind) -> bool:
    """True when a notice went out; False when the policy has none or it was sent already."""
    task, ti = context["task"], context["ti"]
    workflow, version = task.pinned(context)
    step = workflow.step(task.step_id)
    policy = workflow.notify_policy(step) if step is not None else None
    notice = policy.notice(kind) if policy is not None else None
    if notice is None:
        return False
    message = render_notice(kind, notice, _notice_values(context, kind, workflow, version, step))
    map_index = getattr(ti, "map_index", -1)
    once = {
        "dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id,
        "map_index": -1 if map_index is None else map_index, "kind": kind,
        # one start and one success per step and run (a retry sends on_retry; a clear that returns the
        # recorded output sends nothing), unless the step repeats its effect on a clear
        "attempt": ti.try_number if kind not in ("start", "success") or step.repeat_on_clear else 0,
    }  # fmt: skip
    return send_alert(
        key=workflow.key, dag_id=ti.dag_id, run_id=ti.run_id, notify=notice.notification, once=once, **message
    )
