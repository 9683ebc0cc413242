"""An Airflow listener that imports the workflow runtime when a long-lived Airflow process starts.

Airflow forks its workers from long-lived processes: LocalExecutor's workers from the scheduler and each
task process from a worker, the parsing processes from the dag-processor. What such a process imported
before it forked is free in every child, which is why Airflow pre-imports its own modules there. This
listener's `on_starting` (called when a scheduler, dag-processor or triggerer job starts, before the
executor forks its workers) does the same for the modules a workflow task and a parse import, so a task
process does not pay for them per task.

Relies on: the listener hook `on_starting(component)` (`airflow.listeners.hookimpl`), called by every
Airflow `Job` when it is made (scheduler, dag-processor, triggerer) and by the task runner with a
`TaskRunnerMarker`; the component's class name is the only thing read of it.

Invariant: importing this module imports nothing of the runtime (it is loaded with the plugin in every
Airflow process, task processes included); `on_starting` imports only in a job process, only when the
`preload_runtime` setting is on, and never raises.
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import Any

from airflow.listeners import hookimpl

log = logging.getLogger(__name__)

#: What a step or gate task and a parse import beyond Airflow (their imports pull in the rest).
RUNTIME_MODULES = (
    "automation.runtime.executor",
    "automation.runtime.versions",
    "automation.runtime.context",
    "automation.runtime.event_gate",
    "automation.runtime.expand",
    "automation.factory.plan",
    "automation.validation",
)


def preload(component: Any) -> list[str]:
    """The runtime modules imported for `component` (none for a task process: it imports what its task
    runs, and its parent already did this)."""
    from automation.config import setting

    if type(component).__name__ == "TaskRunnerMarker" or not setting("preload_runtime"):
        return []
    done = []
    for name in RUNTIME_MODULES:
        try:
            import_module(name)
            done.append(name)
        except Exception:  # a task importing it later reports the same error where it belongs
            log.exception("Could not preload %s", name)
    return done


@hookimpl
def on_starting(component: Any) -> None:
    try:
        preload(component)
    except Exception:
        log.exception("Could not preload the workflow runtime")
