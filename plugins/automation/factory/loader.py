"""Load definitions (database or snapshot), build their DAGs, record what could not be built."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import DAG, get_parsing_context

from automation.config import dag_id_for, key_for_dag_id
from automation.definitions.triggers import SCAN_SUFFIX
from automation.errors import DefinitionError, StoreError
from automation.factory import snapshot
from automation.factory.build import build_dag, build_scan_dag
from automation.store.repository import Repository, StoredWorkflow
from automation.validation import validate_definition

log = logging.getLogger(__name__)


def _load(key: str | None) -> tuple[list[StoredWorkflow], str]:
    try:
        stored = Repository().load_buildable(key)
    except StoreError as exc:
        fallback = snapshot.load(key)
        if fallback is None:
            log.error("Definitions database unreachable and no snapshot yet: %s", exc)
            return [], "none"
        log.warning("Definitions database unreachable, building from the last-known-good snapshot: %s", exc)
        return fallback, "snapshot"
    except Exception:  # never fail the DAG file: that would hide every DAG
        log.exception("Could not load workflow definitions")
        fallback = snapshot.load(key)
        return (fallback or []), "snapshot"
    return stored, "db"


def _record_errors(errors: dict[str, tuple[int, list[dict[str, str]]]]) -> None:
    """Write the error table only when the set of errors changed since the last parse."""
    if snapshot.read_json(snapshot.ERRORS_FILE) == {k: [v, i] for k, (v, i) in errors.items()}:
        return
    try:
        Repository().replace_definition_errors(errors)
    except Exception:
        log.exception("Could not record definition errors")
        return
    snapshot.write_json_if_changed(snapshot.ERRORS_FILE, {k: [v, i] for k, (v, i) in errors.items()})


def build_dags() -> dict[str, DAG]:
    """DAGs by dag_id, for the DAG file's globals. Never raises."""
    try:
        target = get_parsing_context().dag_id
        key = key_for_dag_id(target) if target else None
        if target and key is None:
            return {}  # a worker running another file's DAG
        stored, source = _load(key)
        dags: dict[str, Any] = {}
        errors: dict[str, tuple[int, list[dict[str, str]]]] = {}
        for item in stored:
            try:
                workflow = validate_definition(item.with_status(), source=item.key)
                dags[dag_id_for(item.key)] = build_dag(workflow, item.version)
                if workflow.trigger.type == "inactivity":
                    dags[dag_id_for(item.key) + SCAN_SUFFIX] = build_scan_dag(workflow, item.version)
            except DefinitionError as exc:
                errors[item.key] = (item.version, [i.as_dict() for i in exc.issues])
            except Exception as exc:
                log.exception("Workflow %s could not be built", item.key)
                errors[item.key] = (item.version, [{"path": "", "message": f"cannot build DAG: {exc}"}])
        for key_with_error, (_, issues) in sorted(errors.items()):
            log.warning("Skipped workflow %s: %s", key_with_error, issues)
        if source == "db" and key is None:
            snapshot.save(stored)
            _record_errors(errors)
        return dags
    except Exception:
        log.exception("The workflow factory failed; no automation DAGs from this parse")
        return {}
