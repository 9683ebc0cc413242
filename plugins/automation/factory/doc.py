"""A readable `doc_md` summary of a definition, shown on the DAG page."""

from __future__ import annotations

import json

from automation.definitions import Workflow


def _trigger_line(workflow: Workflow) -> str:
    trigger = workflow.trigger.model_dump(exclude_none=True)
    kind = trigger.pop("type")
    details = ", ".join(f"{k}={json.dumps(v, sort_keys=True)}" for k, v in sorted(trigger.items()))
    return f"**Trigger:** `{kind}`" + (f" ({details})" if details else "")


def doc_md(workflow: Workflow, version: int) -> str:
    lines = [f"### {workflow.name}", "", workflow.description or "", "", _trigger_line(workflow)]
    if workflow.conditions is not None:
        conditions = json.dumps(workflow.conditions.model_dump(by_alias=True, exclude_none=True), sort_keys=True)
        lines.append(f"**Conditions:** `{conditions}`")
    lines += ["", "**Steps:**", ""]
    for index, step in enumerate(workflow.steps, start=1):
        when = " (only when its `when` holds)" if step.when else ""
        lines.append(f"{index}. `{step.id}`: {step.type}{when}")
    lines += ["", f"Definition version {version}, workflow key `{workflow.key}`."]
    return "\n".join(lines)
