"""The DAG plans of the definitions that passed full validation, kept so that a parse validates and
models in full only what changed, and a task process builds its DAG without the database.

Full validation (`automation.validation.validate_definition`) checks each step's action config, record
filters, relations and template names against the registry: ten times the cost of building the
workflow model, which itself costs more than building the DAG from its plan (`factory.plan`). The parse
keeps, in the state directory, one file per workflow key (`plans/<key>.json`): the fingerprint of
everything full validation and planning depend on besides the definition, the digest of the definition's
stored text, and its plan.

Invariant: a full parse uses a kept plan only when this exact text (key, name, status, version and
definition, as the snapshot stores it) passed `validate_definition` under the current fingerprint: the
package's code (a definition naming another package's action is never kept), the record registry file,
the email templates folder (send_email's `template`), the Python and pydantic versions and the plan
format. A task process (a parse of one DAG) uses the kept plan of its key under the current fingerprint:
the DAG the last full parse built from the database, which is the one the dag-processor serialized; with
none (another machine, other code) it reads the database and validates in full. Anything unreadable only
means a full validation; a key whose definition did not pass has no plan file.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic

import automation
from automation.config import PACKAGE_DIR, collections_path, email_template_dir, state_dir
from automation.factory import snapshot

PLANS_DIR = "plans"
#: Raised with every change to the plan's layout (automation.factory.plan builds it).
PLAN_FORMAT = 2


def digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def _tree_stats(root: Path, suffix: str = "") -> list[str]:
    """(path, mtime, size) of every file under `root` whose name ends with `suffix`."""
    found: list[str] = []
    stack = [str(root)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir() and entry.name != "__pycache__":
                stack.append(entry.path)
            elif entry.name.endswith(suffix):
                found.append(_file_stat(entry.path))
    return sorted(found)


def _file_stat(path: str | None) -> str:
    if not path:
        return "-"
    try:
        stat = os.stat(path)
    except OSError:
        return f"{path}:missing"
    return f"{path}:{stat.st_mtime_ns}:{stat.st_size}"


def builtin_actions_only(definition: dict[str, Any]) -> bool:
    """Whether every action the definition names (steps, for_each's per-item action) is one of this
    package's, whose code the fingerprint covers; a definition using another package's action is
    validated in full at every parse."""
    from automation.actions import get_action

    steps = definition.get("steps")
    if not isinstance(steps, list):
        return False
    for step in steps:
        names = [step.get("type")] if isinstance(step, dict) else [None]
        inner = (
            step.get("config", {}).get("action")
            if isinstance(step, dict) and isinstance(step.get("config"), dict)
            else None
        )
        if isinstance(inner, dict):
            names.append(inner.get("type"))
        for name in names:
            action = get_action(name) if isinstance(name, str) else None
            modules = (type(action).__module__, getattr(getattr(action, "config_model", None), "__module__", ""))
            if action is None or not all(m.startswith("automation.actions.") for m in modules):
                return False
    return True


def fingerprint() -> str:
    """What full validation and the plan depend on besides the definition itself."""
    parts = [
        sys.version,
        pydantic.VERSION,
        automation.__version__,
        f"plan format {PLAN_FORMAT}",
        _file_stat(str(collections_path())),
        *_tree_stats(PACKAGE_DIR, ".py"),
        *_tree_stats(email_template_dir()),  # send_email's `template` names a file there
    ]
    return digest("\n".join(parts))


class PlanStore:
    """The kept plans of one state directory (looked up once: a parse reads thousands of plan files)."""

    def __init__(self) -> None:
        self.folder = os.path.join(state_dir(), PLANS_DIR)

    def _file(self, key: str) -> str | None:
        """The plan file of `key`; None for a key that is not a plain file name (never kept)."""
        if not key or key.startswith(".") or "/" in key or "\\" in key or "\0" in key:
            return None
        return os.path.join(self.folder, f"{key}.json")

    def read(self, key: str, current: str, text_digest: str | None = None) -> dict[str, Any] | None:
        """The kept plan of `key` under fingerprint `current` (and for definition text `text_digest`,
        when given); None when there is none."""
        path = self._file(key)
        if path is None:
            return None
        try:
            with open(path, "rb") as handle:
                entry = json.loads(handle.read())
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("fingerprint") != current:
            return None
        if text_digest is not None and entry.get("digest") != text_digest:
            return None
        plan = entry.get("plan")
        return plan if isinstance(plan, dict) else None

    def write(self, key: str, current: str, text_digest: str, plan: dict[str, Any]) -> None:
        path = self._file(key)
        if path is not None:
            entry = {"fingerprint": current, "digest": text_digest, "plan": plan}
            snapshot.write_text_atomic(Path(path), json.dumps(entry, sort_keys=True, separators=(",", ":")))

    def prune(self, keep: set[str], owned: Callable[[str], bool] | None = None) -> None:
        """Remove the plan files of keys not in `keep` (deleted workflows, definitions that did not pass);
        with `owned`, only of the keys it accepts (the parsed shard's: `factory.shards`)."""
        try:
            names = os.listdir(self.folder)
        except OSError:
            return
        for name in names:
            key = name[: -len(".json")]
            if name.endswith(".json") and key not in keep and (owned is None or owned(key)):
                Path(self.folder, name).unlink(missing_ok=True)
