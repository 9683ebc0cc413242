"""Last-known-good definitions on local disk, for parses while the database is unreachable."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automation.config import state_dir

if TYPE_CHECKING:
    from automation.store.repository import StoredWorkflow

SNAPSHOT_FILE = "factory_snapshot.json"
ERRORS_FILE = "factory_errors.json"


def _path(name: str) -> Path:
    return state_dir() / name


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_if_same(path: Path, text: str) -> bool:
    try:
        return path.read_text(encoding="utf-8") == text
    except OSError:
        return False


def write_json_if_changed(name: str, data: Any) -> bool:
    """Write atomically only when the content changed; True when it did."""
    path = _path(name)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    if _read_if_same(path, text):
        return False
    write_text_atomic(path, text)
    return True


def read_json(name: str) -> Any:
    try:
        return json.loads(_path(name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def item_text(workflow: StoredWorkflow) -> str:
    """One workflow as the snapshot stores it (also what `factory.validated` digests)."""
    w = workflow
    item = {"key": w.key, "name": w.name, "status": w.status, "version": w.version, "definition": w.definition}
    return json.dumps(item, sort_keys=True, separators=(",", ":"), default=str)


def save(workflows: list[StoredWorkflow], texts: list[str] | None = None) -> None:
    """Write the snapshot when it changed; `texts`: `item_text` of each workflow, when already made."""
    texts = texts if texts is not None else [item_text(w) for w in workflows]
    text = "[" + ",".join(texts) + "]"  # what json.dumps gives for the list, without serializing twice
    path = _path(SNAPSHOT_FILE)
    if not _read_if_same(path, text):
        write_text_atomic(path, text)


def load(key: str | None = None) -> list[StoredWorkflow] | None:
    """The snapshot (or the one workflow `key` in it); None when there is no readable snapshot."""
    from automation.store.repository import StoredWorkflow

    data = read_json(SNAPSHOT_FILE)
    if not isinstance(data, list):
        return None
    return [StoredWorkflow(**item) for item in data if key is None or item.get("key") == key]
