"""Run one create_record step on `orders_app` (the second database) as a task process would, and die by
SIGKILL at the commit named in argv[1] ("app": before the app database's commit; "automation": after it,
before the automation database's); "none" lets it finish. argv[2] is the try number."""

from __future__ import annotations

import os
import signal
import sys

from sqlalchemy import event

from automation.config import DB_CONN_ID
from automation.store.db import engine

STEP = {"id": "make_order", "type": "create_record",
        "config": {"collection": "orders_app", "values": {"reference": "from-step"}}}  # fmt: skip


def main() -> None:
    where, try_number = sys.argv[1], int(sys.argv[2])
    if where != "none":
        target = engine("capture_app" if where == "app" else DB_CONN_ID)
        event.listen(target, "commit", lambda conn: os.kill(os.getpid(), signal.SIGKILL))
    from automation.actions import RunInfo
    from automation.runtime.context import template_context
    from automation.runtime.executor import execute_step
    from automation.validation import validate_definition
    from tests.helpers import workflow

    definition = validate_definition(workflow("t", trigger={"type": "record_event", "entity": "deals",
                                                            "events": ["updated"]}, steps=[STEP]))  # fmt: skip
    trigger = {"type": "record_event", "entity": "deals", "event": "updated", "id": 1, "new": {}, "old": {}}
    context = template_context(definition, 1, trigger, params={})
    run = RunInfo(dag_id="automation__t", run_id="run-kill", task_id="make_order", try_number=try_number,
                  workflow_key="t", workflow_version=1)  # fmt: skip
    result = execute_step(definition, definition.steps[0], context, run)
    print(result.status)


if __name__ == "__main__":
    main()
