"""`automation run KEY --entity-id 42`: start a run of a record-event workflow for one record, as the
API's `POST /workflows/{key}/run` does (automation.services.runs); Airflow's metadata database must be
reachable from here (AIRFLOW_HOME, or the connection airflow_metadata_db)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from automation.errors import Issue


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _json_option(text: str | None, path: str) -> Any:
    from automation.services.errors import RequestError

    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise RequestError([Issue(path, f"not JSON: {exc}")]) from None


def cmd_run(args: argparse.Namespace) -> int:
    from automation.services import runs

    fields = {"entity_id": args.entity_id, "entity": args.entity, "event": args.event, "actor": args.actor,
              "new": _json_option(args.new, "new"), "old": _json_option(args.old, "old")}  # fmt: skip
    request = runs.record_request({k: v for k, v in fields.items() if v is not None})
    started = runs.run_for_record(args.key, request, run_id=args.run_id, user=getpass.getuser(), via="cli")
    _out(f"started {started.dag_id} run {started.run_id} for {started.entity} {started.entity_id} ({started.event})")
    return 0


def register(sub: Any) -> None:
    """Add `run` to the `automation` parser's subparsers `sub`."""
    p = sub.add_parser("run", help="start a run of a record-event workflow for one record (a manual run)")
    p.add_argument("key")
    p.add_argument("--entity-id", required=True, help="the record's id (loaded through the registry)")
    p.add_argument("--entity", help="the record's collection, for a workflow on several (default: the first)")
    p.add_argument("--event", help='the event the run is for (default: "updated" when subscribed, else the first)')
    p.add_argument("--new", help="a full event: the record after the change, as JSON (then it is not loaded)")
    p.add_argument("--old", help="a full event: the record before the change, as JSON")
    p.add_argument("--actor", help="who asks (default: your user name)")
    p.add_argument("--run-id", help="the Airflow run id (default: Airflow's manual__<time>)")
    p.set_defaults(func=cmd_run, database_needs="tables")
