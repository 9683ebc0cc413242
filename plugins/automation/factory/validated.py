"""Which stored definitions passed full validation, so a parse validates in full only what changed.

Full validation (`automation.validation.validate_definition`) checks each step's action config, record
filters, relations and template names against the registry; that costs ten times what building the
workflow model does, and a stored version was validated when it was saved. A parse keeps, in the state
directory, the digest of each definition that passed, under a fingerprint of everything else full
validation depends on.

Invariant: a definition skips the full checks only when this exact text (key, name, status, version and
definition, as the snapshot stores it) passed `validate_definition` under the same fingerprint: the
package's code (a definition naming another package's action is always validated in full), the record
registry file, the email templates folder (send_email's `template`) and the Python and pydantic
versions. Anything else is validated in full, so an invalid definition is reported by every parse and
never reaches the DAG builder; a missing or unreadable file only means a full validation.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any

import pydantic

import automation
from automation.factory import snapshot

VALIDATED_FILE = "factory_validated.json"
_PACKAGE_DIR = Path(automation.__file__).resolve().parent


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
    """What full validation depends on besides the definition itself."""
    from automation.actions.send_email import email_template_dir
    from automation.records.registry import registry_path

    parts = [
        sys.version,
        pydantic.VERSION,
        automation.__version__,
        _file_stat(str(registry_path())),
        *_tree_stats(_PACKAGE_DIR, ".py"),
        *_tree_stats(email_template_dir()),  # send_email's `template` names a file there
    ]
    return digest("\n".join(parts))


def load(current: str) -> dict[str, str]:
    """Digest of each definition (by key) that passed full validation under fingerprint `current`."""
    data = snapshot.read_json(VALIDATED_FILE)
    if not isinstance(data, dict) or data.get("fingerprint") != current or not isinstance(data.get("passed"), dict):
        return {}
    return {str(k): v for k, v in data["passed"].items() if isinstance(v, str)}


def save(current: str, passed: dict[str, str]) -> None:
    snapshot.write_json_if_changed(VALIDATED_FILE, {"fingerprint": current, "passed": passed})
