"""Delivery log: each notice or notification sent to each channel, with status, error and attempt.

Revision ID: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

S = "automation"


def upgrade() -> None:
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(250), nullable=False),
        sa.Column("notification_id", sa.BigInteger),
        sa.Column("recipient", sa.String(200)),
        sa.Column("recipients", JSONB, nullable=False, server_default="[]"),
        sa.Column("level", sa.String(16), nullable=False, server_default="info"),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("body", sa.Text),
        sa.Column("link", sa.Text),
        sa.Column("workflow_key", sa.String(63)),
        sa.Column("dag_id", sa.String(250)),
        sa.Column("run_id", sa.String(250)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        schema=S,
    )
    op.create_index("ix_notification_deliveries_recipient", "notification_deliveries", ["recipient", "id"], schema=S)
    op.create_index("ix_notification_deliveries_workflow", "notification_deliveries", ["workflow_key", "id"], schema=S)
    op.create_index("ix_notification_deliveries_status", "notification_deliveries", ["status", "id"], schema=S)


def downgrade() -> None:
    op.drop_table("notification_deliveries", schema=S)
