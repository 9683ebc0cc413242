"""The definition version a run executes, pinned when its first task starts."""

from __future__ import annotations

from functools import lru_cache

from automation.definitions import Workflow
from automation.store.repository import Repository
from automation.validation import validate_definition


@lru_cache(maxsize=256)
def workflow_version(key: str, version: int) -> Workflow:
    """Versions are immutable, so a process keeps the ones it has read."""
    return validate_definition(Repository().get_version(key, version), source=f"{key} v{version}")


def pinned_workflow(dag_id: str, run_id: str, key: str, parsed_version: int) -> tuple[Workflow, int]:
    version = Repository().pin_run_version(dag_id, run_id, key, parsed_version)
    return workflow_version(key, version), version
