"""Workflow operations: validate, create, save with pause sync, activate/deactivate, delete,
duplicate, rollback, versions and their diff, list with filters.

Invariant: a change of status or content that the DAG's pause state must follow goes through
`sync_pause` right after the save (a DRAFT has no DAG to pause; a DAG Airflow does not know yet
takes its `is_paused_upon_creation` from the factory). The sync's result is returned, never
swallowed: the API re-raises a failure (its error mapping answers), the CLI, which may run where
Airflow's database is not configured, prints it as a note.

Every save that changes what a workflow's DAG is (create, edit, status, delete, rollback, import) asks
Airflow to re-parse the DAG file holding it (`request_reparse`, unless `[automation] reparse_on_change` is
off), so the change shows in seconds whatever the parse interval; a request that cannot be made is logged
and never fails the save (the periodic parse still picks the change up). It also makes the Airflow pools the
saved workflows need (`services.pools.sync_quietly`), which never fails the save either.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from automation.config import DAG_ID_PREFIX, dag_id_for, dag_shards, setting
from automation.definitions import Status, Workflow
from automation.definitions.diff import definition_diff
from automation.store.repository import Repository, StoredWorkflow, VersionInfo
from automation.validation import validate_definition

#: The longest comment a saved version keeps (the API's `?comment=`, the editor's save).
VERSION_COMMENT_MAX = 500

SyncState = Literal["draft", "unpaused", "paused", "unknown_dag", "failed"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PauseSync:
    """What the save did to the workflow's DAG in Airflow."""

    state: SyncState
    wanted: Literal["pause", "unpause"] | None = None
    error: Exception | None = None

    def raise_failure(self) -> None:
        """Callers that must not answer success when the DAG kept its old state (the API)."""
        if self.error is not None:
            raise self.error

    def note(self) -> str:
        """A suffix for a one-line report (the CLI's): " (DAG unpaused)", ...; "" when nothing to say."""
        if self.state == "failed" and self.error is not None:
            first = (str(self.error).splitlines() or [type(self.error).__name__])[0]
            return f" (DAG not {self.wanted}d in Airflow: {first})"
        return {"unpaused": " (DAG unpaused)", "paused": " (DAG paused)"}.get(self.state, "")


@dataclass(frozen=True)
class Saved:
    workflow: StoredWorkflow
    sync: PauseSync


def sync_pause(key: str, status: str) -> PauseSync:
    """Pause or unpause the workflow's DAG to match `status` (ACTIVE runs, INACTIVE does not)."""
    if status == Status.DRAFT.value:
        return PauseSync("draft")
    from automation.airflow_adapter.dags import set_dag_paused

    paused = status != Status.ACTIVE.value
    wanted: Literal["pause", "unpause"] = "pause" if paused else "unpause"
    try:
        found = set_dag_paused(dag_id_for(key), paused=paused)
    except Exception as exc:  # Airflow's database unreachable or not configured here
        return PauseSync("failed", wanted, exc)
    if not found:
        return PauseSync("unknown_dag", wanted)
    return PauseSync("paused" if paused else "unpaused", wanted)


def request_reparse(keys: Iterable[str], *, removed: Iterable[str] = ()) -> None:
    """Ask Airflow to re-parse the DAG files holding `keys` (one file per shard), and mark the DAGs of
    `removed` (deleted or drafted: no DAG any more) stale at once; never raises."""
    from automation.factory.shards import shard_file_name, shard_file_names, shard_of

    keys, gone = list(keys), [dag_id_for(key) for key in removed]
    try:
        if not setting("reparse_on_change") or not keys:
            return
        count = dag_shards()
        files = {shard_file_name(shard_of(key, count)) for key in keys}
        from automation.airflow_adapter.reparse import mark_dags_stale
        from automation.airflow_adapter.reparse import request_reparse as request_files
        from automation.config import MAX_DAG_SHARDS
        from automation.install import MAINTENANCE_DAG_FILE

        # the folder of any of this package's DAG files (the maintenance DAGs' for the very first workflow)
        beside = {*shard_file_names(MAX_DAG_SHARDS), MAINTENANCE_DAG_FILE}
        requested = request_files(files, dag_id_prefix=DAG_ID_PREFIX.rstrip("_"), beside=beside)
        log.debug("Requested Airflow to re-parse %s", requested)
        mark_dags_stale(gone)
    except Exception as exc:  # Airflow's database unreachable or not configured here: the periodic parse remains
        log.warning("Could not ask Airflow to re-parse the DAG file(s) of %s: %s", sorted(keys), exc)


def request_reparse_of(saved: Iterable[StoredWorkflow]) -> None:
    """`request_reparse` for saved workflows (a DRAFT's DAG is gone)."""
    items = list(saved)
    from automation.services.pools import sync_quietly

    sync_quietly(item.definition for item in items if item.status != Status.DRAFT.value)
    request_reparse(
        (item.key for item in items), removed=(item.key for item in items if item.status == Status.DRAFT.value)
    )


def _saved(stored: StoredWorkflow) -> Saved:
    request_reparse_of([stored])
    return Saved(stored, sync_pause(stored.key, stored.status))


def validate(definition: Mapping[str, Any], *, source: str | None = None) -> Workflow:
    """The definition as a `Workflow`, or `DefinitionError` listing every problem with its path."""
    return validate_definition(dict(definition), source=source)


def list_workflows(
    *, status: str | None = None, trigger: str | None = None, tag: str | None = None, text: str | None = None
) -> list[StoredWorkflow]:
    """Current workflows, filtered by status, trigger type, tag, and text in the key or name."""
    rows = Repository().list_workflows(status)
    if trigger:
        rows = [r for r in rows if r.definition.get("trigger", {}).get("type") == trigger]
    if tag:
        rows = [r for r in rows if tag in (r.definition.get("settings", {}).get("tags") or [])]
    if text:
        needle = text.lower()
        rows = [r for r in rows if needle in r.key.lower() or needle in r.name.lower()]
    return rows


def definition_errors() -> dict[str, tuple[int, list[dict[str, str]]]]:
    """The stored definitions the factory could not build: key -> (version, issues with paths)."""
    return Repository().definition_errors()


def get(key: str) -> StoredWorkflow:
    return Repository().get(key)


def create(definition: Mapping[str, Any], *, created_by: str) -> StoredWorkflow:
    """A new workflow (version 1); `ConflictError` when the key is taken. Its DAG does not exist yet,
    so there is nothing to sync: the factory creates it paused unless ACTIVE."""
    stored = Repository().create(validate(definition), created_by=created_by)
    request_reparse_of([stored])
    return stored


def update(key: str, definition: Mapping[str, Any], *, created_by: str, comment: str | None = None) -> Saved:
    """A new version (none when the content is unchanged), then the DAG's pause state synced."""
    workflow = validate({**definition, "key": key})
    return _saved(Repository().update(workflow, created_by=created_by, comment=comment))


def set_status(key: str, status: Status) -> Saved:
    """Activate or deactivate (or draft) a workflow, then pause or unpause its DAG."""
    return _saved(Repository().set_status(key, status))


def delete(key: str) -> None:
    """Soft delete: the workflow disappears, its history (and its key) is kept."""
    Repository().soft_delete(key)
    request_reparse([key], removed=[key])


def duplicate(
    key: str, new_key: str, *, name: str | None = None, status: Status = Status.DRAFT, created_by: str
) -> StoredWorkflow:
    """A copy under `new_key` (DRAFT by default, so the copy does not fire too)."""
    source = Repository().get(key)
    copy_name = name or f"{source.name} (copy)"[:200]
    return create({**source.definition, "key": new_key, "name": copy_name, "status": status}, created_by=created_by)


def rollback(key: str, version: int, *, created_by: str) -> Saved:
    """A new version with the content of `version` (the live status is kept). Rolling back to
    content equal to the current version changes nothing."""
    repo = Repository()
    current = repo.get(key)
    old = repo.get_version(key, version)
    workflow = validate({**old, "key": key, "status": current.status})
    return _saved(repo.update(workflow, created_by=created_by, comment=f"rollback to v{version}"))


def versions(key: str) -> tuple[int, list[VersionInfo]]:
    """The current version and every version's metadata (oldest first)."""
    repo = Repository()
    items = repo.list_versions(key)
    return repo.get(key).version, items


def version_definition(key: str, version: int) -> dict[str, Any]:
    return Repository().get_version(key, version)


def diff(key: str, from_version: int, to_version: int | None = None) -> tuple[int, str]:
    """(the version compared to, unified diff of the two definitions as YAML; "" when equal)."""
    repo = Repository()
    to = to_version if to_version is not None else repo.get(key).version
    old, new = repo.get_version(key, from_version), repo.get_version(key, to)
    return to, definition_diff(old, new, old_label=f"{key} v{from_version}", new_label=f"{key} v{to}")


def definition_at(key: str, version: int | None = None, *, source: str | None = None) -> tuple[Workflow, int]:
    """The workflow as it was at `version` (default: the current one, with its live status);
    `source` names it in errors (default "<key> v<version>")."""
    repo = Repository()
    stored = repo.get(key)
    number = version or stored.version
    definition = stored.with_status() if number == stored.version else repo.get_version(key, number)
    return validate({**definition, "key": key}, source=source or f"{key} v{number}"), number
