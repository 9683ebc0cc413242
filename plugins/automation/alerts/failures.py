"""DAG-level callbacks of every workflow DAG: count failure streaks, alert once at the threshold,
send a recovery message at the next success, and count runs in Airflow's metrics."""

from __future__ import annotations

import logging
from typing import Any

from automation import metrics
from automation.alerts.send import default_recipients, send_alert
from automation.config import key_for_dag_id
from automation.definitions.notices import Level
from automation.store.health import WorkflowHealth

log = logging.getLogger(__name__)


def on_run_finished(context: dict[str, Any], *, failed: bool, alerts: dict[str, Any], name: str) -> None:
    dag_id = context["dag"].dag_id
    run_id = context.get("run_id") or ""
    key = key_for_dag_id(dag_id) or dag_id
    metrics.count(f"automation.runs.{'failed' if failed else 'succeeded'}", workflow=key)
    threshold = int(alerts.get("after_failures", 3))
    transition = WorkflowHealth().record_run(key, run_id, failed=failed, threshold=threshold)
    if transition is None:
        return
    recipients = list(alerts.get("email") or default_recipients())
    if transition == "alert":
        title = f"Workflow {name!r} failed {threshold} times in a row"
        body = f"The last {threshold} runs of workflow {key} failed; the latest is {run_id}."
        reason = context.get("reason")
        if reason:
            body += f"\nReason: {reason}"
        level: Level = "error"
    else:
        title = f"Workflow {name!r} recovered"
        body = f"Run {run_id} of workflow {key} succeeded after failed runs."
        level = "success"
    log.info("%s: %s", key, title)
    send_alert(
        key=key, dag_id=dag_id, run_id=run_id, level=level, title=title, body=body, recipients=recipients,
        notify=bool(alerts.get("notify", True)),
    )  # fmt: skip
