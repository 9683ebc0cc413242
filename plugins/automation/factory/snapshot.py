"""Last-known-good definitions on local disk, for parses while the database is unreachable.

Invariant: each workflow DAG file (shard, `factory.shards`) keeps its own snapshot, `factory_snapshot.json` for
shard 0 and `factory_snapshot_<i>.json` for shard i, holding what its last parse from the database built, so
shards parsed at the same time never overwrite each other's. A fallback reads the snapshots of every shard below
the current count, newest file first for a key found in two (the shard count changed since one was written),
so a workflow that moved to another shard is still found while the database is down."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automation.config import state_dir

if TYPE_CHECKING:
    from automation.store.repository import BuildableItem

SNAPSHOT_FILE = "factory_snapshot.json"
ERRORS_FILE = "factory_errors.json"


def shard_file(name: str, shard: int) -> str:
    """The state file `name` of shard `shard` (`factory_snapshot.json` -> `factory_snapshot_3.json`)."""
    if shard == 0:
        return name
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}_{shard}{dot}{suffix}"


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


def save(items: list[BuildableItem], *, shard: int = 0) -> None:
    """Write shard `shard`'s snapshot when it changed: the JSON list of the items' texts, as read."""
    text = "[" + ",".join(item.text for item in items) + "]"
    path = _path(shard_file(SNAPSHOT_FILE, shard))
    if not _read_if_same(path, text):
        write_text_atomic(path, text)


_DECODER = json.JSONDecoder()


def _item_texts(text: str) -> list[tuple[str, Any]] | None:
    """Each element of the JSON list `text` as (its exact text, its value), so an item read back has the text,
    and so the digest, it had when it was saved; None when `text` is not such a list."""
    found: list[tuple[str, Any]] = []
    pos = len(text) - len(text.lstrip())
    if not text.startswith("[", pos):
        return None
    pos += 1
    try:
        while True:
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if text.startswith("]", pos):
                return found
            value, end = _DECODER.raw_decode(text, pos)
            found.append((text[pos:end], value))
            pos = end
    except ValueError:
        return None


def load(
    key: str | None = None, *, shards: int = 1, owned: Callable[[str], bool] | None = None
) -> list[BuildableItem] | None:
    """The workflows in the snapshots of shards 0 .. `shards`-1 (only `key`, or only the keys `owned` accepts,
    when given), by key; None when none of those snapshots is readable."""
    from automation.store.repository import BuildableItem

    found: list[tuple[int, list[tuple[str, Any]]]] = []
    for index in range(shards):
        path = _path(shard_file(SNAPSHOT_FILE, index))
        try:
            written = path.stat().st_mtime_ns
            data = _item_texts(path.read_text(encoding="utf-8"))
        except OSError:
            continue
        if data is not None:
            found.append((written, data))
    if not found:
        return None
    items: dict[str, BuildableItem] = {}
    for _, data in sorted(found, key=lambda entry: entry[0], reverse=True):  # the newest snapshot wins a key
        for text, item in data:
            name = item.get("key") if isinstance(item, dict) else None
            version = item.get("version") if isinstance(item, dict) else None
            if not isinstance(name, str) or not isinstance(version, int) or name in items:
                continue
            if (key is None or name == key) and (owned is None or owned(name)):
                items[name] = BuildableItem(name, version, text)
    return [items[name] for name in sorted(items)]
