"""The event ledger (with a NOTIFY on insert for the emitter), per-workflow event outcomes,
throttle state.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "automation"


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
        sa.Column("entity", sa.String(63), nullable=False),
        sa.Column("entity_id", sa.String(200)),
        sa.Column("event", sa.String(63), nullable=False),
        sa.Column("old_data", JSONB),
        sa.Column("new_data", JSONB),
        sa.Column("actor", sa.String(200)),
        sa.Column("origin_workflow", sa.String(63)),
        sa.Column("depth", sa.Integer, nullable=False, server_default="0"),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("emitted_at", sa.DateTime(timezone=True)),
        sa.Column("emit_note", sa.Text),
        sa.Column("source", sa.String(16), nullable=False, server_default="outbox"),
        schema=S,
    )
    op.create_index("ix_events_unemitted", "events", ["id"], schema=S, postgresql_where=sa.text("emitted_at IS NULL"))
    op.create_index("ix_events_entity", "events", ["entity", "entity_id", "received_at"], schema=S)
    op.execute(
        f"""
        CREATE FUNCTION {S}.notify_event() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('automation_events', NEW.id::text);
            RETURN NEW;
        END $$ LANGUAGE plpgsql;
        CREATE TRIGGER events_notify AFTER INSERT ON {S}.events
            FOR EACH ROW EXECUTE FUNCTION {S}.notify_event();
        """
    )
    op.create_table(
        "event_runs",
        sa.Column("event_id", sa.BigInteger, nullable=False),
        sa.Column("workflow_key", sa.String(63), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("event_id", "workflow_key"),
        schema=S,
    )
    op.create_table(
        "throttle_state",
        sa.Column("workflow_key", sa.String(63), nullable=False),
        sa.Column("scope_key", sa.String(250), nullable=False),
        sa.Column("last_event_id", sa.BigInteger, nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workflow_key", "scope_key"),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("throttle_state", schema=S)
    op.drop_table("event_runs", schema=S)
    op.execute(f"DROP TRIGGER IF EXISTS events_notify ON {S}.events; DROP FUNCTION IF EXISTS {S}.notify_event()")
    op.drop_table("events", schema=S)
