"""The execution page: the event's values, the steps' timeline, errors, outputs and log links, the
retry and cancel buttons only for who may change runs, and every text escaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from automation.insights.executions import ExecutionDetail, StepRun, StepSkip, StepWait
from automation.pages.charts import step_phrase, step_timeline, wait_words
from automation.pages.execution_page import task_log_path
from automation.pages.readable import as_yaml
from automation.pages.render import render
from tests.pages.test_render import html, request

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _execution(status: str = "failed") -> ExecutionDetail:
    steps = [
        StepRun(task_id="note", step_id="note", state="success", attempts=1, started_at=T0,
                ended_at=T0 + timedelta(seconds=2), duration_s=2, output={"id": 7}),
        StepRun(task_id="call", step_id="call", state="failed", attempts=2, started_at=T0 + timedelta(seconds=3),
                ended_at=T0 + timedelta(seconds=9), duration_s=6, error="<b>refused</b>", error_class="HttpError",
                failed_attempts=[{"try_number": 1, "message": "refused", "error_class": "HttpError"}]),
        StepRun(task_id="later", step_id="later", state=None, attempts=0, started_at=None, ended_at=None,
                duration_s=None),
    ]  # fmt: skip
    return ExecutionDetail(
        key="wf", dag_id="automation__wf", run_id="manual__2026-12-01T09:00:00+00:00", status=status,
        run_type="manual", started_at=T0, ended_at=T0 + timedelta(seconds=9), duration_s=9, version=2,
        event={"id": 42, "new": {"name": "<script>x</script>", "amount": 75000}, "old": {"amount": 10}},
        airflow_url="/dags/automation__wf/runs/r", steps=steps,
    )  # fmt: skip


def _page(execution: ExecutionDetail, can_change: bool, deliveries: list[dict[str, Any]] | None = None) -> str:
    event = execution.event or {}
    return html(
        render(
            request(),
            "execution.html",
            key="wf",
            execution=execution,
            event_new=as_yaml(event.get("new")),
            event_old=as_yaml(event.get("old")),
            event_rest=as_yaml({"id": 42}),
            outputs={s.task_id + str(s.map_index): as_yaml(s.output) for s in execution.steps},
            configs={"call": as_yaml({"url": "https://crm.test/{{ deal.id }}", "note": "<i>x</i>"})},
            log_path=lambda s: task_log_path(execution.dag_id, execution.run_id, s.task_id, s.map_index),
            now=T0 + timedelta(seconds=10),
            step_phrase=lambda s: step_phrase(s, now=T0 + timedelta(seconds=10)),
            wait_words=wait_words,
            deliveries=deliveries or [],
            deliveries_max=100,
            can_change=can_change,
            csrf_token="t",
            skip_note="Skipped from the automation execution page",
            skip_note_max=500,
            done=None,
            nav="workflows",
        )
    )


def test_the_page_shows_the_event_the_steps_and_their_errors_escaped() -> None:
    page = _page(_execution(), can_change=True)
    assert "name: &lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page
    assert "amount: 75000" in page and "amount: 10" in page  # new and old values
    assert "HttpError: &lt;b&gt;refused&lt;/b&gt;" in page and "2 attempts" in page
    assert 'href="/dags/automation__wf/runs/manual__2026-12-01T09%3A00%3A00%2B00%3A00/tasks/call"' in page
    assert "Retry failed steps" in page and "Cancel the run" not in page  # it ended: nothing to cancel
    # a failed step can be skipped (only that one), by a form post to the page's own route, with a note
    assert page.count('class="skip-step"') == 1
    run = "manual__2026-12-01T09%3A00%3A00%2B00%3A00"
    assert f'action="/automation/ui/workflows/wf/executions/{run}/steps/call/skip"' in page
    assert 'aria-label="Skip call and go on"' in page and '<label for="skip-2">Note for skipping call</label>' in page
    assert 'href="/automation/ui/workflows/wf?to=2"' in page  # the pinned version
    # the call step's config as written in version 2 (the others have none here)
    assert page.count("<summary>Config as written (version 2, before its templates are filled in)") == 1
    assert "url: https://crm.test/{{ deal.id }}" in page and "note: &lt;i&gt;x&lt;/i&gt;" in page


def test_retry_and_cancel_are_offered_only_when_they_apply_and_are_allowed() -> None:
    running = _execution("running")
    assert "Cancel the run" in _page(running, can_change=True)
    viewer = _page(running, can_change=False)
    assert "Cancel the run" not in viewer and "Retry failed steps" not in viewer and "csrf_token" not in viewer
    assert "skip-step" not in _page(_execution(), can_change=False)


def test_a_skipped_step_says_who_skipped_it_when_and_why() -> None:
    execution = _execution("success")
    execution.skips = [
        StepSkip(step_id="call", task_id="call", by="ann", at=T0 + timedelta(minutes=5), note="<i>not needed</i>")
    ]
    page = _page(execution, can_change=False)
    assert "Skipped by ann on" in page and "<q>&lt;i&gt;not needed&lt;/i&gt;</q>" in page


def test_the_timeline_has_a_bar_per_started_step_on_one_axis() -> None:
    svg = str(step_timeline(_execution().steps, now=T0 + timedelta(seconds=10)))
    assert svg.count("<rect ") == 2  # `later` has not started: a label, no bar
    assert 'class="c-success" x="150"' in svg  # the first step starts at the axis' origin
    assert "call: failed, ran 6 s, 2 attempts" in svg and ">later</text>" in svg
    # `call` ends at the axis' end: its tries are said before its bar, not over it
    assert '<text class="tick attempts" x="280" text-anchor="end" y="60.3">2 tries</text>' in svg
    assert "over 9 s" in svg


def _waiting_execution() -> ExecutionDetail:
    """A running run: a step queued 2 s before it ran, retried once; a step on a rate-limit wait; an
    approval asked of ann (Airflow's page to answer it)."""
    steps = [
        StepRun(task_id="note", step_id="note", state="success", attempts=2, queued_at=T0, started_at=T0 + timedelta(seconds=2),
                ended_at=T0 + timedelta(seconds=4), duration_s=2),
        StepRun(task_id="slow", step_id="slow", state="deferred", attempts=1, queued_at=None, started_at=T0 + timedelta(seconds=4),
                ended_at=None, duration_s=None,
                waiting=StepWait(kind="deferred", reason="rate_limit", since=T0 + timedelta(seconds=5),
                                 until=T0 + timedelta(minutes=5))),
        StepRun(task_id="ok", step_id="ok", state="deferred", attempts=1, started_at=T0 + timedelta(seconds=5), ended_at=None,
                duration_s=None,
                waiting=StepWait(kind="awaiting_approval", reason="approval", since=T0 + timedelta(seconds=6),
                                 assignees=["ann"], answer_url="/dags/automation__wf/runs/r/tasks/ok/required_actions")),
    ]  # fmt: skip
    return _execution("running").model_copy(update={"steps": steps, "ended_at": None})


def test_the_timeline_draws_queueing_attempts_and_open_waits_with_words_for_each() -> None:
    now = T0 + timedelta(seconds=10)
    svg = str(step_timeline(_waiting_execution().steps, now=now))
    # the axis starts at the first queueing: note's queue is 0..2 s, its run 2..4 s, of 10 s in all
    assert 'class="c-queued" x="150" y="27" width="80.4"' in svg
    assert 'class="c-success" x="230.4"' in svg and ">2 tries</text>" in svg
    # the waits are open bars up to now (the axis' end, 150 + 402), each with its words
    assert svg.count('class="c-waiting"') == 2 and 'class="c-waiting" x="351" y="49" width="201"' in svg
    assert ">rate limit: waits for its turn</text>" in svg and ">awaiting approval</text>" in svg
    assert "<title>note: success, queued 2 s, ran 2 s, 2 attempts</title>" in svg
    assert "slow: deferred, ran 1 s, rate limit: waits for its turn for 5 s until 2026-12-01 09:05:00 UTC" in svg


def test_the_page_says_what_a_step_waits_on_and_who_answers_an_approval_where() -> None:
    page = _page(_waiting_execution(), can_change=True)
    assert "queued 2026-12-01 09:00 UTC" in page
    assert "Rate limit: waits for its turn</strong> since 2026-12-01 09:00 UTC, until 2026-12-01 09:05 UTC." in page
    assert "<strong>Awaiting approval</strong> since 2026-12-01 09:00 UTC. May answer: ann" in page
    assert 'href="/dags/automation__wf/runs/r/tasks/ok/required_actions"' in page
    assert "Answer in Airflow" in page
    # the timeline in words
    assert '<li data-timeline-step="ok">ok: deferred, ran 1 s, awaiting approval for 4 s</li>' in page
    anyone = _waiting_execution()
    anyone.steps[2].waiting.assignees = None  # type: ignore[union-attr]
    assert "May answer: anyone who may change this workflow&#39;s runs" in _page(anyone, can_change=False)


def test_the_notifications_sent_for_the_run_are_listed_with_their_status_and_error() -> None:
    sent = [
        {"id": 5, "channel": "in_app", "recipients": [], "recipient": None, "title": "call failed",
         "status": "sent", "error": None, "created_at": T0},
        {"id": 6, "channel": "email:smtp_ops", "recipients": ["ops@example.com"], "recipient": None,
         "title": "<b>call</b> failed", "status": "failed", "error": "SMTP <refused>", "created_at": T0},
    ]  # fmt: skip
    page = _page(_execution(), can_change=False, deliveries=sent)
    assert '<tr data-delivery="6" data-channel="email:smtp_ops">' in page
    assert "ops@example.com" in page and "everyone" in page  # the in-app one: no recipient, to everyone
    assert "&lt;b&gt;call&lt;/b&gt; failed" in page and "SMTP &lt;refused&gt;" in page
    assert "None for this run." in _page(_execution(), can_change=False)
