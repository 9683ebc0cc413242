"""`automation capture enable|disable|status`: change capture on registered collections, each in the
database of its own connection (see automation.capture)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def cmd_enable(args: argparse.Namespace) -> int:
    from automation.capture.install import enable

    for name, conn_id in sorted(enable(args.collections).items()):
        _out(f"capture enabled on {name} (connection {conn_id})")
    return 0


def cmd_disable(args: argparse.Namespace) -> int:
    from automation.capture.install import disable

    done = disable(args.collections)
    for name, conn_id in sorted(done.items()):
        _out(f"capture disabled on {name} (connection {conn_id})")
    if not done:
        _out("capture was not installed on any of them")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from automation.capture.install import status

    found = status()
    if args.json:
        _out(json.dumps([s.as_dict() for s in found], indent=2))
        return 0
    failed = 0
    for item in found:
        last = item.last_event_at.isoformat(timespec="seconds") if item.last_event_at else "never"
        _out(f"connection {item.conn_id}: backlog {item.backlog}, last captured change {last}")
        if item.error:
            _out(f"  error: {item.error}")
            failed += 1
        for name, on in item.installed.items():
            _out(f"  {name:<24} {'installed' if on else 'not installed'}")
    return 2 if failed else 0


def register(sub: Any) -> None:
    """Add this group's subcommands to the `automation` parser's subparsers `sub`."""
    p = sub.add_parser("capture", help="capture row changes of registered collections from their own database")
    group = p.add_subparsers(dest="capture_command", required=True)
    q = group.add_parser("enable", help="install the capture triggers (all registered collections when none named)")
    q.add_argument("collections", nargs="*", metavar="COLLECTION")
    q.set_defaults(func=cmd_enable)
    q = group.add_parser("disable", help="remove the capture triggers (all when none named)")
    q.add_argument("collections", nargs="*", metavar="COLLECTION")
    q.set_defaults(func=cmd_disable)
    q = group.add_parser("status", help="per collection: installed or not; per database: backlog, last change")
    q.add_argument("--json", action="store_true", help="as JSON")
    q.set_defaults(func=cmd_status)
