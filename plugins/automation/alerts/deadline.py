"""The callback of a workflow's Airflow DeadlineAlert (settings.alerts.deadline), run by the triggerer."""

from __future__ import annotations

import asyncio
from typing import Any

from automation import metrics
from automation.alerts.send import default_recipients, send_alert


async def deadline_missed(
    *, key: str, name: str, deadline_s: int, recipients: list[str], notify: bool, context: dict[str, Any] | None = None
) -> None:
    run = (context or {}).get("dag_run") or {}
    dag_id = run.get("dag_id") or f"automation__{key}"
    run_id = run.get("dag_run_id") or run.get("run_id")
    metrics.count("automation.runs.deadline_missed", workflow=key)
    await asyncio.to_thread(
        send_alert,
        key=key,
        dag_id=dag_id,
        run_id=run_id,
        level="warning",
        title=f"Workflow {name!r} is running late",
        body=f"Run {run_id} of workflow {key} has not finished {deadline_s} s after it was queued.",
        recipients=recipients or default_recipients(),
        notify=notify,
    )
