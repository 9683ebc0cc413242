"""Load definitions (database or snapshot), build their DAGs, record what could not be built.

A full parse validates in full only the definitions whose text did not pass before under the same
code and registry (`factory.validated`); the others are rebuilt as workflow models (pydantic only).
A worker's parse (one DAG) always validates its definition in full."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import DAG, get_parsing_context
from pydantic import ValidationError

from automation.config import dag_id_for, key_for_dag_id
from automation.definitions import Workflow
from automation.definitions.triggers import SCAN_SUFFIX
from automation.errors import DefinitionError, StoreError
from automation.factory import snapshot, validated
from automation.factory.build import build_dag, build_scan_dag
from automation.store.repository import Repository, StoredWorkflow

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


def _fingerprint() -> str | None:
    try:
        return validated.fingerprint()
    except Exception:  # only costs a full validation of every definition
        log.exception("Could not fingerprint the validation inputs; validating every definition")
        return None


def _workflow(item: StoredWorkflow, digest: str | None, known: dict[str, str]) -> Workflow:
    """The definition's model; validated in full (`DefinitionError`) unless this exact text passed before."""
    data = item.with_status()
    if digest is not None and known.get(item.key) == digest and validated.builtin_actions_only(data):
        try:
            return Workflow.model_validate(data)
        except ValidationError:
            pass  # the full validation below reports it
    from automation.validation import validate_definition  # imported by a parse only when a definition changed

    return validate_definition(data, source=item.key)


def build_dags() -> dict[str, DAG]:
    """DAGs by dag_id, for the DAG file's globals. Never raises."""
    try:
        target = get_parsing_context().dag_id
        key = key_for_dag_id(target) if target else None
        if target and key is None:
            return {}  # a worker running another file's DAG
        stored, source = _load(key)
        texts = [snapshot.item_text(item) for item in stored] if key is None else None
        current = _fingerprint() if texts is not None else None
        known = validated.load(current) if current is not None else {}
        passed: dict[str, str] = {}
        dags: dict[str, Any] = {}
        errors: dict[str, tuple[int, list[dict[str, str]]]] = {}
        for index, item in enumerate(stored):
            try:
                digest = validated.digest(texts[index]) if texts is not None else None
                workflow = _workflow(item, digest, known)
                if digest is not None:
                    passed[item.key] = digest
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
            snapshot.save(stored, texts)
            _record_errors(errors)
        if current is not None and passed != known:
            validated.save(current, passed)
        return dags
    except Exception:
        log.exception("The workflow factory failed; no automation DAGs from this parse")
        return {}
