"""Tables of the `automation` schema. Only `repository` (and migrations) use them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

SCHEMA = "automation"
metadata = MetaData(schema=SCHEMA)

workflows = Table(
    "workflows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(63), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("trigger_type", String(32), nullable=False),
    Column("current_version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("deleted_at", DateTime(timezone=True)),
)

workflow_versions = Table(
    "workflow_versions",
    metadata,
    Column("workflow_id", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("definition", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("created_by", String(200)),
    Column("comment", Text),
    PrimaryKeyConstraint("workflow_id", "version"),
    ForeignKeyConstraint(["workflow_id"], [f"{SCHEMA}.workflows.id"], ondelete="CASCADE"),
)

#: Definitions the factory could not build, with why; replaced as a whole on each full parse.
definition_errors = Table(
    "definition_errors",
    metadata,
    Column("key", String(63), primary_key=True),
    Column("version", Integer),
    Column("errors", JSONB, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

#: The definition version each Airflow run executes, pinned by its first task.
run_versions = Table(
    "run_versions",
    metadata,
    Column("dag_id", String(250), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("workflow_key", String(63), nullable=False),
    Column("version", Integer, nullable=False),
    Column("pinned_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("dag_id", "run_id"),
)

#: What a step delivered, keyed by where it ran: a retry or a clear returns it instead of redoing it.
effects = Table(
    "effects",
    metadata,
    Column("dag_id", String(250), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("task_id", String(250), nullable=False),
    Column("map_index", Integer, nullable=False, server_default="-1"),
    Column("action", String(64), nullable=False),
    Column("output", JSONB),
    Column("try_number", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("dag_id", "run_id", "task_id", "map_index"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("recipient", String(200)),
    Column("level", String(16), nullable=False, server_default="info"),
    Column("title", String(500), nullable=False),
    Column("body", Text),
    Column("link", Text),
    Column("workflow_key", String(63)),
    Column("dag_id", String(250)),
    Column("run_id", String(250)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("read_at", DateTime(timezone=True)),
)

round_robin = Table(
    "round_robin",
    metadata,
    Column("key", String(250), primary_key=True),
    Column("position", BigInteger, nullable=False, server_default="0"),
)

#: The event ledger: the source of truth of record events; emitted once as partitioned asset events.
events = Table(
    "events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("entity", String(63), nullable=False),
    Column("entity_id", String(200)),
    Column("event", String(63), nullable=False),
    Column("old_data", JSONB),
    Column("new_data", JSONB),
    Column("actor", String(200)),
    Column("origin_workflow", String(63)),
    Column("depth", Integer, nullable=False, server_default="0"),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("emitted_at", DateTime(timezone=True)),
    Column("emit_note", Text),
    #: Where the event came from (api, cli, outbox, a webhook); the emitter emits every kind on NOTIFY.
    Column("source", String(16), nullable=False, server_default="outbox"),
)

#: What each workflow did with each event (ran, or why not): claimed once, so one run per pair.
event_runs = Table(
    "event_runs",
    metadata,
    Column("event_id", BigInteger, nullable=False),
    Column("workflow_key", String(63), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("reason", Text),
    Column("decided_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("event_id", "workflow_key"),
)

throttle_state = Table(
    "throttle_state",
    metadata,
    Column("workflow_key", String(63), nullable=False),
    Column("scope_key", String(250), nullable=False),
    Column("last_event_id", BigInteger, nullable=False),
    Column("last_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("workflow_key", "scope_key"),
)

#: Why a step attempt failed (class and message), written by the step's failure callback; Airflow
#: itself keeps no error message on a task instance.
step_failures = Table(
    "step_failures",
    metadata,
    Column("dag_id", String(250), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("task_id", String(250), nullable=False),
    Column("map_index", Integer, nullable=False, server_default="-1"),
    Column("try_number", Integer, nullable=False),
    Column("error_class", String(200), nullable=False),
    Column("message", Text, nullable=False),
    Column("will_retry", Boolean, nullable=False, server_default="false"),
    Column("failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("dag_id", "run_id", "task_id", "map_index", "try_number"),
)

#: Step notices already sent; `attempt` is 0 for a success notice, which a clear does not repeat.
step_notices = Table(
    "step_notices",
    metadata,
    Column("dag_id", String(250), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("task_id", String(250), nullable=False),
    Column("map_index", Integer, nullable=False, server_default="-1"),
    Column("kind", String(16), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("dag_id", "run_id", "task_id", "map_index", "kind", "attempt"),
)

#: Consecutive failed runs of each workflow; `alerting` once the alert went out, until a success.
workflow_health = Table(
    "workflow_health",
    metadata,
    Column("workflow_key", String(63), primary_key=True),
    Column("failure_streak", Integer, nullable=False, server_default="0"),
    Column("alerting", Boolean, nullable=False, server_default="false"),
    Column("last_run_id", String(250)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

#: Daily and weekly statistics, one row per kind and period (a re-run or backfill replaces it).
reports = Table(
    "reports",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("period_start", DateTime(timezone=True), nullable=False),
    Column("period_end", DateTime(timezone=True), nullable=False),
    Column("data", JSONB, nullable=False),
    Column("emailed_to", JSONB),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("kind", "period_start", name="uq_reports_kind_period"),
)

#: Where a poll workflow's next poll starts: the greatest cursor value its polls stored events for.
#: `scope` says which request and field it belongs to (another one starts from the beginning).
poll_cursors = Table(
    "poll_cursors",
    metadata,
    Column("workflow_key", String(63), primary_key=True),
    Column("scope", Text, nullable=False),
    Column("cursor", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

#: Every delivery of a notice or notification to one channel: what went out, how it went, each attempt.
notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("channel", String(250), nullable=False),
    Column("notification_id", BigInteger),
    Column("recipient", String(200)),
    Column("recipients", JSONB, nullable=False, server_default="[]"),
    Column("level", String(16), nullable=False, server_default="info"),
    Column("title", String(500), nullable=False),
    Column("body", Text),
    Column("link", Text),
    Column("workflow_key", String(63)),
    Column("dag_id", String(250)),
    Column("run_id", String(250)),
    Column("status", String(16), nullable=False),
    Column("error", Text),
    Column("attempt", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("read_at", DateTime(timezone=True)),
)
