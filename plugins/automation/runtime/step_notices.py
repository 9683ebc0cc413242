"""Step notification policies at run time: the success, retry and failure callbacks of a step's
Airflow task send the notices of the step's policy (its own `notify`, else `settings.notify_steps`),
each at most once per attempt (automation.step_notices). A notice never fails its step."""

from __future__ import annotations

import logging
from typing import Any

from automation.alerts.send import send_alert
from automation.definitions import Step, Workflow
from automation.definitions.notices import DEFAULT_LEVELS, NoticeKind, StepNotice, StepNotifications
from automation.errors import TemplateError
from automation.templating import render_value

log = logging.getLogger(__name__)


def step_policy(workflow: Workflow, step: Step) -> StepNotifications | None:
    return step.notify or workflow.settings.notify_steps


def _default_texts(kind: NoticeKind, values: dict[str, Any]) -> tuple[str, str]:
    step, workflow = values["step"]["name"], values["workflow"]["name"]
    tries = f"attempt {values['attempt']} of {values['max_attempts']}"
    if kind == "success":
        return f"Step {step!r} of {workflow!r} succeeded", f"Run {values['run']['id']}, {tries}."
    if kind == "retry":
        return f"Step {step!r} of {workflow!r} failed ({tries}); retrying", f"Error: {values['error']}"
    return f"Step {step!r} of {workflow!r} failed", f"Gave up after {tries}.\nError: {values['error']}"


def render_notice(kind: NoticeKind, notice: StepNotice, values: dict[str, Any]) -> dict[str, Any]:
    """Title, body, recipients and level of a notice. A template that fails to render falls back to
    the default text with the template error appended: the notice still goes out."""
    title, body = _default_texts(kind, values)
    path = f"notify.on_{kind}"
    email, recipient = notice.email, notice.recipient
    try:
        title = render_value(notice.title, values, f"{path}.title") if notice.title else title
        body = render_value(notice.body, values, f"{path}.body") if notice.body else body
        email = [str(a) for a in render_value(notice.email, values, f"{path}.email") if a]
        recipient = render_value(notice.recipient, values, f"{path}.recipient") if notice.recipient else None
    except TemplateError as exc:
        body = f"{body}\n(The notice's template failed: {exc})"
    level = notice.level or DEFAULT_LEVELS[kind]
    return {"title": str(title)[:500], "body": str(body), "recipients": email, "recipient": recipient, "level": level}


def _notice_values(context: Any, kind: NoticeKind, workflow: Workflow, version: int, step: Step) -> dict[str, Any]:
    task, ti = context["task"], context["ti"]
    error = context.get("exception")
    values = task.base_context(context, workflow, version, task.referenced_outputs(context, workflow, step))
    values.update(
        step={"id": step.id, "name": step.name or step.id, "type": step.type},
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
    policy = step_policy(workflow, step) if step is not None else None
    notice = policy.notice(kind) if policy is not None else None
    if step is None or notice is None:
        return False
    message = render_notice(kind, notice, _notice_values(context, kind, workflow, version, step))
    map_index = getattr(ti, "map_index", -1)
    once = {
        "dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id,
        "map_index": -1 if map_index is None else map_index, "kind": kind,
        # one success per step and run (a clear that returns the recorded output sends nothing),
        # unless the step repeats its effect on a clear
        "attempt": ti.try_number if kind != "success" or step.repeat_on_clear else 0,
    }  # fmt: skip
    return send_alert(
        key=workflow.key, dag_id=ti.dag_id, run_id=ti.run_id, notify=notice.notification, once=once, **message
    )


class StepNoticeCallback:
    """An Airflow task callback (on_success/on_retry/on_failure) for one kind of notice."""

    def __init__(self, kind: NoticeKind) -> None:
        self.kind = kind

    def __call__(self, context: Any) -> None:
        try:
            send_step_notice(context, self.kind)
        except Exception:
            log.exception("Could not send the %s notice of task %s", self.kind, context.get("ti"))

    def __repr__(self) -> str:
        return f"StepNoticeCallback({self.kind!r})"
