"""Load definitions (database or snapshot), build their DAGs, record what could not be built.

A full parse validates in full, and plans (`factory.plan`), only the definitions whose text has no kept
plan under the current code and registry (`factory.validated`); the others are built from their plans.
A task process (the parsing context names one DAG) builds from its key's kept plan when there is one,
else reads its definition and validates it in full."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, get_parsing_context

from automation.config import key_for_dag_id
from automation.errors import DefinitionError, StoreError
from automation.factory import snapshot, validated
from automation.factory.build import dags_from_plan

if TYPE_CHECKING:
    from automation.store.repository import StoredWorkflow

log = logging.getLogger(__name__)


def _load(key: str | None) -> tuple[list[StoredWorkflow], str]:
    from automation.store.repository import Repository

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
    from automation.store.repository import Repository

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


def _plan(
    item: StoredWorkflow, plans: validated.PlanStore, current: str | None, text_digest: str
) -> tuple[dict[str, Any], str]:
    """(the definition's plan, "kept" | "new" | "not kept"): the kept plan when this exact text passed
    before, else one made from a full validation (`DefinitionError` when the definition is invalid), to
    keep unless it names another package's action."""
    plan = plans.read(item.key, current, text_digest) if current is not None else None
    if plan is not None:
        return plan, "kept"
    from automation.factory.plan import plan_for  # imported by a parse only when a definition changed
    from automation.validation import validate_definition

    data = item.with_status()
    plan = plan_for(validate_definition(data, source=item.key), item.version)
    return plan, "new" if current is not None and validated.builtin_actions_only(data) else "not kept"


def _kept_dags(key: str) -> dict[str, DAG] | None:
    """A task process's DAGs from the plan the last full parse kept for `key` (None: there is none)."""
    current = _fingerprint()
    plan = validated.PlanStore().read(key, current) if current is not None else None
    if plan is None:
        return None
    try:
        return dags_from_plan(plan)
    except Exception:
        log.exception("The kept plan of %s could not be built; reading the definition", key)
        return None


def build_dags() -> dict[str, DAG]:
    """DAGs by dag_id, for the DAG file's globals. Never raises."""
    try:
        target = get_parsing_context().dag_id
        key = key_for_dag_id(target) if target else None
        if target and key is None:
            return {}  # a worker running another file's DAG
        kept = _kept_dags(key) if key is not None else None
        return kept if kept is not None else _build(key)
    except Exception:
        log.exception("The workflow factory failed; no automation DAGs from this parse")
        return {}


def _build(key: str | None) -> dict[str, DAG]:
    stored, source = _load(key)
    texts = [snapshot.item_text(item) for item in stored]
    # a task process gets here only without a usable kept plan (`_kept_dags`), and keeps none itself
    current = _fingerprint() if key is None else None
    plans = validated.PlanStore()
    kept: set[str] = set()
    dags: dict[str, Any] = {}
    errors: dict[str, tuple[int, list[dict[str, str]]]] = {}
    for item, text in zip(stored, texts, strict=True):
        try:
            text_digest = validated.digest(text)
            plan, status = _plan(item, plans, current, text_digest)
            dags.update(dags_from_plan(plan))
            if status != "not kept" and current is not None:
                kept.add(item.key)
                if status == "new":  # only a full parse keeps plans (see factory.validated)
                    plans.write(item.key, current, text_digest, plan)
        except DefinitionError as exc:
            errors[item.key] = (item.version, [i.as_dict() for i in exc.issues])
        except Exception as exc:
            log.exception("Workflow %s could not be built", item.key)
            errors[item.key] = (item.version, [{"path": "", "message": f"cannot build DAG: {exc}"}])
    for key_with_error, (_, issues) in sorted(errors.items()):
        log.warning("Skipped workflow %s: %s", key_with_error, issues)
    if key is None:
        if source == "db":
            snapshot.save(stored, texts)
            _record_errors(errors)
        plans.prune(kept)
    return dags
