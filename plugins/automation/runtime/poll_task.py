"""The Airflow task of a `poll` workflow's poll DAG (`automation__<key>__scan`): one poll of the version
pinned for the run (`runtime.poll.poll`), its counts logged and returned.

Invariant: importing this module loads only Airflow and the step operators' module (what a parse builds
the poll DAG with); the poll itself, its definitions, HTTP and store modules are imported when it runs.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from automation.runtime.operators import PinnedRunMixin, task_kwargs


class PollOperator(BaseOperator, PinnedRunMixin):
    """The one task of a poll workflow's poll DAG."""

    template_fields = ()
    ui_color = "#e8f0fe"

    def __init__(self, *, workflow_key: str, workflow_version: int, **kwargs: Any) -> None:
        super().__init__(**task_kwargs(kwargs))
        self.workflow_key = workflow_key
        self.workflow_version = workflow_version

    def execute(self, context: Any) -> dict[str, Any]:
        from automation.runtime.poll import poll

        workflow, _ = self.pinned(context)
        result = poll(workflow)
        self.log.info("GET %s: %s item(s), %s new, %s already seen", result["url"], result["items"], result["new"],
                      result["seen"])  # fmt: skip
        if result["refused"]:
            self.log.warning("%s item(s) left out: %s", result["refused"], "; ".join(result["refusals"]))
        if result["over_limit"]:
            self.log.warning("%s item(s) over max_items wait for a later poll", result["over_limit"])
        return result
