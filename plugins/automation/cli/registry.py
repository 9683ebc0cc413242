"""`automation registry ...` commands (registered by automation.cli.main): draft a collections registry
from a database schema (`discover`), check a registry file (`check`).

Invariant: neither command needs the automation database nor writes anywhere; `discover` reads only the
catalogue of the database the named Airflow connection points at, and prints a registry that loads."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automation.errors import Issue, RegistryError, StoreError
from automation.records.registry import CONN_ID_PATTERN, is_identifier
from automation.services.errors import EXIT_INVALID_INPUT, RequestError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from automation.records.registry import CollectionsRegistry


def _out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text if text.endswith("\n") else text + "\n")


def _discover_input_issues(args: argparse.Namespace) -> list[Issue]:
    issues = []
    if not re.fullmatch(CONN_ID_PATTERN, args.conn):
        issues.append(Issue("--conn", "expected an Airflow connection id (letters, digits and _ - . : / # ! ( ))"))
    if not is_identifier(args.schema):
        issues.append(Issue("--schema", "expected a plain lowercase identifier ([a-z_][a-z0-9_]*, at most 63): "
                                        "the registry can only name such schemas"))  # fmt: skip
    issues += [
        Issue("--table", f"{name!r} is not a plain lowercase identifier")
        for name in args.table or []
        if not is_identifier(name)
    ]
    return issues


def cmd_discover(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import DBAPIError

    from automation.records.discover import discover
    from automation.store.db import describe, engine, error_reason

    issues = _discover_input_issues(args)
    if issues:
        raise RequestError(issues)
    try:
        with engine(args.conn).connect() as conn:
            found = discover(conn, args.conn, args.schema, tables=args.table)
    except DBAPIError as exc:
        where = describe(args.conn)
        raise StoreError(
            f"cannot read the database of connection {args.conn!r} at {where}: {error_reason(exc)}"
        ) from None
    _out(found.to_yaml(per_collection=args.per_collection))
    usable = len(found.usable())
    _err(f"{usable} collection(s) discovered, {len(found.collections) - usable} left out (see the comments)")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from automation.records.registry import read_registry_file, registry_issues, registry_path

    path = Path(args.file) if args.file else registry_path()
    try:
        data = read_registry_file(path)
    except RegistryError as exc:
        _err(str(exc))
        return EXIT_INVALID_INPUT
    registry, issues = registry_issues(data)
    if registry is None:
        for issue in issues:
            _err(f"{path}: {issue}")
        _err(f"{len(issues)} problem(s) in {path}")
        return EXIT_INVALID_INPUT
    connections = ", ".join(sorted(registry.connection_ids())) or registry.connection_id
    if args.database:
        drifts = _drift(registry)
        for issue in drifts:
            _err(f"{path}: {issue}")
        if drifts:
            _err(f"{len(drifts)} difference(s) between {path} and its database(s)")
            return EXIT_INVALID_INPUT
    matches = "; the database(s) match" if args.database else ""
    _out(f"ok {path}: {len(registry.collections)} collection(s) on connection(s) {connections}{matches}")
    return 0


def _drift(registry: CollectionsRegistry) -> list[Issue]:
    from sqlalchemy.exc import DBAPIError

    from automation.records.discover import drift
    from automation.store.db import describe, engine, error_reason

    current = ""

    def connect(conn_id: str) -> Connection:
        nonlocal current
        current = conn_id
        return engine(conn_id).connect()

    try:
        return drift(registry, connect)
    except DBAPIError as exc:
        raise StoreError(f"cannot read the database of connection {current!r} at {describe(current)}: "
                         f"{error_reason(exc)}") from None  # fmt: skip


def register(sub: Any) -> None:
    """Add this group's subcommands to the `automation` parser's subparsers `sub`."""
    group = sub.add_parser("registry", help="the collections registry: draft one from a database, check a file")
    commands = group.add_subparsers(dest="registry_command", required=True)

    p = commands.add_parser(
        "discover",
        help="print a collections registry (YAML) drafted from a database schema, for review",
        description="Reads the schema's tables, columns, primary keys and foreign keys (nothing is written) "
        "and prints a registry; what it cannot express is left out, with a comment saying why.",
    )
    p.add_argument("--conn", required=True, metavar="CONN_ID", help="the Airflow connection of the database")
    p.add_argument("--schema", required=True, metavar="NAME", help="the schema whose tables become collections")
    p.add_argument("--table", action="append", metavar="NAME", help="only this table (repeatable)")
    p.add_argument(
        "--per-collection",
        action="store_true",
        help="write the connection into each collection too (to merge them into a registry on another connection)",
    )
    p.set_defaults(func=cmd_discover)

    p = commands.add_parser("check", help="validate a collections registry file; print each problem with its path")
    p.add_argument(
        "file", nargs="?", metavar="FILE", help="default: the registry in use ([automation] collections_file)"
    )
    p.add_argument(
        "--database",
        action="store_true",
        help="also compare it with its databases: tables, columns, types and primary keys (reads their catalogue)",
    )
    p.set_defaults(func=cmd_check)
