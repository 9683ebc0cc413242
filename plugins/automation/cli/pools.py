"""`automation pools ...` commands (registered by automation.cli.main): make and size the Airflow pools of
the collections registry's concurrency limits and of the workflows' `settings.pool` (`sync`).

Invariant: `sync` changes only the pools `services.pools` may change (the product's collection pools, and
missing named ones) and prints each change."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def cmd_sync(args: argparse.Namespace) -> int:
    from automation.services.pools import sync_all

    changes = sync_all(delete_stale=not args.keep_stale)
    for verb, names in (("created", changes.created), ("resized", changes.resized), ("deleted", changes.deleted)):
        for name in names:
            sys.stdout.write(f"{verb} {name}\n")
    sys.stdout.write(
        f"{len(changes.created)} created, {len(changes.resized)} resized, {len(changes.deleted)} deleted, "
        f"{len(changes.unchanged)} unchanged\n"
    )
    return 0


def register(sub: Any) -> None:
    """Add this group's subcommands to the `automation` parser's subparsers `sub`."""
    group = sub.add_parser("pools", help="the Airflow pools of collection concurrency limits and settings.pool")
    commands = group.add_subparsers(dest="pools_command", required=True)
    p = commands.add_parser(
        "sync",
        help="make and size the pools the registry's concurrency limits and the workflows' settings.pool need",
        description="One pool per collection with `concurrency` (sized to it), each pool a workflow names "
        "(made with 128 slots when missing, otherwise left alone); collection pools the registry no longer "
        "lists are deleted. Saves and imports do the same for what they save (nothing deleted).",
    )
    p.add_argument("--keep-stale", action="store_true", help="do not delete collection pools the registry dropped")
    p.set_defaults(func=cmd_sync, database_needs="tables")
