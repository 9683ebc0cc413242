"""`automation`: validate, import, export, list and manage workflow definitions."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automation.errors import AutomationError, DefinitionError
from automation.services.errors import EXIT_INVALID_INPUT, cli_line

Command = Callable[[argparse.Namespace], int]
CREATED_BY = "cli"

if TYPE_CHECKING:
    from automation.definitions import Workflow


def _out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text if text.endswith("\n") else text + "\n")


def cmd_schema(args: argparse.Namespace) -> int:
    from automation.validation import json_schema

    _out(json.dumps(json_schema(), indent=2, sort_keys=True))
    return 0


def _documents(paths: list[str]) -> tuple[list[tuple[str, Any]], list[DefinitionError]]:
    from automation.services.bundles import read_paths

    return read_paths(paths)


def _print_definition_error(exc: DefinitionError) -> None:
    if not exc.issues:
        _err(f"{exc.source}")
    for issue in exc.issues:
        _err(f"{exc.source}: {issue}")


def _validated(paths: list[str]) -> tuple[list[Workflow], int]:
    from automation.validation import validate_definition

    documents, errors = _documents(paths)
    workflows: list[Workflow] = []
    for source, data in documents:
        try:
            workflows.append(validate_definition(data, source=source))
        except DefinitionError as exc:
            errors.append(exc)
    for error in errors:
        _print_definition_error(error)
    return workflows, len(errors)


def cmd_validate(args: argparse.Namespace) -> int:
    workflows, failures = _validated(args.files)
    for workflow in workflows:
        _out(f"ok {workflow.key}")
    if failures:
        _err(f"{failures} invalid definition(s)")
        return 1
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from automation.services import bundles

    documents, errors = _documents(args.paths)
    try:
        report = bundles.import_documents(
            documents, activate=args.activate, partial=args.partial, created_by=CREATED_BY, errors=errors
        )
    except bundles.ImportRefused as exc:
        for error in exc.errors:
            _print_definition_error(error)
        _err("nothing imported; fix the errors above (or pass --partial to import the valid ones)")
        return EXIT_INVALID_INPUT
    for error in report.errors:
        _print_definition_error(error)
    for item, sync in report.imported:
        stored = item.workflow
        verb = "created" if item.outcome == "created" else "updated"
        _out(f"{verb} {stored.key} v{stored.version} {stored.status}{sync.note()}")
    return EXIT_INVALID_INPUT if report.errors else 0


def cmd_export(args: argparse.Namespace) -> int:
    from automation.services import bundles

    _out(bundles.dump_document(bundles.export_definitions([args.key] if args.key else None), args.format))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from automation.services import workflows

    if args.errors:
        errors = workflows.definition_errors()
        if not errors:
            _out("no definition errors")
        for key, (version, issues) in errors.items():
            for issue in issues:
                _out(f"{key} v{version}: {issue['path'] or '<root>'}: {issue['message']}")
        return 0
    rows = workflows.list_workflows(status=args.status)
    _out(f"{'KEY':<32} {'STATUS':<9} {'VER':>4}  {'TRIGGER':<13} NAME")
    for row in rows:
        trigger = row.definition.get("trigger", {}).get("type", "?")
        _out(f"{row.key:<32} {row.status:<9} {row.version:>4}  {trigger:<13} {row.name}")
    return 0


def _set_status(args: argparse.Namespace, status: str) -> int:
    from automation.definitions import Status
    from automation.services import workflows

    saved = workflows.set_status(args.key, Status(status))
    _out(f"{saved.workflow.key} {saved.workflow.status}{saved.sync.note()}")
    return 0


def _print_poll(poll: dict[str, Any] | None) -> None:
    """A poll workflow's dry run: the request it would make and which items would be new."""
    if not poll:
        return
    if poll.get("error"):
        _out(f"poll {poll.get('url') or ''}: {poll['error']}")
        return
    sent = f" (cursor {poll['cursor_sent']})" if poll.get("cursor_sent") is not None else ""
    _out(f"poll {poll['url']}{sent}: {poll['items']} item(s), {len(poll['new'])} new, {len(poll['seen'])} seen")
    if poll["new"]:
        _out(f"  new: {', '.join(map(str, poll['new'][:20]))}{' ...' if len(poll['new']) > 20 else ''}")
    if poll.get("refused"):
        _out(f"  left out: {poll['refused']} item(s) without a usable id")


def cmd_dry_run(args: argparse.Namespace) -> int:
    from automation.services import dry_run

    event = dry_run.read_event(args.event) if args.event else {}
    at = dry_run.parse_at(args.at) if args.at else None
    mocks = dict(dry_run.read_mock(spec) for spec in args.mock or [])
    report = dry_run.dry_run(args.key, event, at=at, mocks=mocks, isolated=False, source=args.key)
    if args.json:
        _out(json.dumps(report, indent=2))
        return EXIT_INVALID_INPUT if report.get("error") else 0
    _out(f"{report['workflow']} v{report['version']}: conditions {'met' if report['conditions_met'] else 'NOT met'}")
    for read in report.get("lookups") or []:
        found = json.dumps(read["value"], default=str) if read["found"] else "null (no such record)"
        _out(f"  looked up {read['collection']} {read['id']}: {read['column']} = {found}")
    _print_poll(report.get("poll"))
    if report.get("would_run") is False:
        _out(f"would not run: {report.get('reason') or 'no reason given'}")
    elif report.get("reason"):
        _out(f"would run: {report['reason']}")
    if (report.get("run") or {}).get("logical_date"):
        _out(f"logical date {report['run']['logical_date']}")
    for plan in report["steps"]:
        detail = f"  ({plan['detail']})" if plan.get("detail") else ""
        _out(f"  {plan['step']:<24} {plan['action']:<18} {plan['status']}{detail}")
        if plan["status"] == "would_run" and plan.get("output") is not None:
            _out(f"      -> {json.dumps(plan['output'], default=str)[:300]}")
        for item in plan.get("items") or []:
            item_detail = f"  ({item['detail']})" if item.get("detail") else ""
            _out(f"      [{item['index']}] {item['status']}{item_detail}")
        for kind, notice in (plan.get("notices") or {}).items():
            to = ", ".join(notice["recipients"]) or "no email"
            _out(f"      {kind}: {notice['level']} {notice['title']!r} ({to})")
    if report.get("error"):
        _err(report["error"])
    _out("nothing was changed or sent (record changes rolled back)")
    return EXIT_INVALID_INPUT if report.get("error") else 0


def cmd_emit(args: argparse.Namespace) -> int:
    from automation.events.ingest import emit_now, ingest
    from automation.events.models import EventIn

    try:
        event = EventIn(entity=args.entity, event=args.event, id=args.id, new=json.loads(args.new or "null"),
                        old=json.loads(args.old or "null"), idempotency_key=args.key, actor=args.actor)  # fmt: skip
    except ValueError as exc:
        _err(f"error: {exc}")
        return 2
    (result,) = ingest([event], source="cli")
    if not result.created:
        _out(f"event {result.id} already stored (same key)")
    elif emit_now([result]):
        _out(f"event {result.id} stored and emitted")
    else:
        _out(f"event {result.id} stored; the emitter process emits it (Airflow's database is not reachable here)")
    return 0


def cmd_emitter(args: argparse.Namespace) -> int:
    import logging

    from automation.events.emitter_loop import run_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_forever(poll_seconds=args.poll)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from automation.store.migrate import upgrade

    upgrade()
    _out("automation schema is up to date")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from automation.install import next_steps, write_dag_files

    for written in write_dag_files(Path(args.dags_folder), force=args.force, shards=args.shards):
        _out(f"{written.status} {written.path}")
    _out(next_steps())
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from automation.config import settings_report

    rows = settings_report()
    if args.json:
        _out(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        _out(f"{row['name']} = {row['value']!r}  [{row['source']}]\n    {row['help']}")
    return 0


def cmd_demo_setup(args: argparse.Namespace) -> int:
    from automation.demo import create_demo_crm

    create_demo_crm()
    _out("demo CRM schema `crm` is ready")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="automation", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("schema", help="print the workflow JSON Schema").set_defaults(func=cmd_schema)

    p = sub.add_parser("validate", help="validate YAML/JSON definition files (exit 1 on errors)")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("import", help="store definitions from files or directories (new versions on change)")
    p.add_argument("paths", nargs="+")
    p.add_argument("--activate", action="store_true", help="set every imported workflow ACTIVE")
    p.add_argument("--partial", action="store_true", help="import the valid files even if some are invalid")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="print stored definitions (re-importable)")
    p.add_argument("--key")
    p.add_argument("--format", choices=["yaml", "json"], default="yaml")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("list", help="list workflows, or the definitions the factory skipped (--errors)")
    p.add_argument("--errors", action="store_true")
    p.add_argument("--status", choices=["ACTIVE", "INACTIVE", "DRAFT"])
    p.set_defaults(func=cmd_list)

    for name, status in (("activate", "ACTIVE"), ("deactivate", "INACTIVE")):
        p = sub.add_parser(name, help=f"set a workflow {status} and {'un' if status == 'ACTIVE' else ''}pause its DAG")
        p.add_argument("key")
        p.set_defaults(func=lambda a, s=status: _set_status(a, s))

    p = sub.add_parser("dry-run", help="show what a workflow would do for an event; changes and sends nothing")
    p.add_argument("key")
    p.add_argument("--event", help="JSON file: {id, new, old, ...} for record events, params for manual ones")
    p.add_argument("--at", metavar="TIME", help="the logical date (ISO 8601, UTC when no offset) for schedule "
                   "workflows; default: the latest scheduled time")  # fmt: skip
    p.add_argument("--mock", action="append", metavar="STEP=FILE",
                   help="the output STEP gives, from a JSON or YAML file (repeatable)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_dry_run)

    p = sub.add_parser("emit", help="store a record event in the ledger and emit it")
    p.add_argument("entity")
    p.add_argument("event", help="created, updated, deleted or a custom name")
    p.add_argument("--id", help="the record's id")
    p.add_argument("--new", help="the record after the change, as JSON")
    p.add_argument("--old", help="the record before the change, as JSON")
    p.add_argument("--key", help="idempotency key (a re-sent event with the same key is stored once)")
    p.add_argument("--actor")
    p.set_defaults(func=cmd_emit)

    p = sub.add_parser("emitter", help="run the emitter: outbox inserts and anything left unemitted")
    p.add_argument("--poll", type=float, default=2.0, help="seconds between sweeps when no NOTIFY arrives")
    p.set_defaults(func=cmd_emitter)

    sub.add_parser("migrate", help="create or upgrade the automation schema").set_defaults(func=cmd_migrate)
    p = sub.add_parser("init", help="write the DAG files into an existing Airflow's dags folder; print what is left")
    p.add_argument("--dags-folder", required=True, help="your Airflow's [core] dags_folder")
    p.add_argument("--force", action="store_true", help="replace DAG files of the same name that differ")
    p.add_argument("--shards", type=int, help="workflow DAG files to write (default: [automation] dag_shards)")
    p.set_defaults(func=cmd_init)
    p = sub.add_parser("config", help="list every [automation] setting: value, where it came from, help")
    p.add_argument("--json", action="store_true", help="as JSON (name, value, source, type, default, env, help)")
    p.set_defaults(func=cmd_config)
    sub.add_parser("demo-setup", help="create the demo CRM tables").set_defaults(func=cmd_demo_setup)
    for group in COMMAND_GROUPS:
        import_module(f"automation.cli.{group}").register(sub)
    return parser


#: command groups kept in their own modules: each `automation.cli.<name>` has `register(sub)`, and sets
#: `database_needs` ("tables" or "reachable") in its parsers' defaults when it needs the database
COMMAND_GROUPS = ("capture", "pools", "registry", "run")


#: what each command needs of the automation database before it starts: its tables, or only to reach it
DATABASE_NEEDS = {
    "import": "tables",
    "export": "tables",
    "list": "tables",
    "activate": "tables",
    "deactivate": "tables",
    "dry-run": "tables",
    "emit": "tables",
    # not `emitter`: a service that waits (with backoff) for its database to come up and be migrated
    "migrate": "reachable",
    "demo-setup": "reachable",
}


def main(argv: list[str] | None = None) -> int:
    """Exit 0 on success, 1 when the input had errors, 2 when the command could not work (an
    unreachable or unmigrated database, a missing connection): one line that says what to fix."""
    from sqlalchemy.exc import SQLAlchemyError

    args = build_parser().parse_args(argv)
    try:
        need = DATABASE_NEEDS.get(args.command, getattr(args, "database_needs", None))
        if need is not None:
            from automation.store.db import check_database

            check_database(table="automation.workflows" if need == "tables" else None)
        return args.func(args)
    except AutomationError as exc:  # what each error means: services.errors, as for the API and the pages
        line, code = cli_line(exc)
        _err(line)
        return code
    except SQLAlchemyError as exc:  # the database went away or refused mid-command
        from automation.store.db import error_reason

        _err(f"error: database error: {error_reason(exc)}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
