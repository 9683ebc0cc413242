"""A readable `doc_md` summary of a definition, shown on the DAG page; each step is said by its
action's `describe` (automation.actions.describe_step), as in the catalogue, the pages and the dry run."""

from __future__ import annotations

import json

from automation.actions import describe_step
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
        summary = describe_step({"type": step.type, "config": step.config}, validated=True)
        lines.append(f"{index}. `{step.id}`: {step.type}: {summary}{when}")
    lines += ["", f"Definition version {version}, workflow key `{workflow.key}`."]
    return "\n".join(lines)
