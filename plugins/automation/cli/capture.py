"""`automation capture ...` commands (registered by automation.cli.main)."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    """Add this group's subcommands to the `automation` parser's subparsers `sub`."""
    del sub  # the commands are added by the work in progress
