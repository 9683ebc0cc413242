"""Load definitions (database or snapshot), build their DAGs, record what could not be built.

A full parse (the dag-processor's) of a workflow DAG file builds the workflows of that file's shard only
(`factory.shards`: the file's name gives its shard, `[automation] dag_shards` the count; a file whose shard is
not below the count builds nothing), and keeps that shard's snapshot, errors and plans, never another's. It
validates in full, and plans (`factory.plan`), only the definitions whose text has no kept plan under the
current code and registry (`factory.validated`); the others are built from their plans. A task process (the
parsing context names one DAG) builds only that DAG, whichever file it parses: from its key's kept plan when
there is one, else reading its definition and validating it in full."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, get_parsing_context

from automation.config import dag_shards, key_for_dag_id
from automation.errors import DefinitionError, StoreError
from automation.factory import snapshot, validated
from automation.factory.build import dags_from_plan
from automation.factory.shards import shard_of, shard_of_file

if TYPE_CHECKING:
    from collections.abc import Callable

    from automation.store.repository import BuildableItem

log = logging.getLogger(__name__)


class _Shard:
    """What one parse builds: every workflow (a task process: its one key), or shard `index` of `count`."""

    def __init__(self, index: int, count: int) -> None:
        self.index, self.count = index, count

    def owns(self, key: str) -> bool:
        return shard_of(key, self.count) == self.index

    @property
    def owned(self) -> Callable[[str], bool] | None:
        """The filter to apply, None when this shard holds every workflow (a count of 1)."""
        return self.owns if self.count > 1 else None


def _load(key: str | None, shard: _Shard) -> tuple[list[BuildableItem], str]:
    from automation.store.repository import Repository

    owned = shard.owned if key is None else None
    try:
        stored = Repository().load_buildable_texts(key, (shard.index, shard.count) if key is None else None)
    except StoreError as exc:
        fallback = snapshot.load(key, shards=shard.count, owned=owned)
        if fallback is None:
            log.error("Definitions database unreachable and no snapshot yet: %s", exc)
            return [], "none"
        log.warning("Definitions database unreachable, building from the last-known-good snapshot: %s", exc)
        return fallback, "snapshot"
    except Exception:  # never fail the DAG file: that would hide every DAG
        log.exception("Could not load workflow definitions")
        fallback = snapshot.load(key, shards=shard.count, owned=owned)
        return (fallback or []), "snapshot"
    return stored, "db"


def _record_errors(errors: dict[str, tuple[int, list[dict[str, str]]]], shard: _Shard) -> None:
    """Write the shard's rows of the error table only when its errors changed since its last parse."""
    recorded = snapshot.shard_file(snapshot.ERRORS_FILE, shard.index)
    if snapshot.read_json(recorded) == {k: [v, i] for k, (v, i) in errors.items()}:
        return
    from automation.store.repository import Repository

    try:
        Repository().replace_definition_errors(errors, shard.owned)
    except Exception:
        log.exception("Could not record definition errors")
        return
    snapshot.write_json_if_changed(recorded, {k: [v, i] for k, (v, i) in errors.items()})


def _fingerprint() -> str | None:
    try:
        return validated.fingerprint()
    except Exception:  # only costs a full validation of every definition
        log.exception("Could not fingerprint the validation inputs; validating every definition")
        return None


def _plan(
    item: BuildableItem, plans: validated.PlanStore, current: str | None, text_digest: str
) -> tuple[dict[str, Any], str]:
    """(the definition's plan, "kept" | "new" | "not kept"): the kept plan when this exact text passed
    before, else one made from a full validation (`DefinitionError` when the definition is invalid), to
    keep unless it names another package's action."""
    plan = plans.read(item.key, current, text_digest) if current is not None else None
    if plan is not None:
        return plan, "kept"
    from automation.factory.plan import plan_for  # imported by a parse only when a definition changed
    from automation.validation import validate_definition

    data = item.stored().with_status()
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


def build_dags(dag_file: str | None = None) -> dict[str, DAG]:
    """DAGs by dag_id, for the globals of the workflow DAG file `dag_file` (its `__file__`: the name gives its
    shard; None: shard 0). Never raises."""
    try:
        target = get_parsing_context().dag_id
        key = key_for_dag_id(target) if target else None
        if target and key is None:
            return {}  # a worker running another file's DAG
        shard = _Shard(shard_of_file(dag_file) if dag_file else 0, dag_shards())
        if key is None and shard.index >= shard.count:
            return {}  # a file left over from a larger shard count: its workflows are in the files below
        kept = _kept_dags(key) if key is not None else None
        return kept if kept is not None else _build(key, shard)
    except Exception:
        log.exception("The workflow factory failed; no automation DAGs from this parse")
        return {}


def _build(key: str | None, shard: _Shard) -> dict[str, DAG]:
    stored, source = _load(key, shard)
    # a task process gets here only without a usable kept plan (`_kept_dags`), and keeps none itself
    current = _fingerprint() if key is None else None
    plans = validated.PlanStore()
    kept: set[str] = set()
    dags: dict[str, Any] = {}
    errors: dict[str, tuple[int, list[dict[str, str]]]] = {}
    for item in stored:
        try:
            text_digest = validated.digest(item.text)
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
            snapshot.save(stored, shard=shard.index)
            _record_errors(errors, shard)
        plans.prune(kept, shard.owned)
    return dags
