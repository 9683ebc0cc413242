"""The only code that reads and writes the `automation` schema; no definition larger than
`[automation] max_definition_bytes` is stored, whichever path (API, bundle, CLI) saves it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Numeric,
    Select,
    Text,
    and_,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import BIT
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError, OperationalError

from automation.config import max_definition_bytes
from automation.definitions import Status, Workflow
from automation.errors import ConflictError, DefinitionError, Issue, NotFoundError, StoreError
from automation.store import tables as t
from automation.store.db import UsesDatabase

#: Statuses that get a DAG: ACTIVE runs, INACTIVE is kept (paused) so its history stays visible.
BUILDABLE_STATUSES = (Status.ACTIVE.value, Status.INACTIVE.value)


@dataclass(frozen=True)
class StoredWorkflow:
    key: str
    name: str
    status: str
    version: int
    definition: dict[str, Any]
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def with_status(self) -> dict[str, Any]:
        """The definition as the user sees it: the workflow's live status, not the one saved with it."""
        return {**self.definition, "status": self.status}


@dataclass(frozen=True)
class BuildableItem:
    """A workflow as the factory reads it: `text` is the JSON object of `StoredWorkflow`'s key, name, status,
    version and definition, as Postgres writes a `jsonb` (the same text for the same content), so a parse can
    digest and snapshot a definition without decoding it, and decodes only the ones it must validate."""

    key: str
    version: int
    text: str

    def stored(self) -> StoredWorkflow:
        data = json.loads(self.text)
        return StoredWorkflow(
            key=data["key"], name=data["name"], status=data["status"], version=data["version"],
            definition=data["definition"],
        )  # fmt: skip


@dataclass(frozen=True)
class VersionInfo:
    version: int
    created_at: datetime | None
    created_by: str | None
    comment: str | None


SaveOutcome = Literal["created", "updated", "unchanged"]


def stored_definition(workflow: Workflow, source: str | None = None) -> dict[str, Any]:
    """The definition as stored; `DefinitionError` when it is larger than
    `[automation] max_definition_bytes` as compact JSON (every list, page and export reads it whole,
    so one huge definition would slow them all)."""
    definition = workflow.model_dump(mode="json", by_alias=True, exclude_none=True)
    size = len(json.dumps(definition, separators=(",", ":"), ensure_ascii=False).encode())
    if size > (limit := max_definition_bytes()):
        message = f"the definition is {size} bytes as JSON; at most {limit} are stored: make it smaller or split it"
        raise DefinitionError([Issue("", message)], source)
    return definition


def shard_sql(key: ColumnElement[str], count: int) -> ColumnElement[Any]:
    """`factory.shards.shard_of(key, count)` computed by Postgres: the first 8 bytes of the key's MD5 as an
    unsigned big-endian integer, modulo `count` (tests/store check that both agree)."""
    signed = func.cast(func.cast(literal("x").op("||")(func.substr(func.md5(key), 1, 16)), BIT(64)), BigInteger)
    unsigned = func.mod(func.cast(signed, Numeric) + 2**64, 2**64)
    return func.mod(unsigned, count)


class Repository(UsesDatabase):
    # -- workflows -----------------------------------------------------------------------------

    def _current_select(self) -> Select[Any]:
        return select(
            t.workflows.c.key,
            t.workflows.c.name,
            t.workflows.c.status,
            t.workflows.c.current_version,
            t.workflow_versions.c.definition,
            t.workflows.c.created_at,
            t.workflows.c.updated_at,
        ).join(
            t.workflow_versions,
            and_(
                t.workflow_versions.c.workflow_id == t.workflows.c.id,
                t.workflow_versions.c.version == t.workflows.c.current_version,
            ),
        )

    @staticmethod
    def _row(row: Any) -> StoredWorkflow:
        return StoredWorkflow(
            key=row.key,
            name=row.name,
            status=row.status,
            version=row.current_version,
            definition=row.definition,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    def create(self, workflow: Workflow, *, created_by: str | None = None) -> StoredWorkflow:
        try:
            with self.engine.begin() as conn:
                self._insert(conn, workflow, created_by)
        except IntegrityError as exc:
            raise ConflictError(f"workflow {workflow.key!r} already exists; update it instead") from exc
        return self.get(workflow.key)

    @staticmethod
    def _insert(conn: Connection, workflow: Workflow, created_by: str | None, comment: str | None = None) -> None:
        workflow_id = conn.execute(
            insert(t.workflows)
            .values(
                key=workflow.key,
                name=workflow.name,
                status=workflow.status.value,
                trigger_type=workflow.trigger.type,
                current_version=1,
            )
            .returning(t.workflows.c.id)
        ).scalar_one()
        conn.execute(
            insert(t.workflow_versions).values(
                workflow_id=workflow_id,
                version=1,
                definition=stored_definition(workflow),
                created_by=created_by,
                comment=comment,
            )
        )

    def create_many(self, workflows: list[Workflow], *, created_by: str | None = None) -> None:
        """Create new workflows in ONE transaction of two bulk INSERTs (a bulk load of thousands, e.g. the scale
        benchmark's 20,000); `ConflictError` and nothing saved when a key is taken. Validated definitions only."""
        if not workflows:
            return
        try:
            with self.engine.begin() as conn:
                ids = conn.execute(
                    insert(t.workflows).returning(t.workflows.c.id, sort_by_parameter_order=True),
                    [
                        {"key": w.key, "name": w.name, "status": w.status.value, "trigger_type": w.trigger.type,
                         "current_version": 1}
                        for w in workflows
                    ],
                ).scalars().all()  # fmt: skip
                conn.execute(
                    insert(t.workflow_versions),
                    [
                        {"workflow_id": ident, "version": 1, "definition": stored_definition(w),
                         "created_by": created_by, "comment": None}
                        for ident, w in zip(ids, workflows, strict=True)
                    ],
                )  # fmt: skip
        except IntegrityError as exc:
            raise ConflictError("a workflow key is taken (or given twice); nothing was saved") from exc

    def update(
        self, workflow: Workflow, *, created_by: str | None = None, comment: str | None = None
    ) -> StoredWorkflow:
        """Save a new version (and the definition's status); a definition equal to the current one
        changes nothing, so re-importing the same files creates no versions."""
        with self.engine.begin() as conn:
            self._new_version(conn, workflow, created_by, comment)
        return self.get(workflow.key)

    @staticmethod
    def _new_version(conn: Connection, workflow: Workflow, created_by: str | None, comment: str | None) -> bool:
        """`update` on an open transaction; True when a new version was added."""
        new_definition = stored_definition(workflow)
        row = conn.execute(
            select(t.workflows.c.id, t.workflows.c.current_version, t.workflows.c.status)
            .where(t.workflows.c.key == workflow.key, t.workflows.c.deleted_at.is_(None))
            .with_for_update()
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"workflow {workflow.key!r} does not exist")
        current = conn.execute(
            select(t.workflow_versions.c.definition).where(
                t.workflow_versions.c.workflow_id == row.id,
                t.workflow_versions.c.version == row.current_version,
            )
        ).scalar_one()
        version = row.current_version
        if current != new_definition:
            version += 1
            conn.execute(
                insert(t.workflow_versions).values(
                    workflow_id=row.id,
                    version=version,
                    definition=new_definition,
                    created_by=created_by,
                    comment=comment,
                )
            )
        if current != new_definition or row.status != workflow.status.value:
            conn.execute(
                update(t.workflows)
                .where(t.workflows.c.id == row.id)
                .values(
                    name=workflow.name,
                    status=workflow.status.value,
                    trigger_type=workflow.trigger.type,
                    current_version=version,
                    updated_at=func.now(),
                )
            )
        return current != new_definition

    def save(self, workflow: Workflow, *, created_by: str | None = None) -> tuple[StoredWorkflow, bool]:
        """Create or update; returns the stored workflow and whether it was created."""
        if self.exists(workflow.key):
            return self.update(workflow, created_by=created_by), False
        return self.create(workflow, created_by=created_by), True

    def exists(self, key: str) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    select(t.workflows.c.id).where(t.workflows.c.key == key, t.workflows.c.deleted_at.is_(None))
                ).first()
                is not None
            )

    def get(self, key: str) -> StoredWorkflow:
        with self.engine.connect() as conn:
            row = conn.execute(
                self._current_select().where(t.workflows.c.key == key, t.workflows.c.deleted_at.is_(None))
            ).one_or_none()
        if row is None:
            raise NotFoundError(f"workflow {key!r} does not exist")
        return self._row(row)

    def list_workflows(self, status: str | None = None) -> list[StoredWorkflow]:
        query = self._current_select().where(t.workflows.c.deleted_at.is_(None)).order_by(t.workflows.c.key)
        if status:
            query = query.where(t.workflows.c.status == status)
        with self.engine.connect() as conn:
            return [self._row(r) for r in conn.execute(query)]

    def set_status(self, key: str, status: Status) -> StoredWorkflow:
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(t.workflows)
                .where(t.workflows.c.key == key, t.workflows.c.deleted_at.is_(None))
                .values(status=status.value, updated_at=func.now())
            ).rowcount
        if not changed:
            raise NotFoundError(f"workflow {key!r} does not exist")
        return self.get(key)

    def soft_delete(self, key: str) -> None:
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(t.workflows)
                .where(t.workflows.c.key == key, t.workflows.c.deleted_at.is_(None))
                .values(deleted_at=func.now(), status=Status.INACTIVE.value)
            ).rowcount
        if not changed:
            raise NotFoundError(f"workflow {key!r} does not exist")

    def get_version(self, key: str, version: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            definition = conn.execute(
                select(t.workflow_versions.c.definition)
                .join(t.workflows, t.workflows.c.id == t.workflow_versions.c.workflow_id)
                .where(t.workflows.c.key == key, t.workflow_versions.c.version == version)
            ).scalar_one_or_none()
        if definition is None:
            raise NotFoundError(f"workflow {key!r} has no version {version}")
        return definition

    def list_versions(self, key: str) -> list[VersionInfo]:
        """Every version of a (not deleted) workflow, oldest first."""
        with self.engine.connect() as conn:
            workflow_id = conn.execute(
                select(t.workflows.c.id).where(t.workflows.c.key == key, t.workflows.c.deleted_at.is_(None))
            ).scalar_one_or_none()
            if workflow_id is None:
                raise NotFoundError(f"workflow {key!r} does not exist")
            rows = conn.execute(
                select(
                    t.workflow_versions.c.version,
                    t.workflow_versions.c.created_at,
                    t.workflow_versions.c.created_by,
                    t.workflow_versions.c.comment,
                )
                .where(t.workflow_versions.c.workflow_id == workflow_id)
                .order_by(t.workflow_versions.c.version)
            )
            return [VersionInfo(r.version, r.created_at, r.created_by, r.comment) for r in rows]

    def save_all(
        self, workflows: list[Workflow], *, created_by: str | None = None, comment: str | None = None
    ) -> list[tuple[StoredWorkflow, SaveOutcome]]:
        """Create or update every workflow in ONE transaction: all are saved or none is."""
        outcomes: list[SaveOutcome] = []
        key = ""
        try:
            with self.engine.begin() as conn:
                for workflow in workflows:
                    key = workflow.key
                    exists = conn.execute(
                        select(t.workflows.c.id).where(t.workflows.c.key == key, t.workflows.c.deleted_at.is_(None))
                    ).first()
                    if exists is None:
                        self._insert(conn, workflow, created_by, comment)
                        outcomes.append("created")
                    else:
                        changed = self._new_version(conn, workflow, created_by, comment)
                        outcomes.append("updated" if changed else "unchanged")
        except IntegrityError as exc:
            raise ConflictError(f"workflow {key!r} cannot be created: a deleted workflow holds the key") from exc
        return [(self.get(w.key), outcome) for w, outcome in zip(workflows, outcomes, strict=True)]

    def deleted_keys(self, keys: list[str]) -> set[str]:
        """The keys among `keys` held by deleted workflows (a key is never reused: history stays)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.workflows.c.key).where(t.workflows.c.key.in_(keys), t.workflows.c.deleted_at.is_not(None))
            )
            return {r.key for r in rows}

    # -- the factory's reads (one query each) ---------------------------------------------------

    def load_buildable(self, key: str | None = None) -> list[StoredWorkflow]:
        """Every workflow that gets a DAG (or just `key`), decoded."""
        return [item.stored() for item in self.load_buildable_texts(key)]

    def load_buildable_texts(self, key: str | None = None, shard: tuple[int, int] | None = None) -> list[BuildableItem]:
        """Every workflow that gets a DAG (or just `key`, or those of shard `(index, count)`: see
        `shard_sql`), as Postgres' text of each, in one query. Raises `StoreError` when the database cannot be
        reached, so the factory can fall back to its snapshot."""
        w, v = t.workflows.c, t.workflow_versions.c
        item = func.jsonb_build_object(
            "key", w.key, "name", w.name, "status", w.status, "version", w.current_version, "definition", v.definition
        )
        query = (
            select(w.key, w.current_version, func.cast(item, Text).label("text"))
            .join(t.workflow_versions, and_(v.workflow_id == w.id, v.version == w.current_version))
            .where(w.status.in_(BUILDABLE_STATUSES), w.deleted_at.is_(None))
            .order_by(w.key)
        )
        if key is not None:
            query = query.where(w.key == key)
        if shard is not None and shard[1] > 1:
            query = query.where(shard_sql(w.key, shard[1]) == shard[0])
        try:
            with self.engine.connect() as conn:
                return [BuildableItem(r.key, r.current_version, r.text) for r in conn.execute(query)]
        except OperationalError as exc:
            raise StoreError(f"definitions database unreachable: {exc.orig}") from exc

    # -- factory errors ------------------------------------------------------------------------

    def replace_definition_errors(
        self, errors: dict[str, tuple[int, list[dict[str, str]]]], owned: Callable[[str], bool] | None = None
    ) -> None:
        """Replace the recorded errors with `errors`; with `owned`, only those of the keys it accepts (one
        workflow DAG file's share: shards parsed at the same time own disjoint keys, so never clash)."""
        with self.engine.begin() as conn:
            if owned is None:
                conn.execute(delete(t.definition_errors))
            else:
                recorded = conn.execute(select(t.definition_errors.c.key)).scalars()
                mine = [key for key in recorded if owned(key)]
                if mine:
                    conn.execute(delete(t.definition_errors).where(t.definition_errors.c.key.in_(mine)))
            if errors:
                conn.execute(
                    insert(t.definition_errors),
                    [{"key": k, "version": v, "errors": issues} for k, (v, issues) in sorted(errors.items())],
                )

    def definition_errors(self) -> dict[str, tuple[int, list[dict[str, str]]]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.definition_errors).order_by(t.definition_errors.c.key))
            return {r.key: (r.version, r.errors) for r in rows}

    # -- runs ----------------------------------------------------------------------------------

    def pin_run_version(self, dag_id: str, run_id: str, key: str, version: int) -> int:
        """The version this run executes: the first task to ask pins it, later tasks get the same."""
        with self.engine.begin() as conn:
            conn.execute(
                pg_insert(t.run_versions)
                .values(dag_id=dag_id, run_id=run_id, workflow_key=key, version=version)
                .on_conflict_do_nothing()
            )
            return conn.execute(
                select(t.run_versions.c.version).where(
                    t.run_versions.c.dag_id == dag_id, t.run_versions.c.run_id == run_id
                )
            ).scalar_one()


class EffectStore:
    """Effect records on a given connection, so a record action and its effect commit together."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def recorded(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> tuple[bool, Any]:
        row = self.conn.execute(
            select(t.effects.c.output).where(
                t.effects.c.dag_id == dag_id,
                t.effects.c.run_id == run_id,
                t.effects.c.task_id == task_id,
                t.effects.c.map_index == map_index,
            )
        ).one_or_none()
        return (row is not None), (row.output if row is not None else None)

    def record(
        self, dag_id: str, run_id: str, task_id: str, map_index: int, action: str, output: Any, try_number: int
    ) -> None:
        values = {"action": action, "output": output, "try_number": try_number, "created_at": func.now()}
        self.conn.execute(
            pg_insert(t.effects)
            .values(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index, **values)
            .on_conflict_do_update(index_elements=["dag_id", "run_id", "task_id", "map_index"], set_=values)
        )

    def notify(self, channel: str, **values: Any) -> int:
        """Store a notification and NOTIFY `channel` with it (delivered when the transaction commits)."""
        row = self.conn.execute(insert(t.notifications).values(**values).returning(t.notifications)).mappings().one()
        payload = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
        self.conn.execute(select(func.pg_notify(channel, json.dumps(payload))))
        return row["id"]

    def claim_notice(self, *, dag_id: str, run_id: str, task_id: str, map_index: int, kind: str, attempt: int) -> bool:
        """True the first time a notice is claimed; False when it was already sent."""
        claimed = self.conn.execute(
            pg_insert(t.step_notices)
            .values(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index, kind=kind, attempt=attempt)
            .on_conflict_do_nothing()
            .returning(t.step_notices.c.kind)
        ).first()
        return claimed is not None

    def next_round_robin(self, key: str, size: int) -> int:
        """The next position (0..size-1) of a rotation, atomically."""
        position = self.conn.execute(
            pg_insert(t.round_robin)
            .values(key=key, position=1)
            .on_conflict_do_update(index_elements=["key"], set_={"position": t.round_robin.c.position + 1})
            .returning(t.round_robin.c.position)
        ).scalar_one()
        return (position - 1) % size
