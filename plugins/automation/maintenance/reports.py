"""Daily and weekly reports: the stats of the run's data interval (so a backfill of last week writes
last week's report), stored in automation.reports and emailed to [automation] report_emails."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from automation.mail import plain_message, send
from automation.maintenance.settings import MaintenanceSettings
from automation.store.reports import ReportStore

if TYPE_CHECKING:
    from automation.insights.stats import StatsReport

log = logging.getLogger(__name__)
Kind = Literal["daily", "weekly"]
PERIODS: dict[str, timedelta] = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def report_text(kind: Kind, report: StatsReport) -> str:
    o = report.overall
    lines = [
        f"Automation {kind} report, {report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC",
        "",
        f"Executions: {o.total} (success {o.success}, failed {o.failed}, skipped {o.skipped}, running {o.running})",
        f"Success rate: {_rate(o.success_rate)}; duration p50 {_seconds(o.p50_duration_s)}, "
        f"p95 {_seconds(o.p95_duration_s)}",
        "",
        "Workflows:",
    ]
    for w in sorted(report.workflows, key=lambda w: (-w.failed, -w.total, w.key or "")):
        if w.total:
            lines.append(f"  {w.key}: {w.total} runs, {w.failed} failed, success rate {_rate(w.success_rate)}")
    if not any(w.total for w in report.workflows):
        lines.append("  no executions in this period")
    if o.failing_steps:
        lines += ["", "Steps that fail most:"]
        for step in o.failing_steps[:5]:
            top = step.top_errors[0].message if step.top_errors else ""
            lines.append(f"  {step.key}.{step.step_id}: {step.failures} failures; {top[:200]}")
    return "\n".join(lines) + "\n"


def make_report(
    kind: Kind, since: datetime, until: datetime, settings: MaintenanceSettings | None = None
) -> dict[str, Any]:
    from automation.insights.stats import stats_report  # Airflow's models: only when a report runs

    settings = settings or MaintenanceSettings()
    report = stats_report(since=since, until=until)
    recipients = list(settings.report_recipients)
    if recipients:
        subject = f"Automation {kind} report: {report.overall.total} executions, {report.overall.failed} failed"
        send(plain_message(subject, report_text(kind, report), recipients), recipients)
    report_id = ReportStore().save(kind, since, until, report.model_dump(mode="json"), recipients)
    log.info("%s report %s for %s..%s emailed to %s", kind, report_id, since, until, recipients or "nobody")
    return {"id": report_id, "kind": kind, "since": since.isoformat(), "until": until.isoformat(),
            "executions": report.overall.total, "emailed_to": recipients}  # fmt: skip


def run_report(kind: Kind, **context: Any) -> dict[str, Any]:
    """The report task: the period is the run's data interval; a manual run without a logical date
    has none, and reports the period that ends when it was triggered."""
    since, until = context.get("data_interval_start"), context.get("data_interval_end")
    if since is None or until is None or since == until:
        until = context["dag_run"].run_after
        since = until - PERIODS[kind]
    return make_report(kind, since, until)
